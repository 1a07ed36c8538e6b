"""Benchmark: policy search and PRIM on the reference model, beside plain PySD.

    python benchmarks/policy.py            # 20 generations x 100 members; PRIM on 10,000 members
    python benchmarks/policy.py --quick    # 5 x 40; PRIM on 2,000

Cases, in one process and one run (ratios are meaningful under load; absolute times are not):

1. ``pvsd optimize``-equivalent: differential evolution, 4 constant pathway levers, a budget on
   total effort, Cumulative Public Value in 2040 maximised: each generation one vectorised ensemble.
2. The same search with time-varying levers: two steps (year 2020-2035 and level free) and two
   ramps (start 2020-2030, duration 0-10 years, level free). Each member has its own lever paths;
   each generation is still one vectorised ensemble (per-member time functions in the engine).
3. ``pvsd discover``-equivalent: a 10,000-member uncertainty ensemble under the technology-first
   scenario, then PRIM (and CART on the same ensemble, timed beside PRIM).
4. Plain PySD (``pysd.load`` of the translated model, ``run(params=...)``): a sample of runs is
   timed and scaled to the same number of runs as each case (stated in the output); for the
   time-varying case PySD gets the same kind of settings (a time-indexed ``pandas.Series`` per
   lever, PySD's own form of a time-varying parameter).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LEVERS = ["Technology Investment", "Organisational Reform Effort", "Coproduction Programme",
          "Agile Capability Programme"]


STEP = {"type": "step", "year": [2020, 2035], "level": [0, 1]}
RAMP = {"type": "ramp", "start": [2020, 2030], "duration": [0, 10], "level": [0, 1]}


def spec(pop: int, gens: int, step: bool) -> dict:
    levers = ({n: dict(STEP if i < 2 else RAMP) for i, n in enumerate(LEVERS)} if step
              else {n: {"lower": 0, "upper": 1} for n in LEVERS})
    return {"settings": {"population": pop, "generations": gens, "seed": 1},
            "levers": levers,
            "objectives": [{"variable": "Cumulative Public Value", "stat": "at", "time": 2040, "sense": "max"}],
            "constraints": [{"budget": 1.6}]}


def pysd_seconds_per_run(model, sample: int, timevarying: bool = False) -> float:
    """Mean seconds of one plain PySD run (levers and outputs as in the search), after a warm-up.

    ``timevarying``: two step and two ramp levers as time-indexed ``pandas.Series``.
    """
    import pandas as pd
    import pysd

    from pvsd.timefunc import Ramp, Step

    py = dict(zip(model.variables["name"], model.variables["py_name"], strict=True))
    rng = np.random.default_rng(0)

    def setting(i: int, name: str, level: float):
        if not timevarying:
            return float(level)
        f = Step(float(rng.uniform(2020, 2035)), level) if i < 2 else \
            Ramp(a := float(rng.uniform(2020, 2030)), a + float(rng.uniform(0.1, 10)), level)
        x, y = model.check_param(name, f)[1].arrays()
        return pd.Series(y, index=x)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pysd.load(str(model.source.py_path))
        m.run(return_columns=[py["Cumulative Public Value"]])
        t = time.perf_counter()
        for _ in range(sample):
            m.run(params={py[n]: setting(i, n, float(v))
                          for i, (n, v) in enumerate(zip(LEVERS, rng.uniform(0, 0.4, 4), strict=True))},
                  return_columns=[py["Cumulative Public Value"]])
        return (time.perf_counter() - t) / sample


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    import pysd

    import pvsd
    from pvsd.policy import discover, optimize

    pop, gens, n_prim, sample = (40, 5, 2000, 5) if a.quick else (100, 20, 10_000, 20)
    # the 10,000-member discover ensemble is just above the default work limit (a prompt, not a
    # fault): the benchmark runs it as a user who passed --force-long would
    os.environ.setdefault("PVSD_MAX_WORK", "1e10")
    model = pvsd.load("public_value_chain")
    model.run()  # warm-up: engine build and first-use check
    print(f"Machine: {platform.processor() or platform.machine()}; {os.cpu_count()} logical CPUs; "
          f"Python {platform.python_version()}; numpy {np.__version__}; PySD {pysd.__version__}; "
          f"load average {os.getloadavg()[0]:.1f}")
    rows = []
    t = time.perf_counter()
    r = optimize(model, spec(pop, gens, step=False), progress=False)
    rows.append(("optimize, constant levers (DE)", r.n_runs, time.perf_counter() - t, r.best.iloc[-1]))
    t = time.perf_counter()
    r2 = optimize(model, spec(pop, gens, step=True), progress=False)
    rows.append(("optimize, 2 step + 2 ramp levers (DE)", r2.n_runs, time.perf_counter() - t,
                 r2.best.iloc[-1], "tv"))
    here = ROOT / "models"
    t = time.perf_counter()
    d = discover(model, {"uncertainties": str(here / "public_value_chain_sensitivity.toml"),
                         "settings": {"n": n_prim, "seed": 2},
                         "policy": {"scenarios": str(here / "scenarios" / "public_value_chain.toml"),
                                    "scenario": "technology_alone"},
                         "case": {"variable": "Public Trust", "stat": "at", "time": 2040,
                                  "below": {"variable": "Public Trust", "stat": "at", "time": 2025}}},
                 progress=False)
    rows.append((f"discover: ensemble + PRIM (PRIM {d.prim_seconds:.2f} s)", n_prim, time.perf_counter() - t,
                 d.prim.stats["density"]))
    c = d.with_method("cart")  # the same ensemble, boxes from a classification tree
    print(f"CART on the same {n_prim:,} members: {c.prim_seconds:.2f} s (PRIM {d.prim_seconds:.2f} s); "
          f"chosen box density {c.stats['density']:.3f}, coverage {c.stats['coverage']:.3f} "
          f"(PRIM: {d.stats['density']:.3f}, {d.stats['coverage']:.3f}).")
    per = pysd_seconds_per_run(model, sample)
    per_tv = pysd_seconds_per_run(model, sample, timevarying=True)
    print(f"Plain PySD: {sample} runs timed each, {per * 1000:.0f} ms per run with constant levers, "
          f"{per_tv * 1000:.0f} ms with step/ramp levers (Series); scaled to each case's run count.\n")
    print(f"{'case':48s} {'runs':>8s} {'pvsd s':>9s} {'PySD s (scaled)':>16s} {'speed-up':>9s}  result")
    for name, n, sec, val, *kind in rows:
        p = per_tv if kind else per
        print(f"{name:48s} {n:8,d} {sec:9.2f} {n * p:16.1f} {n * p / sec:8.1f}x  {val:.4g}")
    print(f"\nconstant-lever optimum: {r.summary().splitlines()[1]}")


if __name__ == "__main__":
    main()
