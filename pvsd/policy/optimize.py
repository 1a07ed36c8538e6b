"""Policy search: one objective with scipy's differential evolution, several with pymoo's NSGA-II."""

from __future__ import annotations

import math
import time as _time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from pvsd.errors import PvsdError, SpecError
from pvsd.policy.evaluate import Evaluator
from pvsd.policy.result import OptimizationResult
from pvsd.policy.spec import PolicySpec, load_policy_spec

__all__ = ["ConstraintError", "optimize"]

#: Energy added to infeasible members: any feasible member beats any infeasible one.
_PENALTY = 1e12


class ConstraintError(PvsdError):
    """No evaluated policy meets the constraints."""


def _signs(spec: PolicySpec) -> np.ndarray:
    return np.array([-1.0 if o.sense == "max" else 1.0 for o in spec.objectives])


def _lhs(bounds: list[tuple[float, float]], n: int, rng: np.random.Generator) -> np.ndarray:
    from scipy.stats import qmc

    u = qmc.LatinHypercube(d=len(bounds), seed=rng).random(n)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    return lo + u * (hi - lo)


def optimize(
    model: Any,
    spec: Any,
    *,
    population: int | None = None,
    generations: int | None = None,
    seed: int | None = None,
    robust: bool | None = None,
    executor: str = "inprocess",
    progress: bool | None = None,
    polish: bool = False,
) -> OptimizationResult:
    """Search the lever space for the best policy (or the Pareto front of several objectives).

    Parameters
    ----------
    model
        A :class:`pvsd.Model`.
    spec
        A :class:`~pvsd.policy.PolicySpec`, its TOML file or a dict.
    population, generations, seed
        Override the spec's ``[settings]`` (defaults 100, 20 and a fresh seed, recorded).
    robust
        Search over the spec's ``[robust]`` uncertainty ensemble (default: when the spec has one).
        A robust search also runs the nominal search, to compare the two policies.
    executor
        How ensembles run (see :func:`pvsd.ensemble.run_ensemble`).
    progress
        Show a progress bar over generations.
    polish
        Single objective only: finish with L-BFGS-B from the best member (scipy's ``polish``).

    Returns
    -------
    OptimizationResult
        Chosen policy (or the Pareto set), convergence history, every evaluated member,
        robustness across the uncertainty ensemble, trajectories of the chosen policies.

    Raises
    ------
    SpecError
        Bad spec (unknown lever, bounds the wrong way round, an objective on a constant,
        an infeasible budget ...).
    ConstraintError
        No evaluated member meets the constraints.
    """
    from pvsd.progress import progress_bar
    from pvsd.provenance import provenance

    spec = load_policy_spec(spec).validate(model)
    st = spec.settings
    P = int(population or st.get("population", 100))
    G = int(generations or st.get("generations", 20))
    if P < 5:
        raise SpecError(f"population must be at least 5 members, got {P}.")
    if seed is None:
        seed = st.get("seed")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    use_robust = spec.robust is not None if robust is None else bool(robust)
    if use_robust and spec.robust is None:
        raise SpecError(f"{spec.where}: robust search asked for but the spec has no [robust] table.")
    worlds = spec.robust.space.sample(spec.robust.n, seed=seed) if use_robust and spec.robust else None
    t_start = _time.perf_counter()
    with progress_bar(G + 1, f"{model.name}: policy search", enabled=progress) as bar:
        def tick(gen: int, size: int) -> None:
            bar.update(1)

        ev = Evaluator(model, spec, worlds, executor, tick)
        X, F, method = _search(ev, spec, P, G, seed, polish)
    nominal = None
    if use_robust and len(spec.objectives) == 1:
        ev_nom = Evaluator(model, spec, None, executor)
        Xn, Fn, _ = _search(ev_nom, spec, P, G, seed, polish)
        nominal = (Xn[0], Fn[0], ev_nom)
    # how the chosen policies do in every world (and the nominal optimum beside the robust one)
    robustness = None
    if worlds is not None and spec.robust is not None:
        # judged on fresh worlds, not the ones searched over (in-sample would flatter the robust policy)
        fresh = spec.robust.space.sample(max(4 * spec.robust.n, 200), seed=seed + 1)
        spread = np.unique(np.linspace(0, len(X) - 1, min(len(X), 10)).round().astype(int))
        chosen = X[:1] if len(spec.objectives) == 1 else X[spread]
        rows = []
        cand = [("robust optimum" if nominal else f"policy {i + 1}", x) for i, x in enumerate(chosen)]
        if nominal is not None:
            cand.append(("nominal optimum", nominal[0]))
        for label, x in cand:
            data = ev.simulate(x[None, :], fresh)
            for o in spec.objectives:
                v = ev.values(o, data)[0]
                rows.append({"policy": label, "objective": o.label, "mean": v.mean(),
                             "p10": np.percentile(v, 10), "p50": np.percentile(v, 50),
                             "p90": np.percentile(v, 90), "min": v.min(), "max": v.max(),
                             "worlds": len(v)})
        robustness = pd.DataFrame(rows)
    if nominal is not None:
        runs = [("robust optimum", X[0]), ("nominal optimum", nominal[0])]
    elif len(X) == 1:
        runs = [("optimum", X[0])]
    else:
        runs = [(f"policy {i + 1}", x) for i, x in enumerate(X[: min(len(X), 5)])]
    trajectories = _trajectories(model, spec, runs, ev)
    elapsed = _time.perf_counter() - t_start
    chosen_df = pd.DataFrame(X, columns=spec.names)
    for j, o in enumerate(spec.objectives):
        chosen_df[o.label] = F[:, j]
    if nominal is not None:
        chosen_df.insert(0, "policy", "robust optimum")
        row = {"policy": "nominal optimum", **dict(zip(spec.names, nominal[0], strict=True)),
               **{o.label: nominal[1][j] for j, o in enumerate(spec.objectives)}}
        chosen_df = pd.concat([chosen_df, pd.DataFrame([row])], ignore_index=True)
    else:
        chosen_df.insert(0, "policy", [f"policy {i + 1}" for i in range(len(X))] if len(X) > 1
                         else ["optimum"])
    prov = provenance(model.path, model.sha256, {}, seed=seed, method=method, population=P,
                      generations=G, robust=use_robust, worlds=0 if worlds is None else len(worlds),
                      spec=str(spec.source) if spec.source else "", levers=spec.names,
                      bounds=[list(b) for b in spec.bounds],
                      objectives=[o.label for o in spec.objectives],
                      constraints=[c.label for c in spec.constraints], n_runs=ev.n_runs,
                      robust_spec=({"uncertainties": spec.robust.source, "n": spec.robust.n,
                                    "statistic": spec.robust.statistic, "percentile": spec.robust.percentile}
                                   if use_robust and spec.robust else None),
                      run_seconds=round(ev.seconds, 3), elapsed_seconds=round(elapsed, 3))
    return OptimizationResult(model=model.name, spec=spec, method=method, chosen=chosen_df,
                              history=ev.history(), robustness=robustness, trajectories=trajectories,
                              provenance=prov, seed=seed, n_runs=ev.n_runs, seconds=elapsed,
                              run_seconds=ev.seconds)


def _search(ev: Evaluator, spec: PolicySpec, P: int, G: int, seed: int,
            polish: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """Run the search; return chosen X (k, d), their objective values F (k, m) and the method."""
    rng = np.random.default_rng(seed)
    bounds = spec.bounds
    signs = _signs(spec)
    fixed = [i for i, (a, b) in enumerate(bounds) if a == b]
    if len(fixed) == len(bounds):
        raise SpecError(f"{spec.where}: every lever's bounds are a single value; there is nothing to search.")
    init = _lhs(bounds, P, rng)
    if len(spec.objectives) == 1:
        from scipy.optimize import differential_evolution

        def energy(x: np.ndarray) -> np.ndarray:
            X = np.atleast_2d(x.T) if x.ndim == 2 else x[None, :]
            F, V = ev(X)
            e = signs[0] * F[:, 0]
            v = V.sum(axis=1) if V.size else np.zeros(len(e))
            return np.where(v > 0, _PENALTY * (1.0 + v), e) if x.ndim == 2 else float(
                _PENALTY * (1 + v[0]) if v[0] > 0 else e[0])

        # scipy rejects zero-width bounds; widen them by nothing it can see, then clip
        b2 = [(a, b if b > a else a + 1e-12) for a, b in bounds]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "updating='deferred' with vectorized"
            res = differential_evolution(energy, b2, maxiter=G, init=init, seed=rng, polish=polish,
                                         vectorized=True, updating="deferred", tol=0, atol=0)
        hist = ev.history()
        feas = hist[hist["violation"] <= 0]
        if feas.empty:
            _no_feasible(spec, hist)
        x = np.clip(res.x, [a for a, _ in bounds], [b for _, b in bounds])
        F, V = ev(x[None, :])
        if V.size and V.sum() > 0:
            _no_feasible(spec, hist)
        return x[None, :], F, "differential_evolution"
    return _nsga2(ev, spec, P, G, seed, init)


def _nsga2(ev: Evaluator, spec: PolicySpec, P: int, G: int, seed: int,
           init: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        from pymoo.config import Config

        Config.warnings["not_compiled"] = False
        from pymoo.algorithms.moo.nsga2 import NSGA2
        from pymoo.core.problem import Problem
        from pymoo.optimize import minimize
    except ImportError:  # pragma: no cover - pinned dependency
        raise PvsdError("Several objectives need pymoo (pip install 'pymoo>=0.6.1,<0.7').") from None
    signs = _signs(spec)
    n_con = len(spec.constraints)
    lo = np.array([a for a, _ in spec.bounds])
    hi = np.array([b for _, b in spec.bounds])

    class _Problem(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=len(lo), n_obj=len(signs), n_ieq_constr=n_con, xl=lo, xu=hi)

        def _evaluate(self, X: np.ndarray, out: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            F, V = ev(X)
            out["F"] = F * signs
            if n_con:
                out["G"] = V

    res = minimize(_Problem(), NSGA2(pop_size=P, sampling=init), ("n_gen", G + 1), seed=seed,
                   verbose=False)
    if res.X is None:
        _no_feasible(spec, ev.history())
    X = np.atleast_2d(res.X)
    F = np.atleast_2d(res.F) * signs
    order = np.argsort(F[:, 0])
    return X[order], F[order], "nsga2"


def _no_feasible(spec: PolicySpec, hist: pd.DataFrame) -> None:
    least = float(hist["violation"].min()) if len(hist) else math.nan
    raise ConstraintError(
        f"{spec.where}: no policy among the {len(hist):,} evaluated meets the constraints "
        f"({'; '.join(c.label for c in spec.constraints)}); the smallest total violation was {least:.4g}. "
        "Relax a constraint, widen the lever bounds, or check that the constraint can be met at all.")


def _trajectories(model: Any, spec: PolicySpec, policies: list[tuple[str, np.ndarray]],
                  ev: Evaluator) -> pd.DataFrame:
    """Nominal runs of the baseline and the chosen policies, long form (policy, variable, time, value)."""
    outs = list(dict.fromkeys([*ev.outputs, *[lv.variable for lv in spec.levers]]))
    frames = []
    runs = [("baseline", {})] + [(label, spec.settings_of(x)) for label, x in policies]
    for label, params in runs:
        df = model.run(params=params, outputs=outs).to_dataframe()
        long = df[[c for c in outs if c in df.columns]].reset_index().melt(
            id_vars=df.index.name or "time", var_name="variable", value_name="value")
        long.columns = ["time", "variable", "value"]
        long.insert(0, "policy", label)
        frames.append(long)
    return pd.concat(frames, ignore_index=True)
