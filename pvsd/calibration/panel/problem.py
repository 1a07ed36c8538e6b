"""A panel spec bound to its model and data: units, parameter layout and vectorised residuals.

The scalar model is run once per unit: an ensemble member per (unit, parameter
set). Free parameters live in unit coordinates ``u = (value - lower) / (upper -
lower)`` in [0, 1]; the vector the optimiser sees is ``[shared (S), per-unit (n x K)]``.
Each unit's residuals depend only on its own block and the shared block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.calibration.panel.data import extend_input, read_long
from pvsd.calibration.panel.spec import MeasureParam, PanelSpec
from pvsd.errors import DataError, SpecError

if TYPE_CHECKING:
    from pvsd.model import Model

__all__ = ["Entry", "PanelProblem"]


@dataclass(frozen=True)
class Entry:
    """One free parameter: a model constant or a measurement parameter."""

    name: str
    kind: str  # "model" | "measure"
    scope: str  # "shared" | "unit" | "pooled"
    lower: float
    upper: float
    x0: float
    series: int = -1
    what: str = ""

    @property
    def width(self) -> float:
        return self.upper - self.lower


class PanelProblem:
    """Bind a :class:`PanelSpec` to its model and data.

    Parameters
    ----------
    spec
        The panel spec.
    model
        The loaded model (default: loaded from ``spec.model``).
    """

    def __init__(self, spec: PanelSpec, model: Model | None = None) -> None:
        import pvsd

        self.spec = spec
        self.model = m = model if model is not None else pvsd.load(spec.model)
        where = spec.where
        self.warnings: list[str] = []
        self.t0 = float(spec.initial_time if spec.initial_time is not None else m.initial_time)
        self.dt = float(spec.time_step or m.time_step)
        t_end = float(m.final_time)
        # ---- series
        self.variables: list[str] = []
        frames = []
        self.n_missing: dict[str, int] = {}
        for k, s in enumerate(spec.series):
            var = m.resolve(s.variable, where=f"{where}, [series.{s.name}] variable")
            self.variables.append(var)
            df, nm = read_long(s.file, s.unit_column or spec.unit_column, s.year_column,
                               s.value_column, s.missing, what=f"[series.{s.name}]")
            self.n_missing[s.name] = nm
            df["series"] = k
            frames.append(df)
        data = pd.concat(frames, ignore_index=True)
        lo_t = self.t0 + (max(s.diff_period for s in spec.series if s.diff) if any(
            s.diff for s in spec.series) else 0.0)
        outside = (data["year"] < lo_t - 1e-9) | (data["year"] > t_end + 1e-9)
        if outside.any():
            self.warnings.append(f"{int(outside.sum())} observation(s) lie outside the run "
                                 f"[{lo_t:g}, {t_end:g}] and are not used.")
            data = data[~outside]
        if spec.fit_period is not None:
            a, b = spec.fit_period
            data = data[(data["year"] >= a) & (data["year"] <= b)]
        # ---- units
        present = sorted(data["unit"].unique())
        if spec.units == "all":
            wanted = present
        else:
            unknown = [u for u in spec.units if u not in set(present)]
            if unknown:
                raise SpecError(
                    f"{where}: [panel] units names {len(unknown)} unit(s) with no observations in any "
                    f"series: {', '.join(unknown[:12])}{' ...' if len(unknown) > 12 else ''}. Check the "
                    f"spelling against the files' {spec.unit_column} column (e.g. "
                    f"{', '.join(present[:5])})."
                )
            wanted = list(dict.fromkeys(spec.units))
        counts = data[data["unit"].isin(wanted)].groupby("unit").size().reindex(wanted, fill_value=0)
        few = counts[counts < spec.min_observations]
        self.skipped = pd.DataFrame({"unit": few.index, "observations": few.to_numpy()})
        if len(few):
            self.warnings.append(
                f"{len(few)} unit(s) have fewer than {spec.min_observations} observations and are "
                f"skipped: {', '.join(f'{u} ({c})' for u, c in few.items())}."
            )
        self.units = [u for u in wanted if counts[u] >= spec.min_observations]
        if not self.units:
            raise SpecError(f"{where}: no unit has at least {spec.min_observations} observations; "
                            "lower [panel] min_observations or check the data.")
        bad_show = [u for u in spec.show if u not in self.units]
        if bad_show:
            self.warnings.append(f"[panel] show: {', '.join(bad_show)} not in the fitted units.")
        n = self.n_units = len(self.units)
        uindex = {u: i for i, u in enumerate(self.units)}
        data = data[data["unit"].isin(uindex)].copy()
        data["u"] = data["unit"].map(uindex)
        # ---- periods: hold out each unit's last N observations of each series
        data["period"] = "fit"
        if spec.holdout:
            rank = data.groupby(["series", "u"])["year"].rank(ascending=False, method="first")
            data.loc[rank <= spec.holdout, "period"] = "holdout"
        nfit = data[data["period"] == "fit"].groupby("u").size().reindex(range(n), fill_value=0)
        if (nfit == 0).any():
            bad = [self.units[i] for i in np.flatnonzero(nfit.to_numpy() == 0)]
            raise SpecError(f"{where}: after holding out {spec.holdout} wave(s), unit(s) "
                            f"{', '.join(bad[:10])} have nothing left to fit; raise min_observations.")
        self.data = data.reset_index(drop=True)
        # ---- time grid
        self.years = np.unique(data["year"].to_numpy(float))
        self.T = len(self.years)
        self.S = len(spec.series)
        self.Y = np.full((self.S, n, self.T), np.nan)
        self.period = np.zeros((self.S, n, self.T), dtype=np.int8)  # 1 fit, 2 holdout
        ti = np.searchsorted(self.years, data["year"].to_numpy(float))
        self.Y[data["series"], data["u"], ti] = data["value"].to_numpy(float)
        self.period[data["series"], data["u"], ti] = np.where(data["period"] == "fit", 1, 2)
        self.fit_mask = self.period == 1
        self.n_obs = int(self.fit_mask.sum())
        self.n_obs_series = self.fit_mask.sum(axis=(1, 2))
        # ---- parameters
        self.from_first: dict[str, np.ndarray] = {}
        entries: list[Entry] = []
        for p in spec.parameters:
            name = m.resolve(p.name, where=f"{where} [parameters]")
            kind = m.kind(name)
            if kind != "constant":
                raise SpecError(f"{where}: [parameters.\"{p.name}\"]: {name!r} is a {kind}, not a "
                                "constant; only constants can be fitted or set per unit.")
            if p.from_first is not None:
                k = [s.name for s in spec.series].index(p.from_first)
                s = spec.series[k]
                first = np.array([self.Y[k, i][np.isfinite(self.Y[k, i])][0] for i in range(n)])
                off = s.offset if not isinstance(s.offset, MeasureParam) else s.offset.value
                sc = s.scale if not isinstance(s.scale, MeasureParam) else s.scale.value
                self.from_first[name] = off + sc * first
                continue
            x0 = p.value if p.value is not None else m.default(name)
            if not (math.isfinite(x0) and p.lower <= x0 <= p.upper):
                x0 = 0.5 * (p.lower + p.upper)
            entries.append(Entry(name, "model", p.scope, p.lower, p.upper, float(x0)))
        for k, s in enumerate(spec.series):
            for what in ("offset", "scale"):
                mp = getattr(s, what)
                if isinstance(mp, MeasureParam):
                    entries.append(Entry(mp.name, "measure", mp.scope, mp.lower, mp.upper, mp.value,
                                         k, what))
        if not entries:
            raise SpecError(f"{where}: nothing to fit: every parameter comes from data.")
        self.shared = [e for e in entries if e.scope == "shared"]
        self.per_unit = [e for e in entries if e.scope != "shared"]
        self.pooled = np.array([e.scope == "pooled" for e in self.per_unit], dtype=bool)
        self.n_shared, self.K = len(self.shared), len(self.per_unit)
        self.n_vars = self.n_shared + n * self.K
        self._check_instruments()
        # ---- inputs per unit
        self.inputs: list[tuple[str, list[Any]]] = []
        self.input_notes: list[str] = []
        for inp in spec.inputs:
            var = m.resolve(inp.variable, where=f"{where}, [inputs.{inp.name}] variable")
            df, _ = read_long(inp.file, inp.unit_column or spec.unit_column, inp.year_column,
                              inp.value_column, inp.missing, what=f"[inputs.{inp.name}]")
            miss = [u for u in self.units if u not in set(df["unit"])]
            if miss:
                raise DataError(f"{inp.file}: input {inp.name!r} has no values for unit(s) "
                                f"{', '.join(miss[:10])}; every fitted unit needs its input series.")
            from pvsd.timefunc import PiecewiseLinear

            fns = []
            for u in self.units:
                d = df[df["unit"] == u]
                x, y = extend_input(d["year"].to_numpy(), d["value"].to_numpy(), inp.beyond,
                                    inp.trend_window, float(m.final_time))
                fns.append(PiecewiseLinear(tuple(x), tuple(y)))
            self.inputs.append((var, fns))
            self.input_notes.append(f"input {inp.name} -> {var}: each unit's series from "
                                    f"{inp.file.name}; beyond its last value: {inp.beyond}"
                                    + (f" (linear trend of the last {inp.trend_window} values)"
                                       if inp.beyond == "trend" else " (last value held)"))
        self.sigma = np.array([s.sigma if s.sigma is not None else 1.0 for s in spec.series])
        self.n_runs = 0
        self.n_calls = 0

    # ------------------------------------------------------------------ checks
    def _check_instruments(self) -> None:
        by_var: dict[str, list[str]] = {}
        for s, v in zip(self.spec.series, self.variables, strict=True):
            by_var.setdefault(v, []).append(s.name)
        for v, names in by_var.items():
            if len(names) > 1:
                self.warnings.append(f"series {', '.join(names)} measure the same variable {v!r} "
                                     "with different instruments; each keeps its own measurement map.")

    # ------------------------------------------------------------------ layout
    @property
    def x0(self) -> np.ndarray:
        """Starting point in unit coordinates."""
        s = [(e.x0 - e.lower) / e.width for e in self.shared]
        u = [(e.x0 - e.lower) / e.width for e in self.per_unit]
        return np.concatenate([np.asarray(s, float), np.tile(np.asarray(u, float), self.n_units)])

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Vector -> (shared (S,), per-unit (n, K))."""
        return x[: self.n_shared], x[self.n_shared:].reshape(self.n_units, self.K)

    def join(self, s: np.ndarray, U: np.ndarray) -> np.ndarray:
        return np.concatenate([s, U.ravel()])

    def values(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit coordinates -> parameter values: (shared (S,), per-unit (n, K))."""
        s, U = self.split(x)
        lo_s = np.array([e.lower for e in self.shared])
        w_s = np.array([e.width for e in self.shared])
        lo_u = np.array([e.lower for e in self.per_unit])
        w_u = np.array([e.width for e in self.per_unit])
        return lo_s + s * w_s, lo_u + U * w_u

    # ------------------------------------------------------------------ simulation
    def simulate(self, s_u: np.ndarray, U_u: np.ndarray, unit: np.ndarray, years: np.ndarray,
                 final_time: float | None = None) -> dict[str, np.ndarray]:
        """Run members (rows) with shared values ``s_u`` (M, S), per-unit ``U_u`` (M, K) in
        unit coordinates, for units ``unit`` (M,). Returns variable -> (M, len(years))."""
        M = len(unit)
        cols: dict[str, np.ndarray] = {}
        for j, e in enumerate(self.shared):
            if e.kind == "model":
                cols[e.name] = e.lower + np.clip(s_u[:, j], 0, 1) * e.width
        for j, e in enumerate(self.per_unit):
            if e.kind == "model":
                cols[e.name] = e.lower + np.clip(U_u[:, j], 0, 1) * e.width
        for name, vals in self.from_first.items():
            cols[name] = vals[unit]
        if not cols:
            cols["__unit__"] = unit.astype(float)  # placeholder never passed
        t1 = float(final_time if final_time is not None else years.max())
        t1 = max(t1, self.t0 + self.dt)
        outs = list(dict.fromkeys(self.variables))
        out = {v: np.empty((M, len(years))) for v in outs}
        # one pass for all members: each unit's input series is its members' time function
        groups: list[tuple[np.ndarray, dict[str, Any]]] = [(np.arange(M), {})]
        for rows, params in groups:
            samples: Any = pd.DataFrame({k: v[rows] for k, v in cols.items() if k != "__unit__"})
            if self.inputs:
                samples = {**{k: samples[k].to_numpy() for k in samples.columns},
                           **{var: self._input_paths(var, fns)[unit[rows]]
                              for var, fns in self.inputs}}
            elif samples.shape[1] == 0:
                samples = pd.DataFrame({self.per_unit[0].name if self.per_unit else
                                        self.shared[0].name: np.zeros(len(rows))})
            ds = self.model.run_ensemble(samples, outputs=outs, params=params or None,
                                         initial_time=self.t0, final_time=t1, time_step=self.dt,
                                         return_times=list(years), progress=False, check=True,
                                         method=self.spec.method)
            self.n_calls += 1
            self.n_runs += len(rows)
            got = np.asarray(ds["time"].values, float)
            if len(got) != len(years) or not np.allclose(got, years):
                raise SpecError(f"{self.spec.where}: observation years {sorted(set(years) - set(got))}"
                                f" are not on the time-step grid {self.t0:g} + k * {self.dt:g}; "
                                "choose a time_step that divides the year spacing.")
            for v in outs:
                if ds[v].ndim != 2:
                    raise SpecError(
                        f"{self.spec.where}: {v!r} is subscripted ({', '.join(ds[v].dims[2:])}); "
                        "panel calibration fits scalar model variables only (the model is run "
                        "once per unit). Measure one element of the array, or use a scalar model."
                    )
                out[v][rows] = np.asarray(ds[v].values, float)
        return out

    def _input_paths(self, var: str, fns: list[Any]) -> Any:
        """The units' input series of ``var``, stacked once (MemberPiecewise, one per unit)."""
        cache = self.__dict__.setdefault("_paths", {})
        if var not in cache:
            from pvsd.timefunc import MemberPiecewise

            cache[var] = MemberPiecewise.stack([f.arrays() for f in fns])
        return cache[var]

    def predict(self, s_u: np.ndarray, U_u: np.ndarray, unit: np.ndarray,
                years: np.ndarray | None = None, final_time: float | None = None) -> np.ndarray:
        """Model predictions on each indicator's own scale: (M, n_series, len(years))."""
        years = self.years if years is None else np.asarray(years, float)
        lags = sorted({s.diff_period for s in self.spec.series if s.diff})
        grid = np.unique(np.concatenate([years] + [years - d for d in lags]))
        sims = self.simulate(s_u, U_u, unit, grid, final_time=final_time)
        idx = np.searchsorted(grid, years)
        out = np.empty((len(unit), self.S, len(years)))
        for k, s in enumerate(self.spec.series):
            x = sims[self.variables[k]]
            mu = x[:, idx]
            if s.diff:
                mu = mu - x[:, np.searchsorted(grid, years - s.diff_period)]
            off, sc = self._measure(k, s_u, U_u)
            out[:, k, :] = (mu - off[:, None]) / sc[:, None]
        return out

    def _measure(self, k: int, s_u: np.ndarray, U_u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self.spec.series[k]
        M = s_u.shape[0]
        res = []
        for what in ("offset", "scale"):
            v = getattr(s, what)
            if not isinstance(v, MeasureParam):
                res.append(np.full(M, float(v)))
                continue
            pool, arr = (self.shared, s_u) if v.scope == "shared" else (self.per_unit, U_u)
            j = next(i for i, e in enumerate(pool) if e.kind == "measure" and e.series == k
                     and e.what == what)
            res.append(v.lower + np.clip(arr[:, j], 0, 1) * (v.upper - v.lower))
        return res[0], res[1]

    def residuals(self, s_u: np.ndarray, U_u: np.ndarray, unit: np.ndarray,
                  weights: np.ndarray | None = None) -> np.ndarray:
        """Weighted fit-period residuals (model - data) / sigma: (M, n_series * T), 0 off the data."""
        pred = self.predict(s_u, U_u, unit)
        y = self.Y[:, unit, :].transpose(1, 0, 2)
        mask = self.fit_mask[:, unit, :].transpose(1, 0, 2)
        w = (np.array([s.weight for s in self.spec.series]) / self.sigma) if weights is None \
            else weights
        r = np.where(mask, (pred - np.where(mask, y, 0.0)) * w[None, :, None], 0.0)
        r = np.where(np.isfinite(r), r, 1e3)
        return r.reshape(len(unit), -1)

    def all_units(self) -> np.ndarray:
        return np.arange(self.n_units)
