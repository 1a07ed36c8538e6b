"""Numerics benchmark (not a test): DELAY FIXED on the fast path, RK4 cost, range checks.

Cases, on ``benchmarks/models/seir_delay_fixed.mdl`` (a Cumberland-1918-style SEIR whose
latency and recovery are DELAY FIXED pipelines, 1,920 steps of 1/16 day):

* plain PySD one run at a time (what pvsd did before: the per-run fallback);
* pvsd vectorised ensemble, Euler, N members (DELAY FIXED vectorised);
* the same ensemble with RK4 (4 evaluations per step);
and on the reference model, a vectorised ensemble with and without the every-step range
check (``PVSD_BENCH_NO_RANGES=1`` removes the declared ranges from the IR). Then, for
``tests/models/macro_stocks.mdl`` (five macro calls, six stocks inside macros, one nested
call) and ``tests/models/delayn_varying.mdl`` (two DELAY N with time-varying delay times, a
DELAY FIXED), the vectorised ensemble against plain PySD one run at a time (both were on the
per-run PySD fallback before issue 12 item 8).

Usage::

    python benchmarks/numerics.py           # N = 2,000 members, 20 PySD runs
    python benchmarks/numerics.py --quick   # N = 500, 5 PySD runs
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SEIR = ROOT / "benchmarks" / "models" / "seir_delay_fixed.mdl"
MACRO = ROOT / "tests" / "models" / "macro_stocks.mdl"
DELAYN = ROOT / "tests" / "models" / "delayn_varying.mdl"


def _samples(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # one latent/infectious period for all members (DELAY FIXED pipes share their length)
    return pd.DataFrame({"Contact Rate": rng.uniform(2, 6, n), "Infectivity": rng.uniform(0.05, 0.2, n)})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, n_pysd = (500, 5) if args.quick else (2000, 20)
    warnings.simplefilter("ignore")
    import pysd

    import pvsd
    from pvsd.engine import engine_for

    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores shared)")
    m = pvsd.load(SEIR)
    print(f"model: {SEIR.name}; vectorised: {engine_for(m).vectorized} {engine_for(m).reason}")
    samples = _samples(n)
    outs = ["Susceptible", "Exposed", "Infectious", "Recovered"]

    pm = pysd.load(str(m.source.py_path))
    t = time.perf_counter()
    for i in range(n_pysd):
        pm.run(params={"contact_rate": float(samples["Contact Rate"][i]),
                       "infectivity": float(samples["Infectivity"][i])},
               return_columns=[m._py[o] for o in outs], progress=False)
    pysd_per = (time.perf_counter() - t) / n_pysd

    m.run_ensemble(samples.head(4), outputs=outs, progress=False)  # compile + safety net
    rows = []
    for meth in ("euler", "rk4"):
        t = time.perf_counter()
        m.run_ensemble(samples, outputs=outs, progress=False, method=meth)
        dt = time.perf_counter() - t
        rows.append((f"pvsd ensemble {meth} N={n}", n, dt, n / dt))
    print(f"{'case':40s} {'runs':>7s} {'seconds':>9s} {'runs/s':>10s}")
    print(f"{'plain PySD one by one':40s} {n_pysd:7d} {pysd_per * n_pysd:9.3f} {1 / pysd_per:10.1f}")
    for name, runs, sec, rate in rows:
        print(f"{name:40s} {runs:7d} {sec:9.3f} {rate:10.1f}")
    print(f"speed-up, Euler ensemble vs PySD one by one: {rows[0][3] * pysd_per:.0f}x")
    print(f"cost of RK4 vs Euler (same step): {rows[1][2] / rows[0][2]:.2f}x")

    # every-step range check overhead on the reference model
    ref = pvsd.load("public_value_chain")
    rs = pd.DataFrame({"Trust Shock Size": np.linspace(0, 0.5, n)})
    ref.run_ensemble(rs.head(2), progress=False)
    eng = engine_for(ref)
    t = time.perf_counter()
    ref.run_ensemble(rs, progress=False)
    with_ranges = time.perf_counter() - t
    saved = {k: v.limits for k, v in eng.ir.variables.items()}
    try:
        for v in eng.ir.variables.values():
            if v.kind != "constant":
                v.limits = (None, None)
        eng.simulator._cache.clear()
        ref.run_ensemble(rs.head(2), progress=False)
        t = time.perf_counter()
        ref.run_ensemble(rs, progress=False)
        without = time.perf_counter() - t
    finally:
        for k, lim in saved.items():
            eng.ir.variables[k].limits = lim
        eng.simulator._cache.clear()
    print(f"reference model ensemble N={n}: {with_ranges:.3f} s with the every-step range check, "
          f"{without:.3f} s without ({with_ranges / without:.2f}x)")

    rng = np.random.default_rng(1)
    _versus_pysd(MACRO, pd.DataFrame({"Smoothing Time": rng.uniform(1, 8, n),
                                      "Adjustment Time": rng.uniform(2, 10, n)}),
                 ["Capacity", "Nested", "Perceived Trend"], n_pysd)
    _versus_pysd(DELAYN, pd.DataFrame({"Base Delay": rng.uniform(2, 7, n)}),
                 ["In Transit", "Received", "Backlog"], n_pysd)


def _versus_pysd(path: Path, samples: pd.DataFrame, outs: list[str], n_pysd: int) -> None:
    """Vectorised ensemble (Euler, RK4) vs plain PySD one run at a time, on one model."""
    import pysd

    import pvsd
    from pvsd.engine import engine_for

    m = pvsd.load(path)
    eng = engine_for(m)
    n = len(samples)
    print(f"\nmodel: {path.name}; vectorised: {eng.vectorized} {eng.reason}")
    pm = pysd.load(str(m.source.py_path))
    cols = [m._py[o] for o in outs]
    t = time.perf_counter()
    for i in range(n_pysd):
        pm.run(params={m._py[k]: float(samples[k].iloc[i]) for k in samples.columns},
               return_columns=cols, progress=False)
    pysd_per = (time.perf_counter() - t) / n_pysd
    m.run_ensemble(samples.head(4), outputs=outs, progress=False)  # compile + safety net
    print(f"{'case':40s} {'runs':>7s} {'seconds':>9s} {'runs/s':>10s}")
    print(f"{'plain PySD one by one':40s} {n_pysd:7d} {pysd_per * n_pysd:9.3f} {1 / pysd_per:10.1f}")
    rates = {}
    for meth in ("euler", "rk4"):
        t = time.perf_counter()
        ds = m.run_ensemble(samples, outputs=outs, progress=False, method=meth)
        sec = time.perf_counter() - t
        rates[meth] = n / sec
        label = f"pvsd ensemble {meth} N={n} ({ds.attrs['engine']})"
        print(f"{label:40s} {n:7d} {sec:9.3f} {n / sec:10.1f}")
    print(f"speed-up, Euler ensemble vs PySD one by one: {rates['euler'] * pysd_per:.0f}x")


if __name__ == "__main__":
    main()
