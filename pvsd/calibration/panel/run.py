"""``calibrate_panel``: fit, pool, sample, forecast and judge a panel in one call."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.calibration.panel.fit import PointFit, fit_point, fit_pooled
from pvsd.calibration.panel.paths import fitted_paths, scenario_file
from pvsd.calibration.panel.problem import PanelProblem
from pvsd.calibration.panel.result import PanelResult
from pvsd.calibration.panel.sample import PosteriorSample, sample_posterior
from pvsd.calibration.panel.spec import PanelSpec, load_panel_spec
from pvsd.calibration.skill import NAIVE, compare, naive_forecasts, verdict
from pvsd.errors import SpecError

if TYPE_CHECKING:
    from pvsd.model import Model

__all__ = ["calibrate_panel"]

LEVEL = 0.95


def _draws(pb: PanelProblem, fit: PointFit, post: PosteriorSample | None, n: int, seed: int
           ) -> np.ndarray:
    """Parameter draws (n, n_vars) in unit coordinates: posterior, else Laplace."""
    rng = np.random.default_rng(seed)
    if post is not None:
        flat = post.x.reshape(-1, post.x.shape[-1])
        return flat[rng.choice(len(flat), size=min(n, len(flat)), replace=False)]
    free = fit.free
    c = fit.cov[np.ix_(free, free)]
    w, V = np.linalg.eigh(0.5 * (c + c.T))
    L = V * np.sqrt(np.clip(w, 0, None))
    out = np.tile(fit.x, (n, 1))
    out[:, free] += rng.standard_normal((n, free.sum())) @ L.T
    return np.clip(out, 0, 1)


def _tables(pb: PanelProblem, fit: PointFit, post: PosteriorSample | None
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    z = 1.959963984540054
    s_val, U_val = pb.values(fit.x)
    se = np.sqrt(np.abs(np.diag(fit.cov)))
    lo_b = fit.x <= 1e-5
    hi_b = fit.x >= 1 - 1e-5
    S, K = pb.n_shared, pb.K
    pm = psd = plo = phi = rh = es = None
    if post is not None:
        widths = np.array([e.width for e in pb.shared] + [e.width for e in pb.per_unit] * pb.n_units)
        lows = np.array([e.lower for e in pb.shared] + [e.lower for e in pb.per_unit] * pb.n_units)
        vals = lows + post.x.reshape(-1, pb.n_vars) * widths
        pm, psd = vals.mean(0), vals.std(0)
        plo, phi = np.quantile(vals, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
        rh, es = post.rhat, post.ess

    def row(j: int, e: Any, value: float) -> dict[str, Any]:
        sd = se[j] * e.width if np.isfinite(se[j]) else np.nan
        r = {"parameter": e.name, "scope": e.scope, "value": value, "stderr": sd,
             "lower": value - z * sd, "upper": value + z * sd,
             "at_bound": "lower" if lo_b[j] else ("upper" if hi_b[j] else ""),
             "bound_lower": e.lower, "bound_upper": e.upper}
        if pm is not None:
            r.update(posterior_mean=pm[j], posterior_sd=psd[j], posterior_lower=plo[j],
                     posterior_upper=phi[j], rhat=rh[j], ess=es[j])
        return r

    shared = pd.DataFrame([row(j, e, s_val[j]) for j, e in enumerate(pb.shared)])
    est = []
    for i, u in enumerate(pb.units):
        for k, e in enumerate(pb.per_unit):
            est.append({"unit": u, **row(S + i * K + k, e, U_val[i, k])})
    estimates = pd.DataFrame(est)
    pop = []
    if fit.mu is not None:
        kp = np.flatnonzero(pb.pooled)
        for jj, k in enumerate(kp):
            e = pb.per_unit[k]
            q = e.lower + e.width / (1 + np.exp(-(fit.mu[jj] + np.array([-1.645, 0, 1.645])
                                                  * fit.tau[jj])))
            r = {"parameter": e.name, "mu_logit": fit.mu[jj], "tau_logit": fit.tau[jj],
                 "population_median": q[1], "population_p05": q[0], "population_p95": q[2]}
            if post is not None:
                r.update(posterior_mu=float(post.mu[:, :, jj].mean()),
                         posterior_tau=float(post.tau[:, :, jj].mean()),
                         rhat_mu=float(post.rhat_hyper[jj]),
                         rhat_tau=float(post.rhat_hyper[len(kp) + jj]))
            pop.append(r)
    return shared, estimates, pd.DataFrame(pop)


def calibrate_panel(spec: PanelSpec | str | Path, model: Model | None = None, *,
                    posterior: bool | Mapping[str, Any] | None = None, holdout: int | None = None,
                    forecast: list[float] | None = None, log: Callable[[str], None] | None = None
                    ) -> PanelResult:
    """Fit one model to every unit of a panel, forecast, and compare with naive forecasts.

    Parameters
    ----------
    spec
        A :class:`PanelSpec` or the path of a panel spec file (TOML).
    model
        The loaded model (default: loaded from the spec).
    posterior
        True/False to force the full posterior on or off, or a table of
        ``[posterior]`` options.
    holdout, forecast
        Override ``[panel] holdout`` (last N waves per unit) and ``forecast`` years.
    log
        Called with progress messages.

    Returns
    -------
    PanelResult
    """
    from pvsd import __version__
    from pvsd.provenance import provenance

    say = log or (lambda m: None)
    t_start = time.perf_counter()
    if not isinstance(spec, PanelSpec):
        spec = load_panel_spec(spec)
    if isinstance(posterior, Mapping):
        spec = spec.with_options(posterior={**posterior, "enabled": posterior.get("enabled", True)})
    elif posterior is not None:
        spec = spec.with_options(posterior={"enabled": bool(posterior)})
    spec = spec.with_options(holdout=holdout, forecast=tuple(forecast) if forecast else None)
    pb = PanelProblem(spec, model)
    say(f"{pb.n_units} units, {pb.n_obs} observations fitted, {pb.n_vars} parameters "
        f"({pb.n_shared} shared, {pb.K} per unit)")
    t_fit = time.perf_counter()
    point = fit_point(pb, log=say)
    fit = fit_pooled(pb, point, log=say) if pb.pooled.any() else point
    seconds_point = time.perf_counter() - t_fit
    post = None
    if spec.posterior["enabled"]:
        say("sampling the posterior (Metropolis-within-Gibbs over unit blocks)")
        post = sample_posterior(pb, fit, log=say)
    shared, estimates, population = _tables(pb, fit, post)
    paths = fitted_paths(pb, fit.x)
    scenarios = scenario_file(pb, shared, estimates, paths)
    # ---- fitted values and forecasts
    years_fc = np.asarray(sorted(set(spec.forecast)), float)
    m_end = float(pb.model.final_time)
    if len(years_fc) and years_fc.max() > m_end + 1e-9:
        raise SpecError(f"{spec.where}: forecast year {years_fc.max():g} is after the model's FINAL "
                        f"TIME {m_end:g}; forecast up to {m_end:g} or extend the model.")
    if len(years_fc) and years_fc.min() < pb.t0:
        raise SpecError(f"{spec.where}: forecast year {years_fc.min():g} is before the runs start "
                        f"({pb.t0:g}).")
    all_years = np.unique(np.concatenate([pb.years, years_fc]))
    s_u, U_u = pb.split(fit.x)
    unit = pb.all_units()
    best = pb.predict(np.tile(s_u, (pb.n_units, 1)), U_u, unit, years=all_years)
    wave_stats = dict(pb.wave.stats) if pb.wave is not None else {}
    states = pb.wave.states_table() if pb.wave is not None else pd.DataFrame()
    if pb.wave is not None:
        scenarios = ("# estimator wave-ahead: these scenarios set the fitted parameters only. Each "
                     "fitted run\n# starts at an observed wave from the state in states.csv "
                     "(unit, start, constant, value),\n# so a run of the model from its INITIAL "
                     "TIME does not replay them.\n" + scenarios)
    n_draws = int(spec.posterior["draws"])
    X = _draws(pb, fit, post, n_draws, spec.seed + 11)
    D = len(X)
    s_d = np.repeat(X[:, :pb.n_shared], pb.n_units, axis=0)
    U_d = X[:, pb.n_shared:].reshape(D, pb.n_units, pb.K).reshape(D * pb.n_units, pb.K)
    say(f"forecast bands from {D} {'posterior' if post is not None else 'Laplace'} draws")
    # wave-ahead: bands are used for the held-out and forecast years only (from the last start)
    need = None if pb.wave is None else np.tile(all_years[None, :] > pb.wave.last[:, None] + 1e-9,
                                                 (D, 1))
    pd_ = pb.predict(s_d, U_d, np.tile(unit, D), years=all_years, need=need
                     ).reshape(D, pb.n_units, pb.S, -1)
    rng = np.random.default_rng(spec.seed + 13)
    noisy = pd_ + rng.standard_normal(pd_.shape) * pb.sigma[None, None, :, None]
    lo, hi = np.quantile(noisy, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=0)
    yi = {y: j for j, y in enumerate(all_years)}
    fitted_rows, fc_rows, skill_rows = [], [], []
    assumption = "; ".join(pb.input_notes) or "no per-unit inputs"
    for k, ser in enumerate(spec.series):
        for i, u in enumerate(pb.units):
            obs = pb.period[k, i] > 0
            yrs, vals, per = pb.years[obs], pb.Y[k, i, obs], pb.period[k, i, obs]
            used = pb.fit_mask[k, i, obs]  # wave-ahead: a unit's first wave only sets a state
            for y, v, p, f in zip(yrs, vals, per, used, strict=True):
                fitted_rows.append({"unit": u, "series": ser.name, "year": y,
                                    "period": "holdout" if p == 2 else "fit" if f else
                                    "start" if pb.wave is not None and y == pb.wave.first[i]
                                    else "unused",
                                    "data": v, "fitted": best[i, k, yi[y]]})
            hmask = per == 2
            if hmask.any():
                hist_y, hist_v = yrs[per == 1], vals[per == 1]
                nv = naive_forecasts(hist_y, hist_v, yrs[hmask])
                for j, y in enumerate(yrs[hmask]):
                    skill_rows.append({"unit": u, "series": ser.name, "year": y,
                                       "actual": vals[hmask][j], "model": best[i, k, yi[y]],
                                       **{m: nv[m][j] for m in NAIVE}})
            targets = sorted(set(yrs[hmask].tolist()) | set(years_fc.tolist()))
            for y in targets:
                fc_rows.append({"unit": u, "series": ser.name, "year": y,
                                "value": best[i, k, yi[y]], "lo": lo[i, k, yi[y]],
                                "hi": hi[i, k, yi[y]],
                                "kind": "holdout" if y in set(yrs[hmask].tolist()) else "forecast",
                                "assumption": assumption})
    fitted = pd.DataFrame(fitted_rows)
    fitted["residual"] = fitted["data"] - fitted["fitted"]
    forecast_df = pd.DataFrame(fc_rows, columns=["unit", "series", "year", "value", "lo", "hi",
                                                 "kind", "assumption"])
    skill_obs = pd.DataFrame(skill_rows)
    if len(skill_obs):
        skill, skill_units = compare(skill_obs)
        sentences = verdict(skill, pb.n_units)
    else:
        skill = skill_units = pd.DataFrame()
        sentences = ["No held-out observations: forecast skill is unknown (use --holdout N)."]
    # ---- per-unit fit statistics
    ustats = []
    for (u, s), d in fitted.groupby(["unit", "series"], sort=False):
        r = {"unit": u, "series": s}
        for per in ("fit", "holdout"):
            dd = d[d["period"] == per]
            err = dd["fitted"] - dd["data"]
            r[f"n_{per}"] = len(dd)
            r[f"rmse_{per}"] = float(np.sqrt(np.mean(err**2))) if len(dd) else np.nan
            with np.errstate(divide="ignore", invalid="ignore"):
                r[f"mape_{per}"] = float(100 * np.mean(np.abs(err / dd["data"]))) if len(dd) else np.nan
        ustats.append(r)
    unit_stats = pd.DataFrame(ustats)
    nb = estimates.groupby("unit")["at_bound"].apply(lambda s: int((s != "").sum()))
    unit_stats["params_at_bound"] = unit_stats["unit"].map(nb).fillna(0).astype(int)
    # ---- trajectories for the figures (yearly)
    grid = np.arange(np.floor(pb.t0), np.ceil(all_years.max()) + 1e-9, 1.0)
    grid = grid[(grid >= pb.t0) & (grid <= m_end)]
    if pb.wave is not None:  # one line per member, from the observed state at its start
        trajectories = pd.DataFrame(pb.wave.trajectories(s_u, U_u, grid, float(all_years.max())))
    else:
        traj = pb.predict(np.tile(s_u, (pb.n_units, 1)), U_u, unit, years=grid)
        trajectories = pd.DataFrame([
            {"unit": u, "series": ser.name, "year": y, "fitted": traj[i, k, j]}
            for k, ser in enumerate(spec.series) for i, u in enumerate(pb.units)
            for j, y in enumerate(grid)])
    warnings_ = list(pb.warnings)
    if wave_stats.get("clipped"):
        warnings_.append(f"wave-ahead: {wave_stats['clipped']} of {wave_stats['starts']} starts "
                         "could not match their observation within the state constant's range "
                         "(clipped to the range end nearer the observation): the model cannot "
                         "reach those observed values.")
    if pb.tf_columns is False and pb.tf_note:
        warnings_.append(pb.tf_note)
    n_bound = int((estimates["at_bound"] != "").sum()) + int((shared["at_bound"] != "").sum()) \
        if len(shared) else int((estimates["at_bound"] != "").sum())
    if n_bound:
        warnings_.append(f"{n_bound} of {pb.n_vars} fitted parameters end at a bound (no standard "
                         "error; the others' errors are conditional on them).")
    wide = shared[shared["stderr"] > (shared["bound_upper"] - shared["bound_lower"])] \
        if len(shared) else shared
    for r in wide.itertuples(index=False):
        warnings_.append(f"shared parameter {r.parameter!r} is not identified by the data: its "
                         f"standard error ({r.stderr:.3g}) exceeds its whole range; it trades off "
                         "against other parameters (fix it or fit a combination).")
    nwide = int((estimates["stderr"] > (estimates["bound_upper"] - estimates["bound_lower"])).sum()) \
        if len(estimates) else 0
    if nwide:
        warnings_.append(f"{nwide} per-unit estimate(s) have a standard error wider than the "
                         "parameter's range (not identified for that unit).")
    if post is not None:
        mx = float(np.nanmax(np.concatenate([post.rhat, post.rhat_hyper])))
        if mx >= 1.01:
            warnings_.append(f"posterior: max R-hat {mx:.3f} >= 1.01: chains have not converged; "
                             "run more iterations before trusting the intervals.")
    files = [s.file for s in spec.series] + [i.file for i in spec.inputs]
    prov = provenance(pb.model.path, pb.model.sha256, {
        "shared": dict(zip(shared["parameter"], shared["value"].astype(float), strict=True))
        if len(shared) else {}}, seed=spec.seed, method="panel calibration",
        spec=str(spec.source) if spec.source else None,
        data_files={str(f): _sha(f) for f in files}, units=len(pb.units),
        holdout=spec.holdout, forecast=list(years_fc), inputs=pb.input_notes,
        estimator=spec.estimator,
        state={st.constant: st.series for st in spec.state} if spec.state else None)
    fit_info = {
        "n_units": pb.n_units, "n_obs": pb.n_obs, "n_params": pb.n_vars,
        "n_shared": pb.n_shared, "n_per_unit": pb.K, "cost": fit.cost,
        "sigma": dict(zip([s.name for s in spec.series], pb.sigma.tolist(), strict=True)),
        "message": fit.message, "em_iterations": fit.em_iterations, "model_runs": pb.n_runs,
        "ensemble_calls": pb.n_calls, "engine_members": pb.n_members,
        "layout": f"one run holds every unit (dimension {pb.dim.name})" if pb.dim is not None
        else "the model runs once per unit",
        "path_form": "a step is a linear change over the one time step before its year"
        if any(b.kind == "step" for b in pb.paths) else "", "seconds_point": round(seconds_point, 2),
        "seconds": round(time.perf_counter() - t_start, 2), "pvsd_version": __version__,
        "interval_level": LEVEL, "bands": "posterior" if post is not None else "Laplace",
        "estimator": spec.estimator,
    }
    if pb.wave is not None:
        fit_info.update(wave_pairs=pb.wave.n_pairs, wave_starts=wave_stats.get("starts", 0),
                        wave_clipped=wave_stats.get("clipped", 0), wave_runs=pb.wave.mode,
                        wave_state=", ".join(f"{c} <- {spec.series[k].name}"
                                             for c, k, _, _ in pb.wave.state),
                        wave_unused=pb.wave.n_unused)
    mcmc: dict[str, Any] = {}
    if post is not None:
        mcmc = {"sampler": "Metropolis-within-Gibbs (unit blocks, shared, population, noise)",
                "chains": int(post.x.shape[0]), "iterations": post.iterations,
                "warmup": post.warmup, "draws_kept": int(post.x.shape[0] * post.x.shape[1]),
                **{f"acceptance_{k}": round(v, 3) for k, v in post.acceptance.items()},
                "max_rhat": float(np.nanmax(np.concatenate([post.rhat, post.rhat_hyper]))),
                "min_ess": float(np.nanmin(np.concatenate([post.ess, post.ess_hyper]))),
                "worst_rhat": _worst(pb, post), "seconds": round(post.seconds, 1)}
    return PanelResult(
        title=spec.title or f"Panel calibration of {pb.model.name}", model=pb.model.name,
        units=tuple(pb.units), skipped=pb.skipped, shared=shared, estimates=estimates,
        population=population, unit_stats=unit_stats, fitted=fitted, forecast=forecast_df,
        skill=skill, skill_units=skill_units, verdict=tuple(sentences), trajectories=trajectories,
        fit=fit_info, mcmc=mcmc, show=tuple(u for u in spec.show if u in pb.units),
        warnings=tuple(warnings_), provenance=prov, paths=paths, scenarios=scenarios,
        states=states)


def _worst(pb: PanelProblem, post: PosteriorSample) -> str:
    """Name of the quantity with the largest R-hat (unit: parameter, or a population term)."""
    names = [e.name for e in pb.shared] + [f"{u}: {e.name}" for u in pb.units for e in pb.per_unit]
    kp = [pb.per_unit[k].name for k in np.flatnonzero(pb.pooled)]
    names += [f"population mu: {n}" for n in kp] + [f"population log tau: {n}" for n in kp]
    vals = np.concatenate([post.rhat, post.rhat_hyper])
    return names[int(np.nanargmax(vals))]


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
