"""Ensembles: thousands of runs of one model in one vectorised pass.

Sample columns may hold numbers or, per row, a time function (a lever path per
member, :mod:`pvsd.ensemble.levers`).

:func:`run_ensemble` (also ``Model.run_ensemble``) runs every row of a sample
table and returns an ``xarray.Dataset`` with dimensions ``(run, time)``: one
data variable per requested output, the sampled parameter values as ``run``
coordinates, and the provenance in ``attrs``.

Models the vectorised engine cannot run (subscripts, DELAY FIXED, random
functions, ...) fall back to one plain-PySD run per member in worker
processes; a warning says once which construct in which variable caused it.
"""

from __future__ import annotations

import copy
import math
import time as _time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pvsd.arrays import ArrayPiecewise, split_label
from pvsd.ensemble.executors import (
    RANGES_KEY,
    ChunkTask,
    as_param_arrays,
    default_workers,
    run_dask,
    run_local,
    run_processes,
)
from pvsd.errors import ParameterError, PvsdError, SimulationError
from pvsd.model_checks import outside_range, range_text
from pvsd.timefunc import MemberPiecewise

__all__ = ["EnsembleFallbackWarning", "normalize_samples", "run_ensemble"]

#: Default members per vectorised chunk (in-process).
DEFAULT_CHUNK = 10_000


class EnsembleFallbackWarning(UserWarning):
    """The ensemble runs member by member with plain PySD (and why)."""


def normalize_samples(model: Any, samples: Any) -> tuple[dict[str, np.ndarray], int]:
    """Sample table -> (canonical variable name -> float array of shape (N,), N).

    Accepts a ``pandas.DataFrame`` (rows = members, columns = parameters), a
    mapping of name -> 1-d array, or an object with a ``samples`` DataFrame or a
    ``to_frame()`` method (sampler output). A DataFrame with rows but no columns
    means N runs of the model as it is (useful with a scenario).

    Raises
    ------
    UnknownVariableError
        A column is not a model variable.
    ParameterError
        Empty table, ragged columns, non-finite values, values outside the
        variable's declared range, or a column that is not a settable constant.
    """
    from pvsd.ensemble.levers import as_table

    samples = as_table(samples)
    if not isinstance(samples, (pd.DataFrame, Mapping)):
        raise ParameterError(
            "samples must be a pandas DataFrame (one row per run, one column per "
            f"parameter) or a dict of arrays, got {type(samples).__name__}."
        )
    cols: dict[str, np.ndarray] = {}
    items = samples.items()
    table = model.variables.set_index("name")
    n = len(samples) if isinstance(samples, pd.DataFrame) else None
    for name, values in items:
        canonical = model.resolve(str(name), where="samples")
        if split_label(canonical)[1] is None and canonical in model._dims and \
                table.loc[canonical, "kind"] == "constant" and \
                canonical not in model._array_defaults:
            raise ParameterError(
                f"Sample column {name!r}: the model's values of this arrayed constant could not "
                "be read; sample its elements one by one (e.g. "
                f"{model.elements(canonical)[0]!r})."
            )
        try:
            arr = np.asarray(values, dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise ParameterError(f"Sample column {name!r} must hold numbers.") from None
        if n is None:
            n = arr.size
        elif arr.size != n:
            raise ParameterError(
                f"Sample column {name!r} has {arr.size} values but other columns have {n}."
            )
        row = table.loc[split_label(canonical)[0]]
        if row["kind"] in ("stock", "control", "lookup", "data"):
            raise ParameterError(
                f"{canonical!r} is a {row['kind']} and cannot be sampled; sample the "
                "constants that drive it."
            )
        bad = ~np.isfinite(arr)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ParameterError(f"Sample column {name!r} has a non-finite value in row {i}.")
        lo, hi = float(row["min"]), float(row["max"])
        out = outside_range(arr, lo, hi)
        if out.any():
            i = int(np.flatnonzero(out)[0])
            raise ParameterError(
                f"Sample {canonical!r} = {arr[i]:g} (row {i}) is outside the range the model "
                f"declares for it, {range_text(lo, hi)}."
            )
        if canonical in cols:
            raise ParameterError(f"Sample columns {name!r} and another both name {canonical!r}.")
        cols[canonical] = arr
    if not n:
        raise ParameterError("samples is empty: give at least one row.")
    return cols, n


def _light(model: Any) -> Any:
    """A copy of the model without cached heavy attributes, for pickling to workers."""
    m = copy.copy(model)
    if hasattr(m, "_abstract"):
        m._abstract = None
    return m


def run_ensemble(
    model: Any,
    samples: Any,
    outputs: Sequence[str] | str | None = None,
    scenario: Any = None,
    save_every: float | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    initial_time: float | None = None,
    final_time: float | None = None,
    time_step: float | None = None,
    return_times: Sequence[float] | None = None,
    executor: str = "inprocess",
    scheduler: Any = None,
    workers: int | None = None,
    chunk_size: int | None = None,
    progress: bool | None = None,
    check: bool | None = True,
    seed: int | None = None,
    method: str = "euler",
    allow_long: bool = False,
    _on_client: Any = None,
) -> Any:
    """Run every row of ``samples`` and collect the outputs.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`.
    samples
        ``pandas.DataFrame`` with one row per run and one column per parameter
        (constant), or a dict name -> array. A column may hold a time function
        per row (a :class:`~pvsd.timefunc.Step`, ``Ramp``, ``Table``,
        ``PiecewiseLinear`` or a ``pandas.Series`` indexed by time; numbers in
        such a column are constant paths; a ready
        :class:`~pvsd.timefunc.MemberPiecewise` in a dict is taken as it is):
        every member follows its own lever path, and the whole table still runs
        in one vectorised pass (the PySD fallback sets each member's own path).
        A Step or Ramp without ``before``/``start_value`` starts from the model's
        value of the constant. The ``run`` coordinate of such a column describes
        each row's setting (e.g. ``"step to 0.8 in 2025"``).
    outputs
        Variables to keep (default: the model's stocks). Only these, at the
        save times, are stored.
    scenario
        A :class:`pvsd.Scenario` applied to every run (sample columns win).
    save_every
        Save period (default: the model's SAVEPER).
    params
        Fixed overrides for every run (numbers or time functions); sample
        columns win over them, they win over the scenario.
    initial_time, final_time, time_step, return_times
        Time settings for these runs only.
    executor
        ``"inprocess"`` (default), ``"processes"`` (local process pool) or
        ``"dask"`` (Dask distributed; a ``LocalCluster`` unless ``scheduler``). A
        scheduler address such as ``"tcp://host:8786"`` also means Dask, on that
        cluster, so analyses that pass ``executor`` through reach remote clusters.
    scheduler
        Dask scheduler address (``"tcp://host:8786"``) or ``distributed.Client``.
    workers
        Worker processes for ``"processes"``, local Dask clusters and the
        per-run fallback (default: at most 2).
    chunk_size
        Members per chunk (default 10,000 in process; N / (4 * workers) for
        pools and Dask).
    progress
        Show a progress bar (None: when the ensemble takes over a second and
        standard error is a terminal or a notebook).
    check
        Safety net: the first time the vectorised engine runs a model in this
        process, compare two random members with plain PySD runs and fall back
        to PySD on disagreement. None follows ``PVSD_ENGINE_CHECK``.
    seed
        Seed of the choice of members checked and, for models with random
        functions, of the members' independent random streams (spawned from it;
        default: the model's own seed arguments). Recorded in the provenance.
    method
        ``"euler"`` (default) or ``"rk4"`` (Vensim's "RK4 Fixed"; needs the
        vectorised engine: PySD has no RK4, so a model that falls back refuses it).
    allow_long
        Run even when steps x members x variables or the result's memory is
        above pvsd's limits (:mod:`pvsd.numerics.limits`).

    Returns
    -------
    xarray.Dataset
        Dimensions ``(run, time)`` (``(run, time, *dims)`` for an arrayed output, with
        element names as coordinates; ``Var[e1]`` asked alone stays ``(run, time)``);
        data variables named as in the model file;
        coordinate per sampled parameter along ``run``; ``attrs`` hold the
        provenance (model SHA-256, parameters, scenario, seed, versions) and
        ``engine`` (``"vectorized"`` or ``"pysd"``) with ``fallback_reason``.
    """
    import xarray as xr

    from pvsd.engine import check_enabled, engine_for, safety_check
    from pvsd.progress import progress_bar
    from pvsd.provenance import as_attrs, provenance

    if isinstance(executor, str) and "://" in executor:
        executor, scheduler = "dask", scheduler or executor
    if executor not in ("inprocess", "processes", "dask"):
        raise ParameterError(
            f"executor must be 'inprocess', 'processes', 'dask' or a Dask scheduler address "
            f"(tcp://host:8786), got {executor!r}."
        )
    from pvsd.numerics import check_work, estimate_work, resolve_method, warn_violations

    method = resolve_method(method)
    from pvsd.engine.controls import refuse_in_ensemble

    refuse_in_ensemble(model, {"final_time": final_time, "time_step": time_step,
                               "saveper": save_every}, return_times)
    from pvsd.ensemble.levers import member_time_functions, split_time_columns

    samples, tcols = split_time_columns(samples)
    cols, n = normalize_samples(model, samples)
    fixed = model.check_params(params, scenario)
    coord_cols: dict[str, Any] = dict(cols)
    # columns of time functions: one lever path per member (MemberPiecewise)
    tfuncs, tdesc = member_time_functions(model, tcols, cols, fixed, n) if tcols else ({}, {})
    coord_cols.update({k: np.asarray(v, dtype=object) for k, v in tdesc.items()})
    # per variable: (N,) for scalars, (N, *shape) for arrayed constants in dims order
    members: dict[str, Any] = member_arrays(model, cols, fixed, n)
    members.update(tfuncs)
    for k in members:
        fixed.pop(k, None)
    t0, t1, dt, times = model.check_times(initial_time, final_time, time_step, save_every,
                                          return_times, allow_long=allow_long)
    if outputs is None:
        outputs = model.stocks or model.default_outputs()
    outs = model.resolve_outputs(outputs)
    # the engine and PySD simulate whole variables; outputs may name single elements
    names = list(dict.fromkeys(split_label(o)[0] for o in outs))

    eng = engine_for(model)
    mode = "vectorized" if eng.vectorized else "pysd"
    reason = eng.reason
    if mode == "vectorized" and model._dims and not getattr(eng.ir, "subscripts", None):
        mode, reason = "pysd", "subscripts (this engine has no dimensions)"
    rng = np.random.default_rng(seed)
    t_start = _time.perf_counter()
    if mode == "vectorized":
        # Per-member constructs (delay orders, TIME STEP ...) and compile-time limits show
        # when the whole parameter set is initialised, which costs no time step.
        from pvsd.engine import NeedsFallback

        probe_idx = sorted(rng.choice(n, size=min(2, n), replace=False).tolist())
        try:
            _runtime_probe(model, members, fixed, t0, t1, dt, times, names)
        except NeedsFallback as nf:
            mode, reason = "pysd", "; ".join(str(i) for i in nf.items)
        if mode == "vectorized" and check_enabled(check) and not eng.checked:
            probe = [{**fixed, **{k: (v[i] if isinstance(v, MemberPiecewise) or v.ndim > 1
                                      else float(v[i])) for k, v in members.items()}}
                     for i in probe_idx]
            if not safety_check(model, probe, t0, t1, dt, times, names):
                mode, reason = "pysd", eng.reason
    check_work(estimate_work(t0, t1, dt, len(times), len(outs), len(model.variables), n),
               allow_long, vectorized=mode == "vectorized", what=f"this ensemble of {n} runs")
    if mode == "pysd" and method != "euler":
        from pvsd.engine import _no_engine

        _no_engine(model, method, reason)
    if mode == "pysd" and not eng.warned:
        warnings.warn(
            f"{model.path.name}: the vectorised engine does not support {reason}; running the "
            f"{n} members one by one with plain PySD in worker processes (slower).",
            EnsembleFallbackWarning,
            stacklevel=3,
        )
        eng.warned = True

    nw = workers or default_workers()
    if chunk_size is None:
        if executor == "inprocess" and mode == "vectorized":
            chunk_size = DEFAULT_CHUNK
        else:
            chunk_size = max(1, math.ceil(n / (4 * nw)))
            if mode == "vectorized":
                chunk_size = min(chunk_size, DEFAULT_CHUNK)
    chunk_size = max(1, int(chunk_size))
    from pvsd.randomness import member_seeds, run_seed

    rseed = run_seed(model, seed)
    streams = None if rseed is None else member_seeds(rseed, n)
    if rseed is not None:
        seed = rseed
    tasks = [
        ChunkTask(s, min(n, s + chunk_size), as_param_arrays(members, s, min(n, s + chunk_size)),
                  fixed, t0, t1, dt, times, names, mode, method,
                  None if streams is None else streams[s:min(n, s + chunk_size)])
        for s in range(0, n, chunk_size)
    ]
    # the times PySD (and the engine) actually reach: requested times that are not
    # multiples of the time step are skipped, as PySD does
    from pvsd.engine.numpy_backend import time_grid

    saved = time_grid(t0, t1, dt, save_times=list(times)).save_times
    shapes = {o: _out_shape(model, o) for o in outs}
    data = {o: np.empty((n, len(saved), *shapes[o]), dtype=float) for o in outs}
    violations: list[Any] = []
    if executor == "dask":
        it = run_dask(_light(model), tasks, scheduler=scheduler, workers=nw, on_client=_on_client)
    elif executor == "processes" or mode == "pysd":
        # one worker asked for: no pool to start
        it = run_processes(_light(model), tasks, workers=nw) if n > 1 and nw > 1 \
            else run_local(model, tasks)
    else:
        it = run_local(model, tasks)
    try:
        with progress_bar(n, f"{model.name}: {n} runs", enabled=progress) as bar:
            for start, stop, vals in it:
                for o in outs:
                    data[o][start:stop] = _select(model, o, vals)
                for v in vals.get(RANGES_KEY, ()):
                    violations.append(v)
                bar.update(stop - start)
    except PvsdError:
        raise
    except Exception as exc:
        raise SimulationError(f"Ensemble of {model.path.name} failed: {type(exc).__name__}: {exc}"
                              ) from exc
    elapsed = _time.perf_counter() - t_start
    violations = _merge_violations(violations)
    warn_violations(model.path.name, violations, dt, method, stacklevel=3)
    if mode == "pysd":  # plain PySD returns the saved times only: check those, and say so
        from pvsd.numerics.saved_ranges import check_saved

        range_note = check_saved(model, np.asarray(saved, float), data, dt, method, runs=True,
                                 stacklevel=3)
    else:
        range_note = "declared ranges checked at every integration step"

    coords: dict[str, Any] = {"run": np.arange(n), "time": np.asarray(saved, dtype=float)}
    for k, v in coord_cols.items():
        # a sampled constant that is also an output keeps its data variable
        coords[k if k not in outs else f"{k} (sampled)"] = ("run", v)
    ds = xr.Dataset(coords=coords)
    for o in outs:
        d = model._dims.get(o)
        if d is None:
            ds[o] = (("run", "time"), data[o])
        else:
            ds[o] = xr.DataArray(data[o], dims=("run", "time", *d.dims), coords={
                "run": coords["run"], "time": coords["time"],
                **{dd: list(c) for dd, c in zip(d.dims, d.coords, strict=True)}})
        ds[o].attrs["units"] = model.units.get(split_label(o)[0], "")
    described = {k: _describe(v) for k, v in fixed.items()}
    scen_name = getattr(scenario, "name", None) if scenario is not None else None
    rec = provenance(
        model.path, model.sha256, described, scenario=scen_name, seed=seed,
        method="ensemble", n_runs=n, sampled=list(coord_cols), outputs=outs,
        initial_time=t0, final_time=t1, time_step=dt, engine=mode, integration=method,
        fallback_reason=reason if mode == "pysd" else "", executor=executor,
        elapsed_seconds=round(elapsed, 3), range_check=range_note,
    )
    ds.attrs.update(as_attrs(rec))
    ds.attrs["range_violations"] = "; ".join(str(v) for v in violations)
    return ds


def _merge_violations(items: Sequence[Any]) -> list[Any]:
    """One record per (variable, side) over all chunks: earliest time, extreme value, members."""
    from dataclasses import replace

    merged: dict[tuple[str, str], Any] = {}
    for v in items:
        key = (v.variable, v.side)
        old = merged.get(key)
        if old is None:
            merged[key] = v
            continue
        worse = min if v.side == "below" else max
        merged[key] = replace(old, time=min(old.time, v.time),
                              extreme=worse(old.extreme, v.extreme),
                              members=old.members + v.members)
    return list(merged.values())


def member_arrays(model: Any, cols: Mapping[str, np.ndarray], fixed: Mapping[str, Any], n: int
                  ) -> dict[str, np.ndarray]:
    """Sample columns (labels) -> per variable member values: (N,) or (N, *shape).

    An element column changes only its element; the other elements keep the fixed
    setting (params/scenario) or the model's own values.
    """
    out: dict[str, np.ndarray] = {}
    for lab, v in cols.items():
        base, elems = split_label(lab)
        d = model._dims.get(base)
        if d is None:
            out[lab] = np.asarray(v, float)
            continue
        if base not in out:
            start = fixed.get(base, model._array_defaults.get(base))
            if isinstance(start, ArrayPiecewise):
                raise ParameterError(
                    f"{lab!r} is sampled while {base!r} has a time-varying setting; sample "
                    "constants that have no lever, or drop the lever."
                )
            out[base] = np.repeat(np.asarray(start, float)[None, ...], n, axis=0)
        if elems is None:
            out[base][...] = np.asarray(v, float).reshape((n,) + (1,) * len(d.dims))
        else:
            out[base][(slice(None), *d.position(elems))] = v
    return out


def _out_shape(model: Any, label: str) -> tuple[int, ...]:
    d = model._dims.get(label)
    return () if d is None else d.shape


def _select(model: Any, label: str, vals: Mapping[str, np.ndarray]) -> np.ndarray:
    """One output label from chunk values ``(n_times, n, *shape)`` -> ``(n, n_times, ...)``."""
    base, elems = split_label(label)
    a = np.swapaxes(np.asarray(vals[base], float), 0, 1)
    if elems is not None:
        a = a[(slice(None), slice(None), *model._dims[base].position(elems))]
    return a


def _runtime_probe(model: Any, cols: Mapping[str, np.ndarray], fixed: Mapping[str, Any],
                   t0: float, t1: float, dt: float, times: np.ndarray, outs: Sequence[str]) -> None:
    """Raise NeedsFallback if some member needs per-member constructs (e.g. delay orders).

    Runs the whole parameter set for zero time steps (initialisation only).
    """
    from pvsd.engine import engine_for, to_engine_params

    eng = engine_for(model)
    assert eng.simulator is not None
    p = to_engine_params(model, {**fixed, **cols})
    eng.simulator.control_values({k: v for k, v in p.items() if not hasattr(v, "x")})
    n = len(next(iter(cols.values()))) if cols else 1
    # initialisation only: a grid with no step
    eng.simulator.run(p, outputs=[], n=n, initial_time=t0, final_time=t0, time_step=dt,
                      save_times=[t0])


def _describe(value: Any) -> Any:
    if isinstance(value, (np.ndarray, ArrayPiecewise)):
        from pvsd.model_arrays import describe

        return describe(value)
    if hasattr(value, "x") and hasattr(value, "y"):
        return {"time": list(value.x), "value": list(value.y)}
    return value
