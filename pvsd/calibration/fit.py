"""The calibration engine: global search, local polish, curvature, profiles, MCMC.

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

from pvsd.calibration.problem import PENALTY, Problem
from pvsd.calibration.spec import CalibrationSpec, load_spec
from pvsd.calibration.stats import STAT_COLUMNS, fit_statistics
from pvsd.errors import SpecError

__all__ = ["calibrate"]

#: Relative finite-difference steps (of max(|value|, 1% of the bound range)).
REL_STEP_JAC = 1e-5
REL_STEP_HESS = 1e-3


def _steps(problem: Problem, theta: np.ndarray, rel: float) -> np.ndarray:
    rng = problem.upper - problem.lower
    return rel * np.maximum(np.abs(theta), 1e-2 * rng)


def _at_bounds(problem: Problem, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which parameters sit at their lower / upper bound (relative and absolute tolerance)."""
    tol = np.minimum(1e-4 * (problem.upper - problem.lower), 1e-3 * np.maximum(np.abs(theta), 1e-12))
    return theta - problem.lower <= tol, problem.upper - theta <= tol


def _center(problem: Problem, theta: np.ndarray, h: np.ndarray, k: float = 2.0) -> np.ndarray:
    """Move a stencil centre inward so that every stencil point respects the bounds."""
    return np.clip(theta, problem.lower + k * h, problem.upper - k * h)


# ---------------------------------------------------------------------- local fits
def _jacobian(problem: Problem, theta: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Central-difference Jacobian of the weighted residuals, (n_obs, n_free), in parameter units."""
    h = _steps(problem, theta, REL_STEP_JAC)
    c = _center(problem, theta, h, 1.0)
    idx = np.flatnonzero(free)
    pts = []
    for i in idx:
        for sgn in (1.0, -1.0):
            t = c.copy()
            t[i] += sgn * h[i]
            pts.append(t)
    r = problem.residuals(np.asarray(pts))
    jac = (r[0::2] - r[1::2]) / (2.0 * h[idx][:, None])
    return jac.T


def _unit_box(problem: Problem, theta0: np.ndarray, free: np.ndarray
              ) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, np.ndarray]:
    """Local searches work on the free parameters scaled to [0, 1] within their bounds.

    Returns the map from unit coordinates back to a full parameter vector, the start
    point in unit coordinates, and the bound widths.
    """
    lo, width = problem.lower, problem.upper - problem.lower

    def assemble(uf: np.ndarray) -> np.ndarray:
        t = theta0.copy()
        t[free] = lo[free] + np.clip(uf, 0, 1) * width[free]
        return t

    return assemble, np.clip((theta0[free] - lo[free]) / width[free], 0.0, 1.0), width


def _local_ls(problem: Problem, theta0: np.ndarray, free: np.ndarray, max_nfev: int = 200
              ) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Bounded nonlinear least squares (trust-region reflective) over the free parameters."""
    from scipy import optimize
    assemble, u0, width = _unit_box(problem, theta0, free)

    def fun(uf: np.ndarray) -> np.ndarray:
        return problem.residuals(assemble(uf)[None, :])[0]

    def jac(uf: np.ndarray) -> np.ndarray:
        return _jacobian(problem, assemble(uf), free) * width[free][None, :]

    res = optimize.least_squares(fun, u0, jac=jac, bounds=(0.0, 1.0), method="trf",
                                 x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12,
                                 max_nfev=max_nfev)
    theta = assemble(res.x)
    sse = float(np.sum(res.fun**2))
    info = {"success": bool(res.status > 0), "message": str(res.message), "nfev": int(res.nfev)}
    return theta, sse, info


def _negll_grad(problem: Problem, theta: np.ndarray, free: np.ndarray) -> tuple[float, np.ndarray]:
    h = _steps(problem, theta, REL_STEP_JAC * 10)
    c = _center(problem, theta, h, 1.0)
    idx = np.flatnonzero(free)
    pts = [theta]
    for i in idx:
        for sgn in (1.0, -1.0):
            t = c.copy()
            t[i] += sgn * h[i]
            pts.append(t)
    ll = problem.loglik(np.asarray(pts))
    f = -ll[0]
    if not np.isfinite(f):
        return PENALTY, np.zeros(idx.size)
    g = -(ll[1::2] - ll[2::2]) / (2.0 * h[idx])
    g = np.where(np.isfinite(g), g, 0.0)
    return float(f), g


def _local_ml(problem: Problem, theta0: np.ndarray, free: np.ndarray, maxiter: int = 300
              ) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Bounded quasi-Newton (L-BFGS-B) minimisation of the negative log-likelihood."""
    from scipy import optimize
    assemble, u0, width = _unit_box(problem, theta0, free)

    def fg(uf: np.ndarray) -> tuple[float, np.ndarray]:
        f, g = _negll_grad(problem, assemble(uf), free)
        return f, g * width[free]

    res = optimize.minimize(fg, u0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * int(free.sum()),
                            options={"maxiter": maxiter, "ftol": 1e-13, "gtol": 1e-9})
    theta = assemble(res.x)
    info = {"success": bool(res.success), "message": str(res.message), "nfev": int(res.nfev)}
    return theta, float(res.fun), info


def _local(problem: Problem, theta0: np.ndarray, free: np.ndarray | None = None
           ) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Local fit from ``theta0``; returns (theta, objective, info). Objective: SSE or -loglik."""
    if free is None:
        free = np.ones(problem.n_params, dtype=bool)
    if not free.any():
        obj = _objective(problem, theta0[None, :])[0]
        return theta0.copy(), float(obj), {"success": True, "message": "nothing free", "nfev": 1}
    if problem.least_squares:
        return _local_ls(problem, theta0, free)
    return _local_ml(problem, theta0, free)


def _objective(problem: Problem, thetas: np.ndarray) -> np.ndarray:
    """What the search minimises: the weighted SSE (least squares) or -loglik."""
    if problem.least_squares:
        v = problem.sse(thetas)
    else:
        v = -problem.loglik(thetas)
    return np.where(np.isfinite(v), v, PENALTY)


# ---------------------------------------------------------------------- global search
def _search(problem: Problem, opts: Mapping[str, Any], seed: int, progress: bool | None
            ) -> tuple[np.ndarray, float, pd.DataFrame, dict[str, Any]]:
    from scipy import optimize

    from pvsd.progress import progress_bar

    d = problem.n_params
    rng = np.random.default_rng(seed)
    u_start = problem.to_unit(problem.x0)
    starts: list[tuple[str, np.ndarray]] = []
    de_info: dict[str, Any] = {"used": bool(opts["global"])}
    if opts["global"]:
        def func(u: np.ndarray) -> np.ndarray:  # u: (d, S)
            return _objective(problem, problem.from_unit(np.asarray(u).T))

        with progress_bar(int(opts["maxiter"]), "global search (differential evolution)",
                          enabled=progress) as bar:
            def cb(intermediate_result: Any) -> None:
                bar.update(1)

            res = optimize.differential_evolution(
                func, [(0.0, 1.0)] * d, vectorized=True, updating="deferred",
                popsize=int(opts["popsize"]), maxiter=int(opts["maxiter"]), tol=float(opts["tol"]),
                polish=False, init="latinhypercube", x0=u_start, rng=rng, callback=cb,
            )
        de_info.update(success=bool(res.success), message=str(res.message), nit=int(res.nit),
                       nfev=int(res.nfev), best=float(res.fun))
        starts.append(("global search best", problem.from_unit(res.x)))
        starts.append(("spec starting values", problem.x0))
        pop = getattr(res, "population", None)
        energies = getattr(res, "population_energies", None)
        if pop is not None and energies is not None:
            for i in np.argsort(energies):
                if len(starts) >= opts["starts"]:
                    break
                cand = problem.from_unit(pop[i])
                if all(np.max(np.abs(problem.to_unit(cand) - problem.to_unit(s))) > 0.02 for _, s in starts):
                    starts.append((f"population member {int(i)}", cand))
    else:
        starts.append(("spec starting values", problem.x0))
    from scipy.stats import qmc

    extra = int(opts["starts"]) - len(starts)
    if extra > 0:
        u = qmc.LatinHypercube(d=d, rng=rng).random(extra)
        starts += [(f"random start {k + 1}", problem.from_unit(u[k])) for k in range(extra)]
    starts = starts[: max(1, int(opts["starts"]))]
    rows = []
    best: tuple[np.ndarray, float, dict[str, Any]] | None = None
    with progress_bar(len(starts), "local polish", enabled=progress) as bar:
        for origin, t0 in starts:
            theta, obj, info = _local(problem, t0)
            rows.append({"start": len(rows) + 1, "origin": origin, "objective": obj,
                         "converged": info["success"], "message": info["message"],
                         "evaluations": info["nfev"], **problem.param_dict(theta)})
            if best is None or obj < best[1]:
                best = (theta, obj, info)
            bar.update(1)
    assert best is not None
    table = pd.DataFrame(rows)
    tol = 1e-6 * max(1.0, abs(best[1]))
    agree = int(np.sum(np.abs(table["objective"] - best[1]) <= tol))
    conv = {"global_search": de_info, "local": best[2], "starts": len(rows),
            "starts_at_best": agree,
            "converged": bool(best[2]["success"] and (de_info.get("success", True) or agree > 1))}
    return best[0], best[1], table, conv


# ---------------------------------------------------------------------- curvature
def _covariance(problem: Problem, theta: np.ndarray, objective: float
                ) -> tuple[np.ndarray, str, float | None, int | None, list[str]]:
    """Covariance of the estimates from the curvature at the optimum.

    Least squares: ``s^2 (J'J)^-1`` with ``s^2 = SSE / (n - p)`` (as R's nls).
    Otherwise the inverse of the finite-difference Hessian of -loglik.
    """
    p_all = problem.n_params
    notes: list[str] = []
    width = problem.upper - problem.lower
    # parameters at a bound have no curvature-based error (the optimum is not interior there):
    # the others are treated as conditional on them
    at_lo, at_hi = _at_bounds(problem, theta)
    active = ~(at_lo | at_hi)
    cov_all = np.full((p_all, p_all), np.nan)
    if not active.any():
        notes.append("every parameter is at a bound: no standard errors")
        dof0 = problem.n_obs - p_all
        s2_0 = objective / dof0 if problem.least_squares and dof0 > 0 else None
        return cov_all, "none (all parameters at bounds)", s2_0, dof0 if s2_0 else None, notes
    if not active.all():
        at = ", ".join(repr(n) for n, a in zip(problem.names, active, strict=True) if not a)
        notes.append(f"no standard errors for {at} (at a bound); the others are conditional on them")
    idx = np.flatnonzero(active)
    p = idx.size
    if problem.least_squares:
        jac = _jacobian(problem, theta, active)
        dof = problem.n_obs - p_all
        s2 = objective / dof
        jtj = jac.T @ jac
        method = "Gauss-Newton: s^2 (J'J)^-1, s^2 = SSE/(n-p)"
        info = jtj
        scale = s2
    else:
        h = _steps(problem, theta, REL_STEP_HESS)
        c = _center(problem, theta, h, 2.0)
        pts = [c]
        for i in idx:
            for sgn in (1.0, -1.0):
                t = c.copy()
                t[i] += sgn * h[i]
                pts.append(t)
        pairs = [(i, j) for a, i in enumerate(idx) for j in idx[a + 1:]]
        for i, j in pairs:
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                t = c.copy()
                t[i] += si * h[i]
                t[j] += sj * h[j]
                pts.append(t)
        f = -problem.loglik(np.asarray(pts))
        f0 = f[0]
        hess = np.zeros((p, p))
        pos = {i: a for a, i in enumerate(idx)}
        for a, i in enumerate(idx):
            hess[a, a] = (f[1 + 2 * a] - 2 * f0 + f[2 + 2 * a]) / h[i] ** 2
        base = 1 + 2 * p
        for k, (i, j) in enumerate(pairs):
            fpp, fpm, fmp, fmm = f[base + 4 * k: base + 4 * k + 4]
            hess[pos[i], pos[j]] = hess[pos[j], pos[i]] = (fpp - fpm - fmp + fmm) / (4 * h[i] * h[j])
        method = "inverse Hessian of -log-likelihood (finite differences)"
        info, scale, s2, dof = hess, 1.0, None, None
    cov = np.full((p, p), np.nan)
    if np.all(np.isfinite(info)):
        # work in parameters scaled to their magnitude, so the conditioning test is unit-free
        dscale = np.maximum(np.abs(theta), 1e-2 * width)[idx]
        scaled = info * np.outer(dscale, dscale)
        try:
            w = np.linalg.eigvalsh(scaled)
            if w.min() > 1e-10 * max(w.max(), 1e-300):
                cov = scale * np.linalg.inv(scaled) * np.outer(dscale, dscale)
            else:
                notes.append("the curvature matrix is singular or not positive definite at the "
                             "optimum: some parameters are not identified by the data, so their "
                             "standard errors are not given")
        except np.linalg.LinAlgError:
            notes.append("the curvature matrix could not be inverted")
    else:
        notes.append("the curvature could not be computed (simulations failed near the optimum)")
    cov_all[np.ix_(idx, idx)] = cov
    return cov_all, method, s2, dof, notes


# ---------------------------------------------------------------------- profiles
def _profile(problem: Problem, theta: np.ndarray, objective: float, k: int, se: float,
             level: float, s2: float | None, dof: int | None
             ) -> tuple[float, float, pd.DataFrame, list[str]]:
    """Profile-likelihood interval of parameter ``k``.

    Least squares: where the profile t statistic sqrt((S - S_min)/s^2) reaches the
    t quantile (as MASS's ``confint.nls``); otherwise where twice the drop in
    log-likelihood reaches the chi-square(1) quantile.
    """
    from scipy import stats
    if problem.least_squares:
        assert s2 is not None and dof is not None
        cut = float(stats.t.ppf(0.5 + level / 2, dof))

        def stat(obj: float) -> float:
            return math.sqrt(max(obj - objective, 0.0) / s2)
    else:
        cut = math.sqrt(float(stats.chi2.ppf(level, 1)))

        def stat(obj: float) -> float:
            return math.sqrt(max(2.0 * (obj - objective), 0.0))

    lo, hi = problem.lower[k], problem.upper[k]
    step = 0.6 * se if np.isfinite(se) and se > 0 else 0.05 * (hi - lo)
    step = min(step, 0.25 * (hi - lo))
    free = np.ones(problem.n_params, dtype=bool)
    free[k] = False
    rows = [{"value": theta[k], "objective": objective, "tau": 0.0, **problem.param_dict(theta)}]
    ends: list[float] = []
    notes: list[str] = []
    for sgn in (-1.0, 1.0):
        cur = theta.copy()
        prev_v, prev_tau = theta[k], 0.0
        end = math.nan
        h = step
        for _ in range(14):
            v = float(np.clip(prev_v + sgn * h, lo, hi))
            h *= 1.5  # a flat profile (weakly identified parameter) is crossed in few steps
            if v == prev_v:
                break
            start = cur.copy()
            start[k] = v
            cur, obj, _info = _local(problem, start, free)
            tau = stat(obj)
            rows.append({"value": v, "objective": obj, "tau": sgn * tau, **problem.param_dict(cur)})
            if tau >= cut:
                frac = (cut - prev_tau) / (tau - prev_tau) if tau > prev_tau else 1.0
                end = prev_v + frac * (v - prev_v)
                break
            prev_v, prev_tau = v, tau
        if math.isnan(end):
            bound = lo if sgn < 0 else hi
            if prev_v == bound:
                end = bound
                notes.append(f"the {level:.0%} profile interval of {problem.names[k]!r} reaches its "
                             f"{'lower' if sgn < 0 else 'upper'} bound {bound:g}: the data do not "
                             "rule out values beyond it")
            else:
                notes.append(f"the profile of {problem.names[k]!r} did not reach its cut-off on the "
                             f"{'lower' if sgn < 0 else 'upper'} side within 14 steps: the data barely "
                             "constrain it (the curvature-based standard error is too optimistic)")
        ends.append(end)
    table = pd.DataFrame(rows).sort_values("value").reset_index(drop=True)
    table.insert(0, "parameter", problem.names[k])
    return ends[0], ends[1], table, notes


# ---------------------------------------------------------------------- MCMC
def _split_rhat(chain: np.ndarray) -> np.ndarray:
    """Split R-hat (Gelman et al. 2013) per parameter; chain shape (steps, chains, params)."""
    n = chain.shape[0] // 2
    if n < 2:
        return np.full(chain.shape[2], np.nan)
    halves = np.concatenate([chain[:n], chain[n: 2 * n]], axis=1)  # (n, 2m, p)
    means = halves.mean(axis=0)
    w = halves.var(axis=0, ddof=1).mean(axis=0)
    b = n * means.var(axis=0, ddof=1)
    var = (n - 1) / n * w + b / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(var / w)


def _mcmc(problem: Problem, theta: np.ndarray, cov: np.ndarray, opts: Mapping[str, Any],
          level: float, seed: int, progress: bool | None) -> dict[str, Any]:
    import emcee

    from pvsd.progress import progress_bar

    d = problem.n_params
    walkers = int(opts["walkers"]) or max(16, 4 * d)
    walkers += walkers % 2
    steps = int(opts["steps"])
    burn = int(opts["burn"]) or steps // 3
    thin = max(1, int(opts["thin"]))
    rng = np.random.default_rng(seed)
    width = problem.upper - problem.lower
    se = np.sqrt(np.diag(cov)) if np.all(np.isfinite(np.diag(cov))) else np.full(d, np.nan)
    scale = np.where(np.isfinite(se) & (se > 0), np.minimum(0.1 * se, 0.01 * width), 1e-3 * width)
    p0 = theta + scale * rng.standard_normal((walkers, d))
    p0 = np.clip(p0, problem.lower + 1e-9 * width, problem.upper - 1e-9 * width)

    def log_prob(thetas: np.ndarray) -> np.ndarray:
        thetas = np.atleast_2d(thetas)
        lp = problem.logprior(thetas)
        out = np.full(thetas.shape[0], -np.inf)
        ok = np.isfinite(lp)
        if ok.any():
            out[ok] = problem.loglik(thetas[ok]) + lp[ok]
        return out

    sampler = emcee.EnsembleSampler(walkers, d, log_prob, vectorize=True)
    # emcee draws its moves from its own RandomState: seed it
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31 - 1))).get_state()
    t_start = _time.perf_counter()
    with progress_bar(steps, "MCMC (emcee)", enabled=progress) as bar:
        for _ in sampler.sample(p0, iterations=steps):
            bar.update(1)
    elapsed = _time.perf_counter() - t_start
    chain = sampler.get_chain()[burn::thin]  # (n, W, d)
    import emcee.autocorr

    tau = np.asarray(emcee.autocorr.integrated_time(chain, tol=0), dtype=float) * thin
    n_kept = chain.shape[0] * thin
    ess = n_kept * walkers / tau
    rhat = _split_rhat(chain)
    flat = chain.reshape(-1, d)
    a = (1 - level) / 2
    summary = pd.DataFrame({
        "parameter": problem.names,
        "mean": flat.mean(axis=0), "sd": flat.std(axis=0, ddof=1),
        "median": np.median(flat, axis=0),
        "lower": np.quantile(flat, a, axis=0), "upper": np.quantile(flat, 1 - a, axis=0),
        "tau": tau, "ess": ess, "rhat": rhat,
    })
    notes = []
    if n_kept < 50 * np.nanmax(tau):
        notes.append(f"the MCMC chain after burn-in ({n_kept} steps) is shorter than 50 "
                     f"autocorrelation times (max tau {np.nanmax(tau):.0f}); run more steps "
                     "([mcmc] steps) before trusting the posterior")
    if np.nanmax(rhat) > 1.05:
        worst = problem.names[int(np.nanargmax(rhat))]
        notes.append(f"R-hat of {worst!r} is {np.nanmax(rhat):.3f} > 1.05: the walkers disagree; "
                     "run more steps")
    acc = float(np.mean(sampler.acceptance_fraction))
    if not 0.15 <= acc <= 0.7:
        notes.append(f"MCMC acceptance fraction {acc:.2f} is outside 0.15-0.7")
    return {
        "summary": summary,
        "samples": pd.DataFrame(flat, columns=problem.names),
        "diagnostics": {"walkers": walkers, "steps": steps, "burn": burn, "thin": thin,
                        "acceptance_fraction": acc, "max_tau": float(np.nanmax(tau)),
                        "min_ess": float(np.nanmin(ess)), "max_rhat": float(np.nanmax(rhat)),
                        "seconds": round(elapsed, 2), "sampler": f"emcee {emcee.__version__}"},
        "notes": notes,
    }


# ---------------------------------------------------------------------- bands
def _plot_times(problem: Problem) -> np.ndarray:
    span = problem.t1 - problem.t0
    step = problem.dt * max(1, math.ceil(span / 200 / problem.dt))
    n = math.floor(span / step + 1e-9)
    grid = problem.t0 + step * np.arange(n + 1)
    obs = np.concatenate([b.obs.times[b.period != "unused"] for b in problem.series])
    return np.unique(np.round(np.concatenate([grid, obs, [problem.t1]]), 10))


def _noise(problem: Problem, theta: np.ndarray, mu_obs: list[np.ndarray], rng: np.random.Generator
           ) -> list[np.ndarray]:
    """Observation-noise scale per draw and series: sigma (Gaussian/sse) or None (counts)."""
    n_draw = theta.shape[0]
    out = []
    if problem.least_squares:
        sse = np.zeros(n_draw)
        for b, mu, y in problem._fit_parts(mu_obs):
            if b.spec.transform == "log":
                mu, y = np.log(mu), np.log(y)
            sse += np.sum((b.spec.weight * (mu - y)) ** 2, axis=1)
        s = np.sqrt(sse / rng.chisquare(problem.n_obs, n_draw))
        return [s / b.spec.weight for b in problem.series]
    for b, mu, y in problem._fit_parts(mu_obs):
        s = b.spec
        if s.likelihood == "gaussian":
            if s.sigma is not None:
                out.append(np.full(n_draw, s.sigma))
            else:
                m = mu if s.transform == "none" else np.log(mu)
                yy = y if s.transform == "none" else np.log(y)
                sse = np.sum((m - yy) ** 2, axis=1)
                out.append(np.sqrt(sse / rng.chisquare(max(yy.size, 1), n_draw)))
        elif s.likelihood == "sse":
            out.append(np.full(n_draw, 1.0 / s.weight))
        else:
            out.append(np.full(n_draw, np.nan))
    return out


def _bands(problem: Problem, draws: np.ndarray, level: float, seed: int, kind: str
           ) -> pd.DataFrame:
    """Quantile bands of the model (``parameter``) and of new observations (``predictive``)."""
    rng = np.random.default_rng(seed)
    times = _plot_times(problem)
    sims = problem.simulate(draws, times=times)
    mu_obs = [sims[b.variable][:, np.searchsorted(times, b.obs.times[b.period != "unused"])]
              for b in problem.series]
    sig = _noise(problem, draws, mu_obs, rng)
    a = (1 - level) / 2
    frames = []
    nuis = {k: draws[:, len(problem.model_names) + j] for j, (k, _) in enumerate(problem.nuisance)}
    for k, b in enumerate(problem.series):
        mu = sims[b.variable]
        s = b.spec
        if s.likelihood in ("gaussian", "sse"):
            eps = sig[k][:, None] * rng.standard_normal(mu.shape)
            if s.transform == "log":
                with np.errstate(invalid="ignore", divide="ignore"):
                    pred = np.exp(np.log(mu) + eps)
            else:
                pred = mu + eps
        elif s.likelihood == "poisson":
            pred = rng.poisson(np.clip(np.nan_to_num(mu), 0, None)).astype(float)
        else:
            alpha = nuis[k][:, None] if k in nuis else np.full((mu.shape[0], 1), s.dispersion)
            lam = rng.gamma(1.0 / alpha, alpha * np.clip(np.nan_to_num(mu), 1e-12, None))
            pred = rng.poisson(lam).astype(float)
        for label, arr in (("parameter", mu), ("predictive", pred)):
            q = np.nanquantile(arr, [a, 0.5, 1 - a], axis=0)
            frames.append(pd.DataFrame({"series": s.name, "band": label, "source": kind,
                                        "time": times, "lower": q[0], "median": q[1],
                                        "upper": q[2]}))
    return pd.concat(frames, ignore_index=True)


def _laplace_draws(problem: Problem, theta: np.ndarray, cov: np.ndarray, n: int, seed: int
                   ) -> np.ndarray | None:
    ok = np.isfinite(np.diag(cov))
    if not ok.any():
        return None
    cov = np.where(np.outer(ok, ok), np.nan_to_num(cov), 0.0)  # parameters without SE stay fixed
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(20):
        x = rng.multivariate_normal(theta, cov, size=n, method="eigh")
        inside = np.all((x >= problem.lower) & (x <= problem.upper), axis=1)
        out.append(x[inside])
        if sum(len(o) for o in out) >= n:
            break
    x = np.concatenate(out)[:n]
    return x if len(x) >= max(10, n // 4) else None


# ---------------------------------------------------------------------- statistics
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
        notes.append("the optimiser did not report convergence: " + convergence["local"]["message"])

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
    notes += [s for s in skill_text if " loses to " in s]
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
    kinds = ["model"] * len(problem.model_names) + ["nuisance"] * len(problem.nuisance)
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
                disp = float(theta[len(problem.model_names) + j])
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
    prov = provenance(
        problem.model.path, problem.model.sha256,
        {**fixed, **{n_: float(v) for n_, v in zip(problem.model_names, theta, strict=False)}},
        seed=spec.seed, method="calibration",
        spec_file=str(spec.source) if spec.source else None,
        spec_sha256=file_sha256(spec.source) if spec.source and spec.source.is_file() else None,
        data_files=data_files, fit_period=spec.fit_period, holdout_period=spec.holdout_period,
        time_step=problem.dt, scipy_version=_version("scipy"), emcee_version=_version("emcee"),
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
    )


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

    params = {**dict(problem.fixed),
              **{n_: float(v) for n_, v in zip(problem.model_names, theta, strict=False)}}
    try:
        res = step_check(problem.model, params=params, outputs=list(problem.variables),
                         time_step=problem.dt, method=getattr(spec, "method", "euler"),
                         final_time=problem.t1)
    except PvsdError as exc:
        return f"not available ({exc})"
    return res.summary()
