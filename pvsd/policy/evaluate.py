"""Evaluate a population of policies as one ensemble (times an uncertainty ensemble)."""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pvsd.policy.spec import Constraint, Objective, PolicySpec

__all__ = ["Evaluator"]


def _aggregate(v: np.ndarray, statistic: str, pct: float, pessimistic_high: bool) -> np.ndarray:
    """Aggregate (P, M) over worlds; the percentile is taken on the unfavourable side."""
    if v.shape[1] == 1:
        return v[:, 0]
    if statistic == "mean":
        return v.mean(axis=1)
    return np.percentile(v, 100 - pct if pessimistic_high else pct, axis=1)


@dataclass
class Evaluator:
    """Turn decision vectors ``X`` (P, d) into objective values and constraint violations.

    Each call runs the whole population (times the uncertainty worlds, when the
    spec is robust) as one vectorised ensemble; step and ramp levers are sample
    columns of per-member time functions (one lever path per policy).
    """

    model: Any
    spec: PolicySpec
    worlds: pd.DataFrame | None = None
    executor: str = "inprocess"
    on_generation: Callable[[int, int], None] | None = None
    n_runs: int = 0
    seconds: float = 0.0
    records: list[pd.DataFrame] = field(default_factory=list)
    #: regret only: the best value of the (single) objective in each world (M,), fixed before the search
    regret_best: np.ndarray | None = None

    @property
    def outputs(self) -> list[str]:
        outs = [o.outcome.variable for o in self.spec.objectives]
        outs += [c.outcome.outcome.variable for c in self.spec.constraints if c.outcome is not None]
        return list(dict.fromkeys(outs))

    @property
    def m(self) -> int:
        return 1 if self.worlds is None else len(self.worlds)

    def simulate(self, X: np.ndarray, worlds: pd.DataFrame | None = None) -> dict[str, np.ndarray]:
        """Raw ensemble values: output -> array (P, M, times); also stores ``times``."""
        from pvsd.ensemble import run_ensemble

        worlds = self.worlds if worlds is None else worlds
        X = np.atleast_2d(np.asarray(X, dtype=float))
        P = X.shape[0]
        M = 1 if worlds is None else len(worlds)
        t0 = _time.perf_counter()
        outs = self.outputs
        cols = self._lever_columns(X, M)
        if worlds is not None:
            for c in worlds.columns:
                cols[c] = np.tile(worlds[c].to_numpy(float), P)
        ds = run_ensemble(self.model, pd.DataFrame(cols), outputs=outs, executor=self.executor,
                          progress=False)
        data = {o: ds[o].values.reshape(P, M, -1) for o in outs}
        self.times = ds["time"].values
        self.seconds += _time.perf_counter() - t0
        self.n_runs += P * M
        return data

    def _lever_columns(self, X: np.ndarray, M: int) -> dict[str, object]:
        """Ensemble columns of the levers: each policy (row of ``X``) repeated for its ``M`` worlds."""
        cols: dict[str, object] = {}
        i = 0
        for lv in self.spec.levers:
            if lv.kind == "constant":
                cols[lv.variable] = np.repeat(X[:, i], M)
            else:
                # step/ramp: one lever path per policy, the same in each of its worlds
                paths = [lv.setting(X[p, i:i + lv.size]) for p in range(X.shape[0])]
                cols[lv.variable] = [f for f in paths for _ in range(M)]
            i += lv.size
        return cols

    def simulate_paired(self, X: np.ndarray, worlds: pd.DataFrame) -> dict[str, np.ndarray]:
        """Run row i of ``X`` in world i, one ensemble: output -> (N, 1, times)."""
        from pvsd.ensemble import run_ensemble

        assert len(X) == len(worlds)
        t0 = _time.perf_counter()
        cols = self._lever_columns(np.atleast_2d(np.asarray(X, dtype=float)), 1)
        for c in worlds.columns:
            cols[c] = worlds[c].to_numpy(float)
        ds = run_ensemble(self.model, pd.DataFrame(cols), outputs=self.outputs, executor=self.executor,
                          progress=False)
        self.times = ds["time"].values
        self.seconds += _time.perf_counter() - t0
        self.n_runs += len(X)
        return {o: ds[o].values.reshape(len(X), 1, -1) for o in self.outputs}

    def values(self, obj: Objective, data: dict[str, np.ndarray]) -> np.ndarray:
        """One outcome's values (P, M)."""
        v = data[obj.outcome.variable]
        P, M, T = v.shape
        return obj.evaluate(v.reshape(P * M, T), self.times).reshape(P, M)

    def __call__(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Objective values (P, k) as reported (not sign-flipped) and violations (P, c) >= 0."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        data = self.simulate(X)
        rob = self.spec.robust if self.worlds is not None else None
        stat, pct = (rob.statistic, rob.percentile) if rob else ("mean", 10.0)
        F = self.objectives(data)
        G = np.column_stack([self._violation(c, X, data, stat, pct) for c in self.spec.constraints]
                            ) if self.spec.constraints else np.zeros((X.shape[0], 0))
        rec = pd.DataFrame(X, columns=self.spec.names)
        for j, o in enumerate(self.spec.objectives):
            rec[o.label] = F[:, j]
        rec["violation"] = G.sum(axis=1) if G.size else 0.0
        rec.insert(0, "generation", len(self.records))
        self.records.append(rec)
        if self.on_generation is not None:
            self.on_generation(len(self.records), X.shape[0])
        return F, G

    def objectives(self, data: dict[str, np.ndarray]) -> np.ndarray:
        """Robust objective values (P, k): the statistic over worlds (regret: to be minimised)."""
        rob = self.spec.robust if self.worlds is not None else None
        stat, pct = (rob.statistic, rob.percentile) if rob else ("mean", 10.0)
        if stat == "regret":
            if self.regret_best is None:
                raise RuntimeError("regret needs the best value per world (Evaluator.regret_best) first")
            return np.percentile(self.regrets(data), pct, axis=1)[:, None]
        return np.column_stack([
            _aggregate(self.values(o, data), stat, pct, pessimistic_high=o.sense == "min")
            for o in self.spec.objectives
        ])

    def regrets(self, data: dict[str, np.ndarray]) -> np.ndarray:
        """Regret (P, M) of each policy in each world against :attr:`regret_best`."""
        o = self.spec.objectives[0]
        v = self.values(o, data)
        assert self.regret_best is not None
        return self.regret_best[None, :] - v if o.sense == "max" else v - self.regret_best[None, :]

    def _violation(self, c: Constraint, X: np.ndarray, data: dict[str, np.ndarray], stat: str,
                   pct: float) -> np.ndarray:
        if c.budget is not None:
            levels = self.spec.levels(X)
            effort = sum(levels[n] for n in c.levers)
            return np.maximum(0.0, effort - c.budget)
        assert c.outcome is not None
        v = self.values(c.outcome, data)
        out = np.zeros(X.shape[0])
        if stat == "regret":
            # minimax regret is a worst-case criterion: the constraint holds in the same share of worlds
            if c.upper is not None:
                out += np.maximum(0.0, np.percentile(v, pct, axis=1) - c.upper)
            if c.lower is not None:
                out += np.maximum(0.0, c.lower - np.percentile(v, 100 - pct, axis=1))
            return out
        if c.upper is not None:
            out += np.maximum(0.0, _aggregate(v, stat, pct, True) - c.upper)
        if c.lower is not None:
            out += np.maximum(0.0, c.lower - _aggregate(v, stat, pct, False))
        return out

    def history(self) -> pd.DataFrame:
        """Every evaluated member: generation, decision variables, objectives, violation."""
        return pd.concat(self.records, ignore_index=True) if self.records else pd.DataFrame()
