"""Point estimates of a panel: block-sparse least squares, standard errors, pooled MAP + Laplace.

Every residual evaluation is one ensemble run with a member per unit. The
Jacobian is computed by central differences in ``1 + 2 (S + K)`` member groups:
perturbing shared parameter j moves every unit's residuals (one group of n
members), perturbing per-unit parameter k of *all* units at once is one group
too, because unit i's residuals depend only on its own block (column grouping,
as in Curtis-Powell-Reid). The Jacobian is returned as a sparse matrix with that
block structure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, sparse

from pvsd.calibration.panel.problem import PanelProblem

__all__ = ["PointFit", "covariance", "fit_point", "fit_pooled"]

H_STEP = 1e-5
EPS = 1e-6


def _logit(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, EPS, 1 - EPS)
    return np.log(u / (1 - u))


@dataclass
class PointFit:
    """The optimum and its curvature."""

    x: np.ndarray
    cost: float
    jac: sparse.csr_matrix
    free: np.ndarray
    cov: np.ndarray  # over all variables (NaN rows/cols for fixed-at-bound ones), unit coords
    nfev: int
    message: str
    mu: np.ndarray | None = None  # pooled population (logit scale)
    tau: np.ndarray | None = None
    em_iterations: int = 0


class _Objective:
    """Residuals and block-sparse Jacobian of the data (plus pooled prior rows)."""

    def __init__(self, pb: PanelProblem, mu: np.ndarray | None = None, tau: np.ndarray | None = None
                 ) -> None:
        self.pb = pb
        self.mu, self.tau = mu, tau
        self.R = pb.S * pb.T
        n, K, S = pb.n_units, pb.K, pb.n_shared
        self.kp = np.flatnonzero(pb.pooled) if mu is not None else np.array([], int)
        rows, cols = [], []
        for i in range(n):
            r = np.arange(i * self.R, (i + 1) * self.R)
            c = np.concatenate([np.arange(S), S + i * K + np.arange(K)])
            rows.append(np.repeat(r, len(c)))
            cols.append(np.tile(c, len(r)))
        base = n * self.R
        for i in range(n):
            for jj, k in enumerate(self.kp):
                rows.append(np.array([base + i * len(self.kp) + jj]))
                cols.append(np.array([S + i * K + k]))
        self.rows = np.concatenate(rows) if rows else np.array([], int)
        self.cols = np.concatenate(cols) if cols else np.array([], int)
        self.m = base + n * len(self.kp)
        self.nfev = 0

    def prior_rows(self, U: np.ndarray) -> np.ndarray:
        if not len(self.kp):
            return np.array([])
        z = _logit(U[:, self.kp])
        return ((z - self.mu) / self.tau).ravel()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        pb = self.pb
        s, U = pb.split(x)
        unit = pb.all_units()
        r = pb.residuals(np.tile(s, (pb.n_units, 1)), U, unit).ravel()
        self.nfev += 1
        return np.concatenate([r, self.prior_rows(U)])

    def jac(self, x: np.ndarray, shared: bool = True) -> sparse.csr_matrix:
        """Central differences; ``shared=False`` leaves the shared columns zero (not run)."""
        pb = self.pb
        n, K, S0 = pb.n_units, pb.K, pb.n_shared
        S = S0 if shared else 0
        s, U = pb.split(x)
        unit = np.tile(pb.all_units(), 2 * (S + K))
        ss = np.tile(s, (len(unit), 1))
        UU = np.tile(U, (2 * (S + K), 1))
        steps = []
        g = 0
        for j in range(S):
            hp, hm = min(H_STEP, 1 - s[j]), min(H_STEP, s[j])
            ss[g * n:(g + 1) * n, j] += hp
            ss[(g + 1) * n:(g + 2) * n, j] -= hm
            steps.append(np.full(n, hp + hm))
            g += 2
        for k in range(K):
            hp, hm = np.minimum(H_STEP, 1 - U[:, k]), np.minimum(H_STEP, U[:, k])
            UU[g * n:(g + 1) * n, k] += hp
            UU[(g + 1) * n:(g + 2) * n, k] -= hm
            steps.append(hp + hm)
            g += 2
        r = pb.residuals(ss, UU, unit).reshape(2 * (S + K), n, self.R)
        d = (r[0::2] - r[1::2]) / np.maximum(np.asarray(steps), 1e-12)[:, :, None]  # (S+K, n, R)
        vals = np.zeros((n, self.R, S0 + K))
        vals[:, :, S0 - S:] = d.transpose(1, 2, 0)
        data_vals = vals.reshape(-1)
        if len(self.kp):
            u = np.clip(U[:, self.kp], EPS, 1 - EPS)
            pv = (1.0 / (u * (1 - u) * self.tau)).ravel()
            data_vals = np.concatenate([data_vals, pv])
        return sparse.csr_matrix((data_vals, (self.rows, self.cols)), shape=(self.m, pb.n_vars))


def _lsq(obj: _Objective, x0: np.ndarray, maxiter: int) -> optimize.OptimizeResult:
    # The trust-region subproblem is solved by LSMR on the sparse Jacobian: a dense SVD of
    # the (units x observations) by (units x parameters) matrix dominates the cost otherwise.
    return optimize.least_squares(obj, np.clip(x0, 0, 1), jac=obj.jac, bounds=(0.0, 1.0),
                                  method="trf", x_scale="jac", tr_solver="lsmr",
                                  xtol=1e-10, ftol=1e-10, gtol=1e-10, max_nfev=maxiter)


def _starts(pb: PanelProblem, x0: np.ndarray, n_starts: int, seed: int) -> np.ndarray:
    """Best of a small Latin-hypercube of per-unit starts for every unit (one ensemble run)."""
    if pb.K == 0 or n_starts <= 1:
        return x0
    from scipy.stats import qmc

    s, U0 = pb.split(x0)
    cand = np.vstack([U0[:1], qmc.LatinHypercube(d=pb.K, seed=seed).random(n_starts - 1)])
    cand = np.clip(cand, 0.02, 0.98)
    n = pb.n_units
    UU = np.repeat(cand, n, axis=0)
    unit = np.tile(pb.all_units(), len(cand))
    r = pb.residuals(np.tile(s, (len(unit), 1)), UU, unit)
    sse = np.sum(r**2, axis=1).reshape(len(cand), n)
    best = np.argmin(sse, axis=0)
    return pb.join(s, cand[best])


def _update_sigma(pb: PanelProblem, x: np.ndarray) -> None:
    """Per-series sigma of fitted-sigma series: RMS residual with degrees of freedom removed."""
    s, U = pb.split(x)
    pb_sigma = pb.sigma.copy()
    pb.sigma = np.ones(pb.S)
    r = pb.residuals(np.tile(s, (pb.n_units, 1)), U, pb.all_units(),
                     weights=np.ones(pb.S)).reshape(pb.n_units, pb.S, pb.T)
    pb.sigma = pb_sigma
    frac = pb.n_obs_series / max(pb.n_obs, 1)
    for k, ser in enumerate(pb.spec.series):
        if ser.sigma is None:
            dof = max(pb.n_obs_series[k] - frac[k] * pb.n_vars, 1.0)
            pb.sigma[k] = max(float(np.sqrt(np.sum(r[:, k] ** 2) / dof)), 1e-12)


def covariance(J: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of J'J over variables not at a bound; (cov with NaN for fixed ones, free mask)."""
    free = (x > 1e-5) & (x < 1 - 1e-5)
    Jf = J[:, free]
    H = Jf.T @ Jf
    try:
        cf = np.linalg.inv(H)
        if not np.all(np.isfinite(cf)) or np.any(np.diag(cf) < 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cf = np.linalg.pinv(H)
    cov = np.full((len(x), len(x)), np.nan)
    idx = np.flatnonzero(free)
    cov[np.ix_(idx, idx)] = cf
    return cov, free


def _unit_sse(obj: _Objective, r: np.ndarray) -> np.ndarray:
    """Per-unit sum of squares of a residual vector (data rows and pooled prior rows)."""
    n = obj.pb.n_units
    out = np.sum(r[: n * obj.R].reshape(n, obj.R) ** 2, axis=1)
    if len(obj.kp):
        out += np.sum(r[n * obj.R:].reshape(n, len(obj.kp)) ** 2, axis=1)
    return out


def _time_starts(pb: PanelProblem, obj: _Objective, x: np.ndarray, maxiter: int,
                 say: Callable[[str], None]) -> np.ndarray:
    """Restart every unit from a spread of years of its unit-scope path years (at, start, end).

    A step's or ramp's year trades off against the unit's other parameters, and the sum
    of squares has local minima in it (a late step with a slow growth rate against an
    early one with a fast rate). With the shared parameters held at the fit, each unit
    block is fitted again (a few iterations) from G evenly spread years; per unit the
    best of the fit and the G restarts is kept (the units are independent given the
    shared block), and the whole fit is run again from there.
    """
    cols = [k for k, e in enumerate(pb.per_unit) if e.kind == "path" and e.what in
            ("at", "start", "end")]
    if not cols or not int(pb.spec.search.get("path_restarts", 4)):
        return x
    s, U0 = pb.split(x)
    S, K, n = pb.n_shared, pb.K, pb.n_units

    def f(u: np.ndarray) -> np.ndarray:
        return obj(pb.join(s, u.reshape(n, K)))

    def jac(u: np.ndarray) -> sparse.csr_matrix:
        return obj.jac(pb.join(s, u.reshape(n, K)), shared=False)[:, S:]

    best_U, best = U0.copy(), _unit_sse(obj, f(U0.ravel()))
    G = int(pb.spec.search.get("path_restarts", 4))
    for g in range(G):
        U = U0.copy()
        U[:, cols] = (g + 0.5) / G
        res = optimize.least_squares(f, U.ravel(), jac=jac, bounds=(0.0, 1.0), method="trf",
                                     x_scale="jac", tr_solver="lsmr", xtol=1e-8, ftol=1e-8,
                                     gtol=1e-8, max_nfev=maxiter)
        say(f"  {res.nfev} evaluations, {res.njev} Jacobians: {res.message}")
        sse = _unit_sse(obj, res.fun)
        win = sse < best * (1 - 1e-9)
        best_U[win], best[win] = res.x.reshape(n, K)[win], sse[win]
        say(f"path years restarted from {(g + 0.5) / G:.3g} of their range: {int(win.sum())} "
            "unit(s) improved")
    return pb.join(s, best_U)


def fit_point(pb: PanelProblem, x0: np.ndarray | None = None, log: Callable[[str], None] | None = None
              ) -> PointFit:
    """Least-squares (maximum-likelihood, Gaussian) fit with every per-unit parameter free."""
    say = log or (lambda m: None)
    opts = pb.spec.search
    x = pb.x0 if x0 is None else x0
    x = _starts(pb, x, int(opts["starts"]), pb.spec.seed)
    obj = _Objective(pb)
    rounds = 2 if sum(s.sigma is None for s in pb.spec.series) > 1 else 1
    res = None
    for r in range(rounds):
        say(f"least squares, round {r + 1} of {rounds} ({pb.n_vars} parameters, {pb.n_units} units)")
        res = _lsq(obj, x, int(opts["maxiter"]))
        say(f"  {res.nfev} evaluations, {res.njev} Jacobians: {res.message}")
        x = res.x
        _update_sigma(pb, x)
    assert res is not None
    # a few iterations find a restart's basin; the final fit below polishes the winners
    x_r = _time_starts(pb, obj, x, min(25, int(opts["maxiter"])), say)
    if not np.array_equal(x_r, x):
        say("least squares from the restarted path years")
        res = _lsq(obj, x_r, int(opts["maxiter"]))
        x = res.x
        _update_sigma(pb, x)
    obj_final = _Objective(pb)
    J = obj_final.jac(x)
    cov, free = covariance(J.toarray(), x)
    cost = float(np.sum(obj_final(x) ** 2))
    return PointFit(x, cost, J, free, cov, obj.nfev, str(res.message))


def _block_var_z(pb: PanelProblem, J: sparse.csr_matrix, x: np.ndarray) -> np.ndarray:
    """Laplace variance of each unit's per-unit parameters on the logit scale, (n, K)."""
    S, K = pb.n_shared, pb.K
    _, U = pb.split(x)
    H = (J.T @ J).tocsr()
    out = np.empty((pb.n_units, K))
    for i in range(pb.n_units):
        cols = S + i * K + np.arange(K)
        Hi = H[cols][:, cols].toarray()
        try:
            v = np.diag(np.linalg.inv(Hi))
        except np.linalg.LinAlgError:
            v = np.diag(np.linalg.pinv(Hi))
        u = np.clip(U[i], EPS, 1 - EPS)
        out[i] = np.abs(v) / (u * (1 - u)) ** 2
    return out


def fit_pooled(pb: PanelProblem, start: PointFit, log: Callable[[str], None] | None = None
               ) -> PointFit:
    """MAP of the pooled parameters under a fitted population prior (Laplace-EM).

    Alternates: (1) MAP of every parameter given the population mean ``mu`` and
    sd ``tau`` (logit scale); (2) ``mu = mean(z)``, ``tau^2 = mean((z - mu)^2 + v)``
    with ``v`` each unit's Laplace variance, the EM update of the marginal
    likelihood under the Laplace approximation.
    """
    say = log or (lambda m: None)
    kp = np.flatnonzero(pb.pooled)
    x = start.x.copy()
    _, U = pb.split(x)
    z = np.clip(_logit(U[:, kp]), -6, 6)
    mu, tau = z.mean(axis=0), np.maximum(z.std(axis=0), 0.1)
    it = 0
    res = None
    for it in range(1, int(pb.spec.search["pooled_iterations"]) + 1):
        obj = _Objective(pb, mu, tau)
        res = _lsq(obj, x, int(pb.spec.search["maxiter"]))
        x = res.x
        J = obj.jac(x)
        v = _block_var_z(pb, J, x)[:, kp]
        _, U = pb.split(x)
        z = _logit(U[:, kp])
        mu_new = z.mean(axis=0)
        tau_new = np.sqrt(np.maximum(np.mean((z - mu_new) ** 2 + v, axis=0), 1e-6))
        delta = max(np.max(np.abs(mu_new - mu)), np.max(np.abs(tau_new - tau) / tau))
        # over-relaxed EM (step 1.7 x the EM step on mu, log tau): EM converges linearly and
        # slowly here; over-relaxation with a factor below 2 keeps the fixed point
        omega = 1.7 if it > 1 else 1.0
        mu = mu + omega * (mu_new - mu)
        tau = tau * np.exp(omega * (np.log(tau_new) - np.log(tau)))
        say(f"pooled (Laplace-EM) iteration {it}: mu = {np.round(mu, 3).tolist()}, "
            f"tau = {np.round(tau, 3).tolist()}")
        if delta < 2e-3:
            break
    obj = _Objective(pb, mu, tau)
    res = _lsq(obj, x, int(pb.spec.search["maxiter"]))
    x = res.x
    _update_sigma(pb, x)
    obj = _Objective(pb, mu, tau)
    J = obj.jac(x)
    cov, free = covariance(J.toarray(), x)
    return PointFit(x, float(np.sum(obj(x) ** 2)), J, free, cov, obj.nfev + start.nfev,
                    str(res.message), mu=mu, tau=tau, em_iterations=it)
