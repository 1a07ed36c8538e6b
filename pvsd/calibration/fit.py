"""The calibration engine: ``calibrate`` (search in :mod:`pvsd.calibration.search`,
curvature, profiles and MCMC in :mod:`pvsd.calibration.uncertainty`), statistics, skill.

Every batch of parameter sets (a differential-evolution population, a
finite-difference stencil, half of the MCMC walkers, the predictive draws) is
simulated as one ensemble run.
"""

from __future__ import annotations

import math
import os
import time as _time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvsd.calibration.problem import Problem
from pvsd.calibration.search import _at_bounds, _search
from pvsd.calibration.skill import is_loss
from pvsd.calibration.spec import CalibrationSpec, load_spec
from pvsd.calibration.stats import STAT_COLUMNS, fit_statistics
from pvsd.calibration.uncertainty import _bands, _covariance, _laplace_draws, _mcmc, _plot_times, _profile
from pvsd.errors import SpecError

__all__ = ["calibrate"]


def _statistics(problem: Problem, theta: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    preds = problem.predictions(theta[None, :])
    rows, fitted = [], []
    for b, mu in zip(problem.series, preds, strict=True):
        used = b.period != "unused"
        y, per, t = b.y[used], b.period[used], b.obs.times[used]
        fitted.append(pd.DataFrame({"series": b.spec.name, "variable": b.variable, "time": t,
                                    "period": per.astype(str), "data": y, "fitted": mu[0],
                                    "residual": y - mu[0]}))
        for period in ("fit", "holdout"):
            sel = per == period
            if period == "holdout" and problem.spec.holdout_period is None:
                continue
            st = fit_statistics(mu[0][sel], y[sel])
            rows.append({"series": b.spec.name, "period": period, **st})
    stats_df = pd.DataFrame(rows, columns=["series", "period", *STAT_COLUMNS])
    stats_df["n"] = stats_df["n"].astype(int)
    return stats_df, pd.concat(fitted, ignore_index=True)


def _skill(problem: Problem, fitted: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Held-out skill of the model beside naive forecasts, on each indicator's own scale."""
    from pvsd.calibration.skill import NAIVE, compare, naive_forecasts, verdict

    rows = []
    for b in problem.series:
        d = fitted[fitted["series"] == b.spec.name]
        fit_d, ho = d[d["period"] == "fit"], d[d["period"] == "holdout"]
        if ho.empty or fit_d.empty:
            continue
        off, sc = b.spec.offset, b.spec.scale

        def back(v: Any, off: float = off, sc: float = sc) -> np.ndarray:
            return (np.asarray(v, float) - off) / sc

        nv = naive_forecasts(fit_d["time"].to_numpy(), back(fit_d["data"]), ho["time"].to_numpy())
        for j, (t_, y_, m_) in enumerate(zip(ho["time"], back(ho["data"]), back(ho["fitted"]),
                                             strict=True)):
            rows.append({"unit": b.obs.country or "", "series": b.spec.name, "year": t_,
                         "actual": y_, "model": m_, **{k: nv[k][j] for k in NAIVE}})
    if not rows:
        return pd.DataFrame(), []
    overall, _ = compare(pd.DataFrame(rows))
    return overall.drop(columns=["units_model_worse"]), verdict(overall)


# ---------------------------------------------------------------------- entry point
def calibrate(
    spec: CalibrationSpec | str | os.PathLike[str],
    *,
    model: Any = None,
    mcmc: bool | Mapping[str, Any] | None = None,
    profile: bool | Sequence[str] | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> Any:
    """Fit a model's parameters to observed series.

    Parameters
    ----------
    spec
        A :class:`~pvsd.calibration.spec.CalibrationSpec` or the path of a spec
        file (TOML; see :mod:`pvsd.calibration.spec`).
    model
        An already loaded :class:`pvsd.Model` (default: load ``spec.model``).
    mcmc
        Run the Bayesian posterior (emcee): True/False, or a table of options
        (``walkers``, ``steps``, ``burn``, ``thin``, ``draws``) overriding the
        spec's ``[mcmc]`` (default: the spec's ``enabled``).
    profile
        Parameters to compute profile-likelihood intervals for (True: all),
        overriding the spec's ``[uncertainty] profile``.
    seed
        Overrides the spec's seed.
    progress
        Show progress bars (None: when standard error is a terminal).
    log
        Called with a short message at the start of each stage (the CLI prints them).

    Returns
    -------
    CalibrationResult
        Fitted parameters, standard errors, intervals, fit statistics per series
        and period, and (optionally) the posterior.

    Raises
    ------
    SpecError, DataError, UnknownVariableError
        A malformed spec or data, before anything is simulated.
    """
    from scipy import stats

    from pvsd.calibration.result import CalibrationResult
    from pvsd.provenance import file_sha256, provenance

    say = log or (lambda msg: None)
    if not isinstance(spec, CalibrationSpec):
        from pvsd.apitypes import check_spec_arg

        check_spec_arg(spec, "calibration", (CalibrationSpec,))
        spec = load_spec(Path(spec))
    changes: dict[str, Any] = {}
    if seed is not None:
        changes["seed"] = int(seed)
    if isinstance(mcmc, Mapping):
        changes["mcmc"] = {**dict(mcmc), "enabled": dict(mcmc).get("enabled", True)}
    elif mcmc is not None:
        changes["mcmc"] = {"enabled": bool(mcmc)}
    if profile is not None:
        changes["uncertainty"] = {"profile": profile if isinstance(profile, bool) else list(profile)}
    if changes:
        spec = spec.with_options(**changes)
    t_start = _time.perf_counter()
    problem = Problem(spec, model)
    names = problem.names
    p = problem.n_params
    level = float(spec.uncertainty["level"])
    notes = list(problem.warnings)
    if getattr(problem, "range_note", ""):
        notes.append(problem.range_note)

    say(f"fitting {p} parameter(s) to {problem.n_obs} observations in {len(problem.series)} series")
    theta, objective, starts, convergence = _search(problem, spec.search, spec.seed, progress)
    if not convergence["converged"]:
        notes.append(_convergence_note(convergence))

    say("standard errors from the curvature at the optimum")
    cov, cov_method, s2, dof, cov_notes = _covariance(problem, theta, objective)
    notes += cov_notes
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    if problem.least_squares:
        q = float(stats.t.ppf(0.5 + level / 2, dof))
        loglik = float(problem.loglik(theta[None, :])[0])
    else:
        q = float(stats.norm.ppf(0.5 + level / 2))
        loglik = -objective
    # ---- profiles
    prof_req = spec.uncertainty["profile"]
    if prof_req is True:
        prof_idx = list(range(p))
    elif prof_req is False or not prof_req:
        prof_idx = []
    else:
        prof_idx = []
        for name in prof_req:
            canonical = problem.model.resolve(str(name), where=f"{spec.where} [uncertainty] profile") \
                if name not in names else name
            if canonical not in names:
                raise SpecError(f"{spec.where}: [uncertainty] profile names {name!r}, which is not a "
                                f"fitted parameter; fitted: {', '.join(names)}.")
            prof_idx.append(names.index(canonical))
    prof_lo = np.full(p, np.nan)
    prof_hi = np.full(p, np.nan)
    prof_tables = []
    for k in prof_idx:
        say(f"profile likelihood of {names[k]!r}")
        lo_k, hi_k, tab, pn = _profile(problem, theta, objective, k, se[k], level, s2, dof)
        prof_lo[k], prof_hi[k] = lo_k, hi_k
        prof_tables.append(tab)
        notes += pn
    # ---- MCMC
    post: dict[str, Any] | None = None
    if spec.mcmc["enabled"]:
        say(f"MCMC posterior ({spec.mcmc['steps']} steps)")
        post = _mcmc(problem, theta, cov, spec.mcmc, level, spec.seed + 1, progress)
        notes += post["notes"]
    # ---- bands
    n_draws = int(spec.mcmc["draws"]) or 200
    bands = pd.DataFrame(columns=["series", "band", "source", "time", "lower", "median", "upper"])
    if post is not None:
        rng = np.random.default_rng(spec.seed + 2)
        samp = post["samples"].to_numpy()
        draws = samp[rng.choice(len(samp), size=min(n_draws, len(samp)), replace=False)]
        bands = _bands(problem, draws, level, spec.seed + 3, "posterior")
    else:
        draws = _laplace_draws(problem, theta, cov, n_draws, spec.seed + 2)
        if draws is not None:
            bands = _bands(problem, draws, level, spec.seed + 3, "laplace")
    # ---- statistics and trajectory
    stats_df, fitted = _statistics(problem, theta)
    skill_df, skill_text = _skill(problem, fitted)
    notes += [s for s in skill_text if is_loss(s)]
    times = _plot_times(problem)
    sims = problem.simulate(theta[None, :], times=times)
    trajectory = pd.DataFrame({v: sims[v][0] for v in problem.variables},
                              index=pd.Index(times, name="time"))
    # ---- warnings about bounds and movement
    width = problem.upper - problem.lower
    at_lo, at_hi = _at_bounds(problem, theta)
    for i, n in enumerate(names):
        if at_lo[i]:
            notes.append(f"{n!r} is at its lower bound {problem.lower[i]:g}: widen the bound or fix it")
        elif at_hi[i]:
            notes.append(f"{n!r} is at its upper bound {problem.upper[i]:g}: widen the bound or fix it")
        if abs(theta[i] - problem.x0[i]) <= 1e-6 * width[i]:
            notes.append(f"{n!r} did not move from its initial value {problem.x0[i]:g}: the data may "
                         "not inform it")
    # ---- tables
    kinds = (["model"] * len(problem.model_names) + ["path"] * len(problem.path_names)
             + ["nuisance"] * len(problem.nuisance))
    params_df = pd.DataFrame({
        "parameter": names, "kind": kinds, "value": theta, "stderr": np.where(np.isfinite(np.diag(cov)), se, np.nan),
        "lower": np.maximum(theta - q * se, problem.lower),
        "upper": np.minimum(theta + q * se, problem.upper),
        "profile_lower": prof_lo, "profile_upper": prof_hi,
        "initial": problem.x0, "bound_lower": problem.lower, "bound_upper": problem.upper,
    })
    for col in ("posterior_mean", "posterior_sd", "posterior_lower", "posterior_upper", "ess", "rhat"):
        params_df[col] = np.nan
    if post is not None:
        s = post["summary"]
        params_df["posterior_mean"] = s["mean"].to_numpy()
        params_df["posterior_sd"] = s["sd"].to_numpy()
        params_df["posterior_lower"] = s["lower"].to_numpy()
        params_df["posterior_upper"] = s["upper"].to_numpy()
        params_df["ess"] = s["ess"].to_numpy()
        params_df["rhat"] = s["rhat"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(se, se)
    corr_df = pd.DataFrame(corr, index=names, columns=names)
    cov_df = pd.DataFrame(cov, index=names, columns=names)
    noise_rows = []
    for k, b in enumerate(problem.series):
        s = b.spec
        resid = fitted[(fitted["series"] == s.name) & (fitted["period"] == "fit")]["residual"].to_numpy()
        if s.transform == "log":
            f = fitted[(fitted["series"] == s.name) & (fitted["period"] == "fit")]
            with np.errstate(invalid="ignore", divide="ignore"):
                resid = np.log(f["data"].to_numpy()) - np.log(f["fitted"].to_numpy())
        est = math.sqrt(float(np.mean(resid**2))) if resid.size else math.nan
        if problem.least_squares:  # one common variance: the residual standard error
            dof_ls = problem.n_obs - p
            est = math.sqrt(objective / dof_ls) / s.weight if dof_ls > 0 else math.nan
        disp = math.nan
        for j, (kk, _) in enumerate(problem.nuisance):
            if kk == k:
                disp = float(theta[problem.n_model + j])
        noise_rows.append({"series": s.name, "likelihood": s.likelihood, "transform": s.transform,
                           "sigma": s.sigma if s.sigma is not None else est,
                           "sigma_fitted": s.sigma is None and s.likelihood == "gaussian",
                           "dispersion": s.dispersion if s.dispersion is not None else disp,
                           "weight": s.weight})
    if problem.least_squares:
        resid_se = math.sqrt(objective / dof) if dof else math.nan
    else:
        resid_se = math.nan
    n = problem.n_obs
    fit_info = {
        "objective": float(objective),
        "objective_kind": "weighted SSE" if problem.least_squares else "-log-likelihood",
        "loglik": loglik, "aic": -2 * loglik + 2 * (p + (1 if problem.least_squares else 0)),
        "bic": -2 * loglik + math.log(n) * (p + (1 if problem.least_squares else 0)),
        "n_obs": n, "n_params": p, "dof": n - p, "residual_se": resid_se,
        "covariance_method": cov_method, "interval_level": level,
        "interval_method": f"Wald, {'t' if problem.least_squares else 'normal'} quantile {q:.4g}",
        "ensemble_calls": problem.n_calls, "model_runs": problem.n_runs,
        "seconds": round(_time.perf_counter() - t_start, 2),
        "step_check": _step_check(problem, spec, theta),
    }
    data_files = {}
    for b in problem.series:
        if b.obs.source.is_file():
            data_files[b.spec.name] = {"file": str(b.obs.source), "sha256": file_sha256(b.obs.source)}
    fixed = dict(problem.fixed)
    paths_df = _paths_table(problem, theta)
    if any(b.kind == "step" for b in problem.paths):
        notes.append("A step path is fitted as a linear change over the one time step ending at its "
                     f"year (time step {problem.dt:g}): exactly the hard step on a grid year, continuous "
                     "in the year between (pvsd.calibration.panel.paths); fitted_parameters.toml replays "
                     "that exact form, the paths table also gives the hard step for reading.")
    prov = provenance(
        problem.model.path, problem.model.sha256,
        {**fixed, **{n_: float(v) for n_, v in zip(problem.model_names, theta, strict=False)}},
        seed=spec.seed, method="calibration",
        spec_file=str(spec.source) if spec.source else None,
        spec_sha256=file_sha256(spec.source) if spec.source and spec.source.is_file() else None,
        data_files=data_files, fit_period=spec.fit_period, holdout_period=spec.holdout_period,
        time_step=problem.dt, scipy_version=_version("scipy"), emcee_version=_version("emcee"),
        **({"paths": paths_df.to_dict("records")} if len(paths_df) else {}),
    )
    return CalibrationResult(
        title=spec.title or f"Calibration of {problem.model.name}",
        model=problem.model.name,
        params={n_: float(v) for n_, v in zip(problem.model_names, theta, strict=False)},
        fixed=fixed,
        parameters=params_df,
        stats=stats_df,
        skill=skill_df,
        skill_verdict=tuple(skill_text),
        fitted=fitted,
        trajectory=trajectory,
        bands=bands,
        correlation=corr_df,
        covariance=cov_df,
        noise=pd.DataFrame(noise_rows),
        starts=starts,
        profiles=pd.concat(prof_tables, ignore_index=True) if prof_tables else pd.DataFrame(
            columns=["parameter", "value", "objective", "tau"]),
        posterior=post["summary"] if post else pd.DataFrame(
            columns=["parameter", "mean", "sd", "median", "lower", "upper", "tau", "ess", "rhat"]),
        samples=post["samples"] if post else pd.DataFrame(columns=names),
        mcmc=post["diagnostics"] if post else {},
        convergence=convergence,
        fit=fit_info,
        data=problem.data_frame(),
        units={v: problem.model.units.get(v, "") for v in problem.variables},
        warnings=tuple(dict.fromkeys(notes)),
        provenance=prov,
        paths=paths_df,
    )


def _paths_table(problem: Problem, theta: np.ndarray) -> pd.DataFrame:
    """One row per lever path: fitted pieces, the hard step for reading, the exact fitted form."""
    from pvsd.calibration.panel.paths import path_table

    rows = [path_table(var, kind, vals, problem.dt) for var, kind, vals in problem.path_values(theta)]
    if not rows:
        return pd.DataFrame()
    cols = ["parameter", "path", "from", "at", "start", "end", "to", "scenario", "scenario_exact"]
    df = pd.DataFrame(rows)
    return df[[c for c in cols if c in df]]


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _step_check(problem: Any, spec: Any, theta: np.ndarray) -> str:
    """How much the fitted trajectories change when the time step is halved (one line)."""
    from pvsd.errors import PvsdError
    from pvsd.numerics.stepcheck import step_check

    params = problem.run_params(theta)
    try:
        res = step_check(problem.model, params=params, outputs=list(problem.variables),
                         time_step=problem.dt, method=getattr(spec, "method", "euler"),
                         final_time=problem.t1)
    except PvsdError as exc:
        return f"not available ({exc})"
    return res.summary()


def _convergence_note(conv: dict[str, Any]) -> str:
    """Why the search is not called converged, and what the agreement of the starts says."""
    msg = str(conv["local"].get("message", "")).strip().rstrip(":") or "no message"
    note = f"the optimiser did not report convergence ({msg})"
    if msg.upper().startswith("ABNORMAL"):
        # L-BFGS-B's line search found no decrease along its direction
        note += (": its line search found no decrease, which happens when the finite-difference "
                 "gradient is no longer accurate near a flat optimum or a bound")
    agree, starts = conv.get("starts_at_best"), conv.get("starts")
    if agree is not None and starts:
        note += f"; {agree} of {starts} local starts reached the best objective"
        note += (", which suggests the optimum was found; check it with the profiles (--profile)"
                 if agree > 1 else "; add starts ([search] starts) or check the profiles (--profile)")
    return note

