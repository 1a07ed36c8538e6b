"""Arrayed-model benchmark (issue 11; not a test).

Model: ``benchmarks/models/country_chain.mdl``, a capability/trust chain per
country over a 193-element dimension (2 arrayed stocks, an arrayed SMOOTH, SUM
over countries; 2000-2050 with a 1/8-year step = 400 Euler steps).

Measures, in one process and one run of this script:

* one engine run with every variable as output (what ``Model.run`` does with
  the vectorised engine) against PySD's ``run()`` of the same model (target
  >= 20x); ``pvsd.Model.run`` itself too when this checkout supports it;
* an ensemble of 1,000 members (two arrayed constants perturbed per country
  and member; Capability and Trust saved yearly) in one vectorised pass
  against PySD one run at a time (a few PySD runs timed and scaled; target
  >= 500x per member), with the first members checked against those PySD runs;
* peak memory of the ensemble pass (numpy allocations via tracemalloc, and the
  process's peak resident set).

Usage::

    python benchmarks/arrays.py            # about a minute on 2 cores
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "benchmarks" / "models" / "country_chain.mdl"
N = 1000
PYSD_RUNS = 3  # PySD ensemble members actually run (then scaled to N)
PERTURBED = ("investment_rate", "expectation")
OUTPUTS = ("capability", "trust")


def _machine() -> str:
    import pysd

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"Machine: {cpu}; {os.cpu_count()} logical CPUs; {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}; numpy {np.__version__}; "
            f"PySD {pysd.__version__}; load average at start {load:.2f}")


def _pysd_values(frame, ir, name: str) -> np.ndarray:
    var = ir.variables[name]
    return np.stack([np.asarray(c.transpose(*var.dims).values, float) for c in frame[name]])


def main() -> None:
    import pysd
    import xarray as xr

    sys.path.insert(0, str(ROOT))
    from pvsd.engine.ir import ir_from_file
    from pvsd.engine.numpy_backend import Simulator

    warnings.simplefilter("ignore")
    print(_machine())
    work = Path(tempfile.mkdtemp(prefix="pvsd-bench-arrays-"))
    shutil.copy(MODEL, work / MODEL.name)
    plain = pysd.read_vensim(str(work / MODEL.name))  # translation not timed
    ir = ir_from_file(MODEL)
    sim = Simulator(ir)
    dim = ir.variables["capability"].dims[0]
    print(f"Model: {MODEL.relative_to(ROOT)}; dimension {dim!r} with "
          f"{len(ir.subscripts[dim])} elements; "
          f"{sum(1 for v in ir.variables.values() if v.shape)} arrayed variables")

    # -- one run, every variable -------------------------------------------------
    t = time.perf_counter()
    ref = plain.run(flatten_output=False, progress=False)
    t_pysd = time.perf_counter() - t
    outs = [v.py_name for v in ir.variables.values() if v.kind not in ("lookup", "data")]
    t = time.perf_counter()
    sim.run(outputs=outs, save_times=list(ref.index))
    t_first = time.perf_counter() - t
    reps = []
    for _ in range(5):
        t = time.perf_counter()
        _g, vals = sim.run(outputs=outs, save_times=list(ref.index))
        reps.append(time.perf_counter() - t)
    t_eng = statistics.median(reps)
    worst = 0.0
    for o in outs:
        if ir.variables[o].shape:
            want = _pysd_values(ref.rename(columns={ir.variables[o].name: o}), ir, o)
            got = vals[o][:, 0]
            worst = max(worst, float(np.max(np.abs(got - want) / np.maximum(np.abs(want),
                                                                             1e-300))))
    model_run = None
    try:
        import pvsd

        m = pvsd.load(MODEL)
        m.run()  # first use: translation cache, compilation, safety net
        reps = []
        for _ in range(3):
            t = time.perf_counter()
            res = m.run()
            reps.append(time.perf_counter() - t)
        if res.provenance.get("engine", "vectorized") != "pysd":
            model_run = statistics.median(reps)
    except Exception as exc:  # this checkout's Model.run may not handle arrays yet
        print(f"(pvsd.Model.run not measured: {type(exc).__name__}: {str(exc)[:80]})")

    # -- ensemble of N members ---------------------------------------------------
    rng = np.random.default_rng(11)
    base = sim.run(outputs=list(PERTURBED), n=1)[1]
    params = {p: base[p][0, 0][None, :] * rng.uniform(0.8, 1.2, (N, len(ir.subscripts[dim])))
              for p in PERTURBED}
    years = list(np.arange(2000, 2051, 1.0))
    sim.run(params, outputs=list(OUTPUTS), save_times=years)  # compile this configuration
    tracemalloc.start()
    t = time.perf_counter()
    _g, ens = sim.run(params, outputs=list(OUTPUTS), save_times=years)
    t_ens = time.perf_counter() - t
    _cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result_mb = sum(a.nbytes for a in ens.values()) / 2**20

    coords = {dim: list(ir.subscripts[dim])}
    pysd_times = []
    worst_ens = 0.0
    for i in range(PYSD_RUNS):
        pp = {p: xr.DataArray(params[p][i], coords, [dim]) for p in PERTURBED}
        m = pysd.load(str(work / (MODEL.stem + ".py")))
        t = time.perf_counter()
        r = m.run(params=pp, return_columns=list(OUTPUTS), return_timestamps=years,
                  flatten_output=False, progress=False)
        pysd_times.append(time.perf_counter() - t)
        for o in OUTPUTS:
            want = _pysd_values(r, ir, o)
            got = ens[o][:, i]
            worst_ens = max(worst_ens, float(np.max(np.abs(got - want) / np.abs(want))))
    t_pysd_member = statistics.mean(pysd_times)

    print()
    print(f"{'case':52s} {'seconds':>10s}")
    print(f"{'plain PySD run() (all variables)':52s} {t_pysd:10.3f}")
    print(f"{'engine run, all variables (first call, compiles)':52s} {t_first:10.3f}")
    print(f"{'engine run, all variables (median of 5)':52s} {t_eng:10.4f}")
    if model_run is not None:
        print(f"{'pvsd Model.run() (median of 3)':52s} {model_run:10.4f}")
    rows = [(f"plain PySD, one ensemble member (mean of {PYSD_RUNS})", f"{t_pysd_member:10.3f}"),
            (f"plain PySD, {N} members one at a time (scaled)", f"{t_pysd_member * N:10.1f}"),
            (f"engine, {N} members in one pass", f"{t_ens:10.3f}")]
    for label, value in rows:
        print(f"{label:52s} {value}")
    print()
    print("Ratios (measured in this run):")
    print(f"  single run: engine {t_pysd / t_eng:,.0f}x faster than PySD run() (target >= 20x)")
    if model_run is not None:
        print(f"  single run: pvsd Model.run {t_pysd / model_run:,.0f}x faster than PySD run()")
    per_member = t_ens / N
    print(f"  ensemble: {per_member * 1e3:.3f} ms per member vs PySD {t_pysd_member * 1e3:,.0f} ms"
          f" -> {t_pysd_member / per_member:,.0f}x per member (target >= 500x)")
    print(f"  peak memory of the {N}-member pass: {peak / 2**20:,.0f} MiB numpy/Python "
          f"allocations (result arrays {result_mb:,.0f} MiB); process peak RSS {rss:,.0f} MiB")
    print(f"  agreement with PySD: single run max rel. diff {worst:.1e}; ensemble members "
          f"0-{PYSD_RUNS - 1} max rel. diff {worst_ens:.1e}")


if __name__ == "__main__":
    main()
