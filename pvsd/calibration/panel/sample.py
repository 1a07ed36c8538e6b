"""Full posterior of a panel by blocked Metropolis-within-Gibbs, vectorised over units and chains.

Why this sampler: pvsd's simulator has no gradients (it is numpy, not JAX), so
NUTS/HMC (blackjax, numpyro) cannot run on it, and ensemble samplers such as
emcee need far more walkers than a few hundred dimensions allow. The panel's
posterior, however, factorises: given the shared parameters, the population
(mu, tau) and the noise sigmas, the units are independent. So each sweep

1. updates *every* unit's block at once: a random-walk proposal shaped by the
   unit's Laplace covariance, accepted unit by unit (one ensemble run of
   chains x units members);
2. updates the shared block twice: a random walk shaped by its conditional
   Laplace covariance, and a joint move that shifts every unit block along its
   Laplace regression on the shared block (so shared parameters move along their
   marginal, not only their much narrower conditional);
3. draws mu and tau of each pooled parameter (normal / inverse-gamma, flat prior
   on tau) and each fitted sigma (inverse-gamma, Jeffreys prior) exactly.

All parameters live on the logit scale of their bounds (the uniform prior of
shared and unit-scope parameters contributes its Jacobian). Proposal scales
adapt during warm-up only. Convergence: split R-hat and bulk ESS from arviz.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pvsd.calibration.panel.fit import EPS, PointFit, _logit
from pvsd.calibration.panel.problem import PanelProblem

__all__ = ["PosteriorSample", "sample_posterior"]


def _sig(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _log_jac(z: np.ndarray) -> np.ndarray:
    """log du/dz for u = sigmoid(z): the uniform-on-bounds prior on the logit scale."""
    return -np.logaddexp(0, z) - np.logaddexp(0, -z)


@dataclass
class PosteriorSample:
    """Retained draws (chains x draws) in unit coordinates, with diagnostics."""

    x: np.ndarray  # (C, D, n_vars)
    mu: np.ndarray  # (C, D, Kp)
    tau: np.ndarray
    sigma: np.ndarray  # (C, D, n_series)
    acceptance: dict[str, float]
    rhat: np.ndarray  # per variable of x (n_vars,), then mu, tau
    ess: np.ndarray
    rhat_hyper: np.ndarray
    ess_hyper: np.ndarray
    seconds: float
    iterations: int
    warmup: int


def _ll(pb: PanelProblem, s_u: np.ndarray, U_u: np.ndarray, unit: np.ndarray) -> np.ndarray:
    """Per member and series sum of squared (unweighted) residuals: (M, S)."""
    r = pb.residuals(s_u, U_u, unit, weights=np.ones(pb.S)).reshape(len(unit), pb.S, pb.T)
    return np.sum(r**2, axis=2)


def sample_posterior(pb: PanelProblem, point: PointFit, log: Callable[[str], None] | None = None
                     ) -> PosteriorSample:
    """Sample the posterior of a panel fit (see the module docstring).

    Starts every chain near the point estimate (MAP for pooled models), jittered
    by the Laplace covariance.
    """
    say = log or (lambda m: None)
    opts = pb.spec.posterior
    C, n_iter, warm = int(opts["chains"]), int(opts["iterations"]), int(opts["warmup"])
    thin = int(opts.get("thin", 1))
    rng = np.random.default_rng(pb.spec.seed + 7)
    n, K, S = pb.n_units, pb.K, pb.n_shared
    kp = np.flatnonzero(pb.pooled)
    ku = np.flatnonzero(~pb.pooled)
    fit_sig = np.array([s.sigma is None for s in pb.spec.series])
    n_s = pb.n_obs_series.astype(float)
    # ---- Laplace geometry on the logit scale
    x_hat = np.clip(point.x, 1e-4, 1 - 1e-4)
    d = x_hat * (1 - x_hat)  # du/dz
    J = point.jac.toarray() * d[None, :]
    H = J.T @ J + 1e-8 * np.eye(len(x_hat))
    z_hat = _logit(x_hat)
    sidx = np.arange(S)
    uidx = [S + i * K + np.arange(K) for i in range(n)]
    L_unit = np.zeros((n, K, K))
    B = np.zeros((n, K, S))
    for i in range(n):
        Hi = H[np.ix_(uidx[i], uidx[i])]
        try:
            Ci = np.linalg.inv(Hi)
            L_unit[i] = np.linalg.cholesky(0.5 * (Ci + Ci.T))
        except np.linalg.LinAlgError:
            L_unit[i] = np.eye(K)
        if S:
            B[i] = -np.linalg.solve(Hi + 1e-10 * np.eye(K), H[np.ix_(uidx[i], sidx)])
    L_cond = L_marg = np.zeros((S, S))
    if S:
        try:
            L_cond = np.linalg.cholesky(np.linalg.inv(H[np.ix_(sidx, sidx)]))
            Cm = np.linalg.inv(H)[np.ix_(sidx, sidx)]
            L_marg = np.linalg.cholesky(0.5 * (Cm + Cm.T))
        except np.linalg.LinAlgError:
            L_cond = L_marg = 0.1 * np.eye(S)
    # ---- state (C chains)
    zs = np.tile(z_hat[:S], (C, 1)) + 0.5 * rng.standard_normal((C, S)) @ L_marg.T
    Z = np.tile(z_hat[S:].reshape(n, K), (C, 1, 1))
    Z = Z + 0.5 * np.einsum("ikl,cil->cik", L_unit, rng.standard_normal((C, n, K)))
    mu = np.tile(point.mu if point.mu is not None else np.zeros(len(kp)), (C, 1))
    tau = np.tile(point.tau if point.tau is not None else np.ones(len(kp)), (C, 1))
    sigma = np.tile(pb.sigma, (C, 1)).astype(float)
    unit_all = np.tile(np.arange(n), C)

    def evaluate(zs_: np.ndarray, Z_: np.ndarray) -> np.ndarray:
        s_u = np.repeat(_sig(zs_), n, axis=0)
        U_u = _sig(Z_).reshape(C * n, K)
        return _ll(pb, s_u, U_u, unit_all).reshape(C, n, pb.S)

    def unit_prior(Z_: np.ndarray, mu_: np.ndarray, tau_: np.ndarray) -> np.ndarray:
        lp = np.zeros(Z_.shape[:2])
        if len(ku):
            lp += _log_jac(Z_[:, :, ku]).sum(axis=2)
        if len(kp):
            lp += (-0.5 * ((Z_[:, :, kp] - mu_[:, None, :]) / tau_[:, None, :]) ** 2).sum(axis=2)
        return lp

    def loglik(sse: np.ndarray, sig: np.ndarray) -> np.ndarray:
        return -0.5 * np.sum(sse / sig[:, None, :] ** 2, axis=2)  # (C, n)

    sse = evaluate(zs, Z)
    scale_u = np.full((C, n), 2.38 / math.sqrt(max(K, 1)))
    scale_c = np.full(C, 2.38 / math.sqrt(max(S, 1)))
    scale_m = np.full(C, 1.0 / math.sqrt(max(S, 1)))
    acc = {"units": 0.0, "shared": 0.0, "joint": 0.0}
    keep_x, keep_mu, keep_tau, keep_sig = [], [], [], []
    t_start = time.perf_counter()
    report_every = max(1, n_iter // 10)
    for it in range(n_iter):
        adapt = it < warm
        gamma = 1.0 / math.sqrt(it + 10)
        # 1. every unit block at once
        if K:
            prop = Z + scale_u[:, :, None] * np.einsum("ikl,cil->cik", L_unit,
                                                       rng.standard_normal((C, n, K)))
            sse_p = evaluate(zs, prop)
            lr = (loglik(sse_p, sigma) + unit_prior(prop, mu, tau)
                  - loglik(sse, sigma) - unit_prior(Z, mu, tau))
            ok = np.log(rng.uniform(size=(C, n))) < lr
            Z = np.where(ok[:, :, None], prop, Z)
            sse = np.where(ok[:, :, None], sse_p, sse)
            if adapt:
                scale_u *= np.exp(gamma * (np.minimum(1, np.exp(np.minimum(lr, 0))) - 0.3))
            acc["units"] += ok.mean() if not adapt else 0.0
        # 2. shared: conditional random walk, then the joint move along the marginal
        if S:
            for kind in ("shared", "joint"):
                if kind == "shared":
                    dz = scale_c[:, None] * (rng.standard_normal((C, S)) @ L_cond.T)
                    zs_p, Z_p = zs + dz, Z
                else:
                    dz = scale_m[:, None] * (rng.standard_normal((C, S)) @ L_marg.T)
                    zs_p = zs + dz
                    Z_p = Z + np.einsum("iks,cs->cik", B, dz) if K else Z
                sse_p = evaluate(zs_p, Z_p)
                lr = (loglik(sse_p, sigma).sum(1) + unit_prior(Z_p, mu, tau).sum(1)
                      + _log_jac(zs_p).sum(1)
                      - loglik(sse, sigma).sum(1) - unit_prior(Z, mu, tau).sum(1)
                      - _log_jac(zs).sum(1))
                ok = np.log(rng.uniform(size=C)) < lr
                zs = np.where(ok[:, None], zs_p, zs)
                Z = np.where(ok[:, None, None], Z_p, Z)
                sse = np.where(ok[:, None, None], sse_p, sse)
                if adapt:
                    a = np.minimum(1, np.exp(np.minimum(lr, 0)))
                    if kind == "shared":
                        scale_c *= np.exp(gamma * (a - 0.3))
                    else:
                        scale_m *= np.exp(gamma * (a - 0.3))
                acc[kind] += ok.mean() if not adapt else 0.0
        # 3. exact draws of the population and the noise
        if len(kp):
            zk = Z[:, :, kp]
            mu = zk.mean(axis=1) + tau / math.sqrt(n) * rng.standard_normal(mu.shape)
            ss = np.sum((zk - mu[:, None, :]) ** 2, axis=1)
            tau = np.sqrt(ss / (2.0 * rng.gamma((n - 1) / 2.0, 1.0, size=ss.shape)))
        if fit_sig.any():
            tot = sse.sum(axis=1)  # (C, S)
            draw = np.sqrt(tot / (2.0 * rng.gamma(n_s / 2.0, 1.0, size=tot.shape)))
            sigma = np.where(fit_sig[None, :], draw, sigma)
        if not adapt and (it - warm) % thin == 0:
            keep_x.append(np.concatenate([_sig(zs), _sig(Z).reshape(C, n * K)], axis=1))
            keep_mu.append(mu.copy())
            keep_tau.append(tau.copy())
            keep_sig.append(sigma.copy())
        if (it + 1) % report_every == 0:
            say(f"posterior: {it + 1} of {n_iter} sweeps ({'warm-up' if adapt else 'sampling'}), "
                f"{time.perf_counter() - t_start:.0f} s")
    kept = max(n_iter - warm, 1)
    acceptance = {k: float(v / kept) for k, v in acc.items()}
    X = np.stack(keep_x, axis=1)
    MU, TAU, SIG = (np.stack(v, axis=1) for v in (keep_mu, keep_tau, keep_sig))
    rhat, ess = _diagnostics(_logit(X))
    hyper = np.concatenate([MU, np.log(TAU)], axis=2)
    rh_h, es_h = _diagnostics(hyper) if hyper.shape[2] else (np.array([]), np.array([]))
    return PosteriorSample(X, MU, TAU, SIG, acceptance, rhat, ess, rh_h, es_h,
                           time.perf_counter() - t_start, n_iter, warm)


def _diagnostics(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat and bulk ESS per variable (arviz), draws (C, D, V)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import arviz as az

        data: Any = az.convert_to_dataset({"v": draws})
        rhat = np.asarray(az.rhat(data)["v"].values, float)
        ess = np.asarray(az.ess(data, method="bulk")["v"].values, float)
    return rhat, ess


def clip_unit(x: np.ndarray) -> np.ndarray:
    return np.clip(x, EPS, 1 - EPS)
