"""Calibration uncertainty: curvature (covariance), likelihood profiles, MCMC and
predictive bands.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from pvsd.calibration.problem import Problem
from pvsd.calibration.search import REL_STEP_HESS, _at_bounds, _center, _jacobian, _local, _steps


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
    nuis = {k: draws[:, problem.n_model + j] for j, (k, _) in enumerate(problem.nuisance)}
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
