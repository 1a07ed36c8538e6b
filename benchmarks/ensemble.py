"""Ensemble benchmark on the reference model (not a test).

Prints runs per second and peak memory (resident set size of a fresh process
per case) for: plain PySD one run at a time, pvsd single runs, pvsd vectorised
ensembles at N = 100, 1,000, 10,000, 100,000, and a hand-written numpy Euler
integration of the same equations (the practical limit), with the ratios.

Usage::

    python benchmarks/ensemble.py            # all cases (a few minutes on 2 cores)
    python benchmarks/ensemble.py --quick    # smaller N, fewer repetitions

Every case saves 10 stocks at yearly resolution; 8 constants are sampled.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "public_value_chain.mdl"
SAMPLED = [
    "Technology Investment", "Organisational Reform Effort", "Coproduction Programme",
    "Agile Capability Programme", "Evaluation Quality", "Corrective Action Strength",
    "Trust Adjustment Time", "Aspiration Premium",
]


def _samples(model, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    table = model.variables.set_index("name")
    out = {}
    for c in SAMPLED:
        d = model.default(c)
        lo, hi = table.loc[c, "min"], table.loc[c, "max"]
        v = d * rng.uniform(0.8, 1.2, n)
        out[c] = np.clip(v, lo if np.isfinite(lo) else -np.inf, hi if np.isfinite(hi) else np.inf)
    return out


def _outputs(model) -> list[str]:
    return model.stocks[:10]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------- cases

def case_pysd(reps: int) -> dict:
    import pysd

    import pvsd

    model = pvsd.load(MODEL)
    s = _samples(model, reps)
    py = dict(zip(model.variables["name"], model.variables["py_name"], strict=True))
    outs = [py[o] for o in _outputs(model)]
    times = list(model.check_times(saveper=1.0)[3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pysd.load(str(model.source.py_path))
        m.run(return_columns=outs, return_timestamps=times)  # warm-up
        t = time.perf_counter()
        for i in range(reps):
            m.run(params={py[c]: float(s[c][i]) for c in SAMPLED}, return_columns=outs,
                  return_timestamps=times, final_time=model.final_time)
        el = time.perf_counter() - t
    return {"runs": reps, "seconds": el}


def case_single(reps: int) -> dict:
    import pvsd

    model = pvsd.load(MODEL)
    s = _samples(model, reps)
    outs = _outputs(model)
    model.run(outputs=outs, saveper=1.0)  # warm-up: engine build, first-use check
    t = time.perf_counter()
    for i in range(reps):
        model.run(params={c: float(s[c][i]) for c in SAMPLED}, outputs=outs, saveper=1.0)
    el = time.perf_counter() - t
    return {"runs": reps, "seconds": el}


def case_vectorized(n: int) -> dict:
    import pandas as pd

    import pvsd

    model = pvsd.load(MODEL)
    frame = pd.DataFrame(_samples(model, n))
    outs = _outputs(model)
    model.run_ensemble(frame.iloc[:2], outputs=outs, save_every=1.0)  # warm-up + first-use check
    t = time.perf_counter()
    ds = model.run_ensemble(frame, outputs=outs, save_every=1.0, check=False, progress=False)
    el = time.perf_counter() - t
    assert ds.attrs["engine"] == "vectorized"
    return {"runs": n, "seconds": el, "dataset_mb": ds.nbytes / 2**20}


def handwritten(p: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The reference model written by hand in numpy (Euler, dt = 1/32, yearly saves)."""
    t0, t1, dt = 2000.0, 2050.0, 0.03125
    tech, reform = p["Technology Investment"], p["Organisational Reform Effort"]
    coprod, agile_prog = p["Coproduction Programme"], p["Agile Capability Programme"]
    evq, cas = p["Evaluation Quality"], p["Corrective Action Strength"]
    tat, asp = p["Trust Adjustment Time"], p["Aspiration Premium"]
    lx = np.array([-0.5, -0.3, -0.15, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5])
    ly = np.array([0.97, 0.92, 0.82, 0.62, 0.45, 0.3, 0.18, 0.1, 0.05])
    collab = np.full(n, 0.15)
    dig = np.full(n, 0.1)
    trust = np.full(n, 0.5)
    agile = np.full(n, 0.2)
    vu = np.full(n, 0.3)
    expect = np.full(n, 0.45)
    sq = np.full(n, 0.35)
    fit = np.full(n, 0.3)
    mp = evq * sq + (1 - evq) * dig
    hc = np.full(n, 0.5)
    tref = trust.copy()
    cpv = np.zeros(n)
    agile_drive = 1 - (1 - agile_prog) * (1 - 0.1)
    trad_w = 1 - 0.35 - 0.15 - 0.15
    shock_int = -np.log(1 - 0.0) / 1.0
    nsteps = round((t1 - t0) / dt)
    per_year = round(1 / dt)
    out = np.empty((nsteps // per_year + 1, 10, n))
    t = t0
    for i in range(nsteps + 1):
        if i % per_year == 0:
            out[i // per_year] = (agile, collab, cpv, dig, hc, mp, expect, trust, sq, fit)
        if i == nsteps:
            break
        channels = (dig + collab) / 2
        particip = trust * (0.3 + 0.7 * channels)
        signal = 0.6 * particip + 0.4 * agile
        vu_in = signal * (1 - vu) / 3.0 - vu / 6.0
        exp_in = (sq + asp * (1 - sq) - expect) / 4.0
        budget = 0.3 + 0.7 * trust
        uptake = dig * (0.7 + 0.3 * particip)
        building = tech * budget * (0.02 + 0.98 * uptake) * (1 - dig) / 0.75
        gap = vu * np.maximum(0, expect - mp)
        corrective = 1 - np.exp(-cas * gap)
        reform_i = (1 - (1 - reform) * 0.9 * (1 - 0.3 * corrective)) * (1 - 0.5 * hc)
        fit_in = reform_i * (1 - fit) / 5.0 - fit * building * 0.3
        drive = (1 - (1 - coprod) * (1 - 0.3 * particip)) * (1 - 0.4 * hc)
        collab_in = drive * (1 - collab) / 4.0 - collab / 8.0
        agile_in = agile_drive * (1 - agile) / 3.0 - agile * (1 + 1.5 * hc) / 6.0
        resp = np.sqrt(agile * vu)
        potential = trad_w * 0.65 + 0.35 * dig * fit + 0.15 * collab + 0.15 * resp
        redesign = 0.6 * corrective * agile
        sq_in = (potential + (1 - potential) * redesign - sq) / 2.0
        mp_in = (evq * sq + (1 - evq) * dig - mp) / 3.0
        sat_gap = expect - sq
        satisfaction = 0.5 * sq + 0.5 * np.interp(sat_gap, lx, ly)
        driver = 0.6 * satisfaction + 0.4 * 0.65
        repair = resp * np.maximum(0, tref - trust) / 1.0
        erosion = (1 - driver) * trust * 1.25 / tat
        pulse = 1.0 if 2030.0 - 1e-6 <= t < 2031.0 else 0.0
        trust_in = driver * (1 - trust) / tat + repair - erosion - trust * shock_int * pulse
        pvi = (sq + satisfaction + trust) / 3.0
        pressure = 1 - np.exp(-(3.0 * np.maximum(0, sat_gap) + dig * (1 - fit)))
        hc_in = pressure * (1 - hc) / 5.0 - (1 - pressure) * hc * (1 + collab) / 5.0
        tref_in = (trust - tref) / 5.0
        vu = vu + vu_in * dt
        expect = expect + exp_in * dt
        dig = dig + (building - dig / 15.0) * dt
        fit = fit + fit_in * dt
        collab = collab + collab_in * dt
        agile = agile + agile_in * dt
        sq = sq + sq_in * dt
        mp = mp + mp_in * dt
        trust = trust + trust_in * dt
        tref = tref + tref_in * dt
        cpv = cpv + pvi * dt
        hc = hc + hc_in * dt
        t = t + dt
    return np.arange(t0, t1 + 0.5, 1.0), out


def case_numpy(n: int) -> dict:
    import pvsd

    model = pvsd.load(MODEL)
    s = _samples(model, n)
    handwritten({k: v[:2] for k, v in s.items()}, 2)  # warm-up
    t = time.perf_counter()
    _, out = handwritten(s, n)
    el = time.perf_counter() - t
    # sanity: the hand-written model is the same model (close to pvsd's numbers)
    import pandas as pd

    ds = model.run_ensemble(pd.DataFrame({k: v[:3] for k, v in s.items()}), outputs=_outputs(model),
                            save_every=1.0, check=False)
    for j, o in enumerate(_outputs(model)):
        np.testing.assert_allclose(out[:, j, :3].T, ds[o].to_numpy(), rtol=1e-6, atol=1e-9)
    return {"runs": n, "seconds": el}


CASES = {"pysd": case_pysd, "single": case_single, "vectorized": case_vectorized,
         "numpy": case_numpy}


def _run_case(name: str, arg: int) -> dict:
    """Run one case in a fresh interpreter (so peak memory is that case's own)."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, __file__, "--case", name, "--arg", str(arg)],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"case {name} {arg} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = float("nan")
    import numpy
    import pysd

    return (f"{cpu}; {os.cpu_count()} logical CPUs visible; {mem:.0f} GiB RAM; "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}; "
            f"numpy {numpy.__version__}; PySD {pysd.__version__}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--case")
    ap.add_argument("--arg", type=int, default=0)
    a = ap.parse_args()
    if a.case:
        res = CASES[a.case](a.arg)
        res["peak_rss_mb"] = _peak_mb()
        print(json.dumps(res))
        return
    sizes = [100, 1_000, 10_000] if a.quick else [100, 1_000, 10_000, 100_000]
    rows = [("plain PySD, one run at a time", _run_case("pysd", 3 if a.quick else 10))]
    rows.append(("pvsd single runs (Model.run)", _run_case("single", 20 if a.quick else 100)))
    for n in sizes:
        rows.append((f"pvsd vectorised, N={n:,}", _run_case("vectorized", n)))
    numpy_sizes = [10_000] if a.quick else [10_000, 100_000]
    for n in numpy_sizes:
        rows.append((f"hand-written numpy Euler, N={n:,}", _run_case("numpy", n)))
    print(f"Machine: {_machine()}")
    print(f"Model: {MODEL.relative_to(ROOT)}; 10 stocks saved yearly; {len(SAMPLED)} sampled constants")
    print()
    print(f"{'case':<40} {'runs':>8} {'seconds':>9} {'runs/s':>11} {'peak RSS MB':>12}")
    rate = {}
    for label, r in rows:
        rate[label] = r["runs"] / r["seconds"]
        print(f"{label:<40} {r['runs']:>8,} {r['seconds']:>9.3f} {rate[label]:>11,.1f} "
              f"{r['peak_rss_mb']:>12,.0f}")
    base = rate["plain PySD, one run at a time"]
    print()
    print("Ratios (runs/s relative to plain PySD one run at a time):")
    for label, _ in rows[1:]:
        print(f"  {label:<40} {rate[label] / base:>10,.1f}x")
    for n in numpy_sizes:
        v, h = rate[f"pvsd vectorised, N={n:,}"], rate[f"hand-written numpy Euler, N={n:,}"]
        print(f"  pvsd vectorised time / hand-written numpy time at N={n:,}: {h / v:.2f} "
              "(target <= 1.5)")
    print(f"  targets: vectorised N=10,000 >= 300x PySD -> "
          f"{rate['pvsd vectorised, N=10,000'] / base:,.0f}x; "
          f"single run >= 5x PySD -> {rate['pvsd single runs (Model.run)'] / base:.1f}x")


if __name__ == "__main__":
    main()
