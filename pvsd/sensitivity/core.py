"""The entry points: :func:`sensitivity` and :func:`uncertainty_bands`."""

from __future__ import annotations

import math
import time as _time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.errors import PvsdError, SpecError
from pvsd.parameters import ParameterSpace
from pvsd.sensitivity.methods import Method, child_seeds, get_method
from pvsd.sensitivity.results import SensitivityResult, UncertaintyBands, flag_convergence, result_class
from pvsd.sensitivity.spec import Outcome, SensitivitySpec, as_spec

if TYPE_CHECKING:
    import xarray as xr

    from pvsd.model import Model
    from pvsd.scenarios import Scenario

__all__ = ["prepare", "sensitivity", "uncertainty_bands"]

_COMMON_DEFAULTS: dict[str, Any] = {
    "num_resamples": None,
    "conf_level": 0.95,
    "tolerance": 0.1,
    "until_converged": False,
    "max_runs": None,
    "second_order": False,
    "num_levels": 4,
    "optimal_trajectories": None,
    "M": 4,
    "save_every": None,
    "integration": "euler",
}


def _as_model(model: Any) -> Model:
    from pvsd.model import Model, load

    return model if isinstance(model, Model) else load(model)


def fresh_seed() -> int:
    """A random seed from the operating system's entropy (recorded in provenance)."""
    return int(np.random.SeedSequence().entropy % (2**31 - 1))


def prepare(
    model: Any,
    spec: Any,
    method: str | None = None,
    n: int | None = None,
    seed: int | None = None,
    outcomes: Sequence[Outcome | str | Mapping[str, Any]] | None = None,
    **options: Any,
) -> tuple[Model, SensitivitySpec, Method, int, int, dict[str, Any]]:
    """Resolve and validate everything a study needs, before any run.

    Returns
    -------
    (model, spec, method, n, seed, options)
        The loaded model, the spec with names as in the model file, the method,
        the sample size, the seed (drawn when None) and the merged options.

    Raises
    ------
    UnknownVariableError, SpecError
        Unknown parameter or outcome names, bad bounds, unknown method, sample
        size too small, bad options.
    """
    m = _as_model(model)
    s = as_spec(spec)
    if outcomes is not None:
        s = s.with_outcomes(outcomes)
    settings = dict(s.settings)
    explicit = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(explicit) - set(_COMMON_DEFAULTS))
    if unknown:
        raise SpecError(f"Unknown sensitivity option(s) {unknown}; allowed: {', '.join(_COMMON_DEFAULTS)}.")
    meth = get_method(method if method is not None else settings.get("method", "sobol"))
    merged = {**_COMMON_DEFAULTS, **{k: v for k, v in settings.items() if k in _COMMON_DEFAULTS}, **explicit}
    where = s.where
    s = s.validate(m)
    if s.space.range_overrides:  # the spec's explicit bounds beat the model's slider range
        from pvsd.overrides import widen_ranges

        m = widen_ranges(m, s.space.range_overrides)
    if n is None:
        n = settings.get("n", meth.default_n)
    n = meth.check(s.space, n, merged, where)
    seed = settings.get("seed") if seed is None else seed
    if seed is None:
        seed = fresh_seed()
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError(f"{where}: seed must be a non-negative whole number, got {seed!r}.")
    _check_options(merged, meth, n, s.space, where)
    return m, s, meth, n, int(seed), merged


def _check_options(opt: dict[str, Any], meth: Method, n: int, space: ParameterSpace, where: str) -> None:
    r = opt["num_resamples"]
    if r is not None and (isinstance(r, bool) or not isinstance(r, int) or r < 10):
        raise SpecError(f"{where}: num_resamples must be a whole number of at least 10, got {r!r}.")
    c = opt["conf_level"]
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not 0 < c < 1:
        raise SpecError(f"{where}: conf_level must lie strictly between 0 and 1, got {c!r}.")
    tol = opt["tolerance"]
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol > 0:
        raise SpecError(f"{where}: tolerance must be a positive number, got {tol!r}.")
    if not isinstance(opt["until_converged"], bool):
        raise SpecError(f"{where}: until_converged must be true or false.")
    if not isinstance(opt["second_order"], bool):
        raise SpecError(f"{where}: second_order must be true or false.")
    mr = opt["max_runs"]
    runs = meth.runs(n, space, opt)
    if mr is not None:
        if isinstance(mr, bool) or not isinstance(mr, int) or mr < runs:
            raise SpecError(
                f"{where}: max_runs ({mr!r}) must be a whole number of at least the runs the first "
                f"sample needs ({runs:,} for n = {n})."
            )
    from pvsd.numerics import resolve_method

    try:
        opt["integration"] = resolve_method(opt["integration"], f"{where}: integration")
    except PvsdError as exc:
        raise SpecError(str(exc)) from None
    se = opt["save_every"]
    if se is not None and (isinstance(se, bool) or not isinstance(se, (int, float)) or not se > 0):
        raise SpecError(f"{where}: save_every must be a positive number, got {se!r}.")


def _samples_frame(space: ParameterSpace, unit: np.ndarray) -> pd.DataFrame:
    frame = space.ppf(unit)
    for name, value in space.fixed.items():
        frame[name] = value
    return frame


def _ensemble(model: Model, samples: pd.DataFrame, outputs: list[str], scenario: Scenario | None,
              save_every: float | None, executor: str, progress: bool | None,
              integration: str = "euler") -> xr.Dataset:
    return model.run_ensemble(samples, outputs=outputs, scenario=scenario, save_every=save_every,
                              executor=executor, progress=progress, method=integration)


def _matrix(ds: xr.Dataset, var: str) -> np.ndarray:
    da = ds[var]
    if "time" not in da.dims:
        return np.asarray(da.values, dtype=float).reshape(-1, 1)
    return np.asarray(da.transpose("run", "time").values, dtype=float)


def _flat(v: Any) -> bool:
    v = np.asarray(v, dtype=float)
    if v.size == 0:
        return True
    spread = float(np.max(v) - np.min(v))
    return spread <= 1e-12 * max(1.0, float(np.max(np.abs(v))))


def _analyze_all(
    meth: Method,
    space: ParameterSpace,
    outcomes: Sequence[Outcome],
    ds: xr.Dataset,
    unit: np.ndarray,
    seed: int,
    opt: Mapping[str, Any],
    progress: bool | None,
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame, list[str]]:
    """Indices of every outcome (and every time of trajectories)."""
    from pvsd.progress import progress_bar

    times = np.asarray(ds["time"].values, dtype=float)
    factors = space.factors if meth.supports_groups else space.names
    rows: list[pd.DataFrame] = []
    s2_rows: list[pd.DataFrame] = []
    values: dict[str, np.ndarray] = {}
    notes: list[str] = []
    evaluated = []
    total = 0
    for o in outcomes:
        y, ts = o.evaluate(_matrix(ds, o.variable), times)
        evaluated.append((o, y, ts))
        total += 1 if ts is None else len(ts)
        if o.stat == "crossing":
            never = times[-1] if o.never is None else o.never
            d = y[:, 0] if y.ndim > 1 else y
            k = int(np.sum(np.isclose(d, never)))
            if k:
                notes.append(f"{k:,} of {len(d):,} runs never reached the threshold of {o.label!r}; "
                             f"they count as {never:g}.")
    analysis_opts = dict(opt)
    with progress_bar(total=total, desc=f"{meth.name} analysis", enabled=progress) as bar:
        for o, y, ts in evaluated:
            if ts is None:
                values[o.label] = y
                cols, note = _one(meth, space, unit, y, seed, analysis_opts, o.label)
                if note:
                    notes.append(note)
                frame = pd.DataFrame({c: cols[c] for c in meth.columns}, index=pd.Index(factors, name="parameter"))
                frame.insert(0, "time", np.nan)
                frame.insert(0, "outcome", o.label)
                rows.append(frame)
                if "S2" in cols:
                    s2_rows.append(_second_order_rows(o.label, factors, cols["S2"], cols["S2_conf"]))
                bar.update(1)
                continue
            # No second-order indices at every time (costly); Sobol reads the first-order part of the design.
            traj_opts = {**analysis_opts, "second_order": False,
                         "design_second_order": bool(analysis_opts.get("second_order"))}
            block = []
            bad = 0
            for j, t in enumerate(ts):
                cols, note = _one(meth, space, unit, y[:, j], seed, traj_opts, o.label, quiet=True)
                bad += note is not None and "non-finite" in note
                cols.pop("S2", None)
                cols.pop("S2_conf", None)
                frame = pd.DataFrame({c: cols[c] for c in meth.columns},
                                     index=pd.Index(factors, name="parameter"))
                frame.insert(0, "time", float(t))
                frame.insert(0, "outcome", o.label)
                block.append(frame)
                bar.update(1)
            if bad:
                notes.append(f"{o.label!r}: some runs gave non-finite values at {bad} saved times; "
                             "indices there are missing.")
            rows.extend(block)
    table = pd.concat(rows) if rows else pd.DataFrame(columns=["outcome", "time", *meth.columns])
    s2 = pd.concat(s2_rows, ignore_index=True) if s2_rows else None
    return table, s2, pd.DataFrame(values), notes


def _one(meth: Method, space: ParameterSpace, unit: np.ndarray, y: np.ndarray, seed: int,
         opt: Mapping[str, Any], label: str, quiet: bool = False) -> tuple[dict[str, np.ndarray], str | None]:
    k = len(space.factors) if meth.supports_groups else len(space.names)
    empty = {c: np.full(k, np.nan) for c in meth.columns}
    if not np.all(np.isfinite(y)):
        bad = int(np.sum(~np.isfinite(y)))
        return empty, (f"{bad:,} runs gave non-finite values for {label!r} (the model failed or "
                       "overflowed for some parameter sets); its indices are missing. Narrow the ranges.")
    if _flat(y):
        return empty, None if quiet else (f"{label!r} is the same in every run, so no parameter influences "
                                          "it; its indices are undefined (shown as blank).")
    try:
        out = meth.analyze(space, unit, y, seed, opt)
    except (ValueError, RuntimeError, ZeroDivisionError, IndexError) as exc:
        raise SpecError(
            f"SALib could not compute {meth.name} indices for {label!r}: {exc}. "
            "A larger n usually helps."
        ) from None
    return out, None


def _second_order_rows(label: str, factors: Sequence[str], s2: np.ndarray, s2c: np.ndarray) -> pd.DataFrame:
    rows = []
    for i in range(len(factors)):
        for j in range(i + 1, len(factors)):
            rows.append((label, factors[i], factors[j], float(s2[i, j]), float(s2c[i, j])))
    return pd.DataFrame(rows, columns=["outcome", "parameter_1", "parameter_2", "S2", "S2_conf"])


def _concat_runs(a: xr.Dataset, b: xr.Dataset) -> xr.Dataset:
    import xarray as xr

    n_a = a.sizes["run"]
    b = b.assign_coords(run=np.arange(n_a, n_a + b.sizes["run"]))
    a = a.assign_coords(run=np.arange(n_a))
    return xr.concat([a, b], dim="run", data_vars="minimal", coords="minimal", compat="override",
                     combine_attrs="override")


def sensitivity(
    model: Model | str | Path,
    spec: SensitivitySpec | ParameterSpace | Mapping[str, Any] | str | Path,
    method: str | None = None,
    n: int | None = None,
    seed: int | None = None,
    *,
    outcomes: Sequence[Outcome | str | Mapping[str, Any]] | None = None,
    second_order: bool | None = None,
    num_levels: int | None = None,
    optimal_trajectories: int | None = None,
    M: int | None = None,
    num_resamples: int | None = None,
    conf_level: float | None = None,
    tolerance: float | None = None,
    until_converged: bool | None = None,
    max_runs: int | None = None,
    scenario: Scenario | None = None,
    save_every: float | None = None,
    executor: str = "inprocess",
    progress: bool | None = None,
    integration: str | None = None,
) -> SensitivityResult:
    """Global sensitivity analysis of a model's outcomes to uncertain parameters.

    Sampling and estimation are SALib's; runs use the ensemble engine
    (:meth:`pvsd.Model.run_ensemble`). Everything is checked before the first run.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`, a model file or a bundled model name.
    spec
        A spec file (TOML, see :mod:`pvsd.sensitivity.spec`), a
        :class:`SensitivitySpec`, a :class:`~pvsd.parameters.ParameterSpace` (then
        give ``outcomes``) or a SALib problem dict (``names``, ``bounds``, optional
        ``dists``, ``groups``, and ``outputs`` naming model variables, analysed at
        the final time unless an entry is an outcome table).
    method
        ``"sobol"`` (default), ``"morris"``, ``"fast"`` (eFAST) or ``"delta"``;
        default: the spec's ``[settings] method``.
    n
        Sample size: Sobol base samples (a power of two; runs = n (k + 2)),
        Morris trajectories (runs = n (k + 1)), eFAST samples per parameter
        (runs = n k), delta runs. Default: the spec's, else the method's default.
    seed
        Seed of the design and the bootstrap (default: the spec's, else a fresh
        one, recorded in the result's provenance).
    outcomes
        Outcomes to analyse instead of the spec's: variable names (final value),
        :class:`Outcome` objects or outcome tables.
    second_order
        Sobol: also compute second-order indices (doubles the runs).
    num_levels, optimal_trajectories
        Morris: grid levels (default 4) and optional trajectory selection.
    M
        eFAST interference factor (default 4).
    num_resamples, conf_level
        Bootstrap resamples (default 100; 20 for delta, whose estimator is slow)
        and confidence level (0.95) of the intervals on every index.
    tolerance
        Largest acceptable interval width (default 0.1; for Morris relative to
        the largest mu*). Wider indices are flagged in ``converged``.
    until_converged
        Double ``n`` until every index of the scalar outcomes (or, with only
        trajectory outcomes, every index) is within ``tolerance``, or ``max_runs``
        would be exceeded. Sobol designs are nested, so earlier runs are reused.
    max_runs
        Run budget for ``until_converged`` (default: 16 times the first sample's runs).
    scenario
        Run every parameter set on top of this scenario.
    save_every
        Saving interval of trajectories (default: the model's SAVEPER).
    executor
        ``"inprocess"``, ``"processes"`` or ``"dask"`` (see the ensemble engine).
    progress
        Show progress bars (default: on a terminal or in a notebook).
    integration
        Integration method of every run, ``"euler"`` (default) or ``"rk4"``
        (also ``integration = "rk4"`` in the spec's ``[settings]``).

    Returns
    -------
    SensitivityResult
        A :class:`SobolResult`, :class:`MorrisResult`, :class:`FastResult` or
        :class:`DeltaResult`; ``to_dataframe()`` has one row per parameter (and
        outcome/time) with the method's indices and interval half-widths.

    Raises
    ------
    UnknownVariableError, SpecError
        Bad spec, unknown method or sample size too small (before any run).
    SimulationError
        The model failed.
    """
    m, s, meth, n, seed, opt = prepare(
        model, spec, method, n, seed, outcomes,
        second_order=second_order, num_levels=num_levels, optimal_trajectories=optimal_trajectories, M=M,
        num_resamples=num_resamples, conf_level=conf_level, tolerance=tolerance,
        until_converged=until_converged, max_runs=max_runs, save_every=save_every,
        integration=integration,
    )
    space = s.space
    variables = list(dict.fromkeys(o.variable for o in s.outcomes))
    sample_seed, analysis_seed = child_seeds(seed, 2)
    budget = opt["max_runs"] or 16 * meth.runs(n, space, opt)
    history = []
    unit_prev: np.ndarray | None = None
    ds_prev: xr.Dataset | None = None
    t_run = t_analysis = 0.0
    while True:
        unit = meth.sample_unit(space, n, sample_seed, opt)
        t0 = _time.perf_counter()
        reuse = (unit_prev is not None and ds_prev is not None and len(unit) > len(unit_prev)
                 and np.array_equal(unit[: len(unit_prev)], unit_prev))
        if reuse:
            new = _ensemble(m, _samples_frame(space, unit[len(unit_prev):]), variables, scenario,
                            opt["save_every"], executor, progress, opt["integration"])
            ds = _concat_runs(ds_prev, new)  # type: ignore[arg-type]
        else:
            ds = _ensemble(m, _samples_frame(space, unit), variables, scenario, opt["save_every"],
                           executor, progress, opt["integration"])
        t1 = _time.perf_counter()
        table, s2, values, notes = _analyze_all(meth, space, s.outcomes, ds, unit, analysis_seed, opt, progress)
        t_run += t1 - t0
        t_analysis += _time.perf_counter() - t1
        table["converged"] = flag_convergence(table, meth, opt["tolerance"]).to_numpy()
        scalar = table[table["time"].isna()]
        judged = scalar if not scalar.empty else table
        widest = _widest(judged, meth)
        history.append({"n": n, "runs": len(unit), "widest_interval": widest,
                        "unconverged": int((~judged["converged"]).sum()), "run_seconds": t1 - t0})
        if not opt["until_converged"] or bool(judged["converged"].all()):
            break
        nxt = meth.runs(2 * n, space, opt)
        if nxt > budget:
            notes.append(
                f"Stopped doubling n at {n}: the next step needs {nxt:,} runs, over the budget of "
                f"{budget:,} (max_runs). {history[-1]['unconverged']} indices are still wider than "
                f"{opt['tolerance']:g}."
            )
            break
        unit_prev, ds_prev, n = unit, ds, 2 * n
    samples = _samples_frame(space, unit)
    if getattr(m, "_range_note", None):
        notes.append(m._range_note)
    cls = result_class(meth.name)
    from pvsd.provenance import provenance

    prov = provenance(
        m.path, m.sha256, space.fixed, scenario=getattr(scenario, "name", None), seed=seed,
        analysis="sensitivity", method=meth.name, n=n, runs=len(unit),
        parameter_space=space.to_toml_dict()["parameters"], outcomes=[o.to_dict() for o in s.outcomes],
        options={k: v for k, v in opt.items() if v is not None}, executor=executor,
        spec_file=str(s.source) if s.source else None,
    )
    return cls(
        table=table, outcomes=s.outcomes, space=space, n=n, runs=len(unit), seed=seed, samples=samples,
        values=values, second_order=s2, tolerance=float(opt["tolerance"]), conf_level=float(opt["conf_level"]),
        history=pd.DataFrame(history), notes=tuple(notes), model=m.path.name,
        units={v: m.units.get(v, "") for v in variables},
        timings={"run_seconds": t_run, "analysis_seconds": t_analysis}, provenance=prov,
    )


def _widest(table: pd.DataFrame, meth: Method) -> float:
    widths = []
    for idx, conf in meth.intervals:
        w = 2 * table[conf].astype(float)
        if meth.relative_tolerance:
            keys = [table["outcome"], table["time"].fillna(-np.inf)]
            scale = table[idx].abs().groupby(keys).transform("max").to_numpy()
            w = w / np.where(scale > 0, scale, np.inf)
        widths.append(float(np.nanmax(w.to_numpy())) if w.notna().any() else math.nan)
    return max((w for w in widths if not math.isnan(w)), default=math.nan)


def uncertainty_bands(
    model: Model | str | Path,
    spec: SensitivitySpec | ParameterSpace | Mapping[str, Any] | str | Path,
    n: int | None = None,
    seed: int | None = None,
    *,
    outputs: Sequence[str] | None = None,
    percentiles: Sequence[float] | None = None,
    sampling: str | None = None,
    scenario: Scenario | None = None,
    save_every: float | None = None,
    executor: str = "inprocess",
    progress: bool | None = None,
) -> UncertaintyBands:
    """Monte Carlo uncertainty bands: percentile envelopes of outputs over time.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`, a model file or a bundled model name.
    spec
        As for :func:`sensitivity`; its ``[bands]`` table gives defaults.
    n
        Number of runs (default: the spec's ``[bands] n``, else 500).
    seed
        Seed of the draw (default: ``[bands] seed``, else ``[settings] seed``, else fresh).
    outputs
        Variables (default: ``[bands] outputs``, else the outcomes' variables).
    percentiles
        Default ``[bands] percentiles``, else 5, 25, 50, 75, 95.
    sampling
        ``"lhs"`` (default), ``"sobol"`` or ``"random"``.
    scenario, save_every, executor, progress
        As for :func:`sensitivity`.

    Returns
    -------
    UncertaintyBands
        Percentiles, mean and the baseline run (the model's own values plus any
        fixed parameters) at every saved time.
    """
    from pvsd.sensitivity.spec import BandsSpec

    m = _as_model(model)
    s = as_spec(spec)
    b = s.bands
    try:
        b = BandsSpec(
            outputs=tuple(outputs) if outputs is not None else b.outputs,
            percentiles=tuple(percentiles) if percentiles is not None else b.percentiles,
            n=n if n is not None else b.n,
            seed=b.seed, sampling=sampling or b.sampling,
        )
    except SpecError as exc:
        raise SpecError(f"{s.where}: {exc}") from None
    s = replace(s, bands=b)
    space = s.space.validate(m)
    outs = list(b.outputs) or list(dict.fromkeys(o.variable for o in s.outcomes))
    if not outs:
        raise SpecError(f"{s.where}: name the variables to draw: [bands] outputs = [\"...\"] or outputs=[...].")
    outs = m.resolve_outputs(outs)
    seed = seed if seed is not None else (b.seed if b.seed is not None else s.settings.get("seed"))
    if seed is None:
        seed = fresh_seed()
    if save_every is None:
        save_every = s.settings.get("save_every")
    samples = space.sample(b.n, seed=seed, method=b.sampling)
    for name, value in space.fixed.items():
        samples[name] = value
    ds = _ensemble(m, samples, outs, scenario, save_every, executor, progress,
                   str(s.settings.get("integration") or "euler"))
    times = np.asarray(ds["time"].values, dtype=float)
    base = m.run(params=space.fixed or None, scenario=scenario, outputs=outs, return_times=list(times),
                 method=str(s.settings.get("integration") or "euler"))
    base_df = base.to_dataframe()
    frames = []
    for v in outs:
        y = _matrix(ds, v)
        cols: dict[str, Any] = {"variable": v, "baseline": base_df[v].to_numpy(dtype=float)}
        with np.errstate(all="ignore"):
            cols["mean"] = np.nanmean(y, axis=0)
            q = np.nanpercentile(y, b.percentiles, axis=0)
        for p, row in zip(b.percentiles, q, strict=True):
            cols[UncertaintyBands.column(p)] = row
        frames.append(pd.DataFrame(cols, index=pd.Index(times, name="time")))
    from pvsd.provenance import provenance

    prov = provenance(
        m.path, m.sha256, space.fixed, scenario=getattr(scenario, "name", None), seed=seed,
        analysis="uncertainty bands", n=b.n, sampling=b.sampling, percentiles=list(b.percentiles),
        parameter_space=space.to_toml_dict()["parameters"], executor=executor,
    )
    return UncertaintyBands(
        bands=pd.concat(frames), baseline=base_df, percentiles=b.percentiles, n=b.n, seed=seed,
        sampling=b.sampling, space=space, model=m.path.name, units={v: m.units.get(v, "") for v in outs},
        provenance=prov,
    )
