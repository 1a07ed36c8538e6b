"""Calibration search: finite-difference Jacobians, local polish (least squares or
maximum likelihood) and the global differential-evolution search.

Every batch of parameter sets (a population, a finite-difference stencil) is
simulated as one ensemble run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from pvsd.calibration.problem import PENALTY, Problem

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
