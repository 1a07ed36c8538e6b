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

from pvsd.arrays import label
from pvsd.calibration.panel.data import extend_input, read_long
from pvsd.calibration.panel.dimension import (
    UnitDimension,
    check_variable,
    element_defaults,
    map_units,
    resolve_dimension,
)
from pvsd.calibration.panel.paths import PathParam, check_times
from pvsd.calibration.panel.simulate import PathBinding, Rows, run_rows
from pvsd.calibration.panel.spec import MeasureParam, PanelSpec
from pvsd.errors import DataError, SpecError
from pvsd.model_checks import outside_range, range_text

if TYPE_CHECKING:
    from pvsd.model import Model

__all__ = ["Entry", "PanelProblem"]


@dataclass(frozen=True)
class Entry:
    """One free parameter: a model constant or a measurement parameter."""

    name: str
    kind: str  # "model" | "measure" | "path" (a piece of a time-varying lever path)
    scope: str  # "shared" | "unit" | "pooled"
    lower: float
    upper: float
    x0: float
    series: int = -1
    what: str = ""
    target: str = ""  # kind "path": the model constant the piece belongs to

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
        self.dim: UnitDimension | None = None
        if spec.dimension is not None:
            self.dim = resolve_dimension(m, spec.dimension, where)
            names = map_units(sorted(data["unit"].unique()), self.dim, spec.unit_column, where)
            data["unit"] = data["unit"].map(names)
            for s, var in zip(spec.series, self.variables, strict=True):
                check_variable(m, var, self.dim, True, f"[series.{s.name}] variable", where)
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
        self._bind_dimension()
        # ---- parameters
        self.from_first: dict[str, np.ndarray] = {}
        self.fixed_params: dict[str, Any] = {}
        self.paths: list[PathBinding] = []
        entries: list[Entry] = []
        set_by: dict[str, str] = {}
        for p in spec.parameters:
            w = f"{where}, [parameters.\"{p.name}\"]"
            name = m.resolve(p.name, where=f"{where} [parameters]")
            kind = m.kind(name)
            if kind != "constant":
                what = f"a {p.kind} path" if isinstance(p, PathParam) else "fitted or set per unit"
                raise SpecError(f"{w}: {name!r} is a {kind}, not a constant; only a constant can be "
                                f"{what} (a path replaces the constant's value by a function of "
                                "time). Choose the constant that drives it.")
            if name in set_by:
                raise SpecError(f"{w}: {name!r} is already set by {set_by[name]}; set each constant "
                                "once.")
            set_by[name] = f"[parameters.\"{p.name}\"]"
            if self.dim is not None:
                per_unit = p.scope != "shared" or (
                    not isinstance(p, PathParam) and p.from_first is not None)
                if check_variable(m, name, self.dim, per_unit, "parameter", w):
                    self._arrayed.add(name)
            if isinstance(p, PathParam):
                self._add_path(p, name, w, entries, t_end)
                continue
            if p.from_first is not None:
                k = [s.name for s in spec.series].index(p.from_first)
                s = spec.series[k]
                first = np.array([self.Y[k, i][np.isfinite(self.Y[k, i])][0] for i in range(n)])
                off = s.offset if not isinstance(s.offset, MeasureParam) else s.offset.value
                sc = s.scale if not isinstance(s.scale, MeasureParam) else s.scale.value
                self.from_first[name] = off + sc * first
                if self.dim is not None:
                    for i, u in enumerate(self.units):
                        self.fixed_params[label(name, (u,))] = float(self.from_first[name][i])
                continue
            x0 = p.value if p.value is not None else self._default(name)
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
            wi = f"{where}, [inputs.{inp.name}]"
            var = m.resolve(inp.variable, where=f"{wi} variable")
            if var in set_by:
                raise SpecError(f"{wi}: {var!r} is already set by {set_by[var]}; set each constant "
                                "once.")
            set_by[var] = f"[inputs.{inp.name}]"
            if self.dim is not None:
                check_variable(m, var, self.dim, True, "input", wi)
            df, _ = read_long(inp.file, inp.unit_column or spec.unit_column, inp.year_column,
                              inp.value_column, inp.missing, what=f"[inputs.{inp.name}]")
            if self.dim is not None:
                df["unit"] = df["unit"].map(map_units(sorted(df["unit"].unique()), self.dim,
                                                      inp.unit_column or spec.unit_column, wi))
            miss = [u for u in self.units if u not in set(df["unit"])]
            if miss:
                raise DataError(f"{inp.file}: input {inp.name!r} has no values for unit(s) "
                                f"{', '.join(miss[:10])}; every fitted unit needs its input series.")
            from pvsd.timefunc import PiecewiseLinear

            # with held-out waves, an input is known only up to the unit's last fitted wave:
            # using later input values would leak the held-out years into their forecast
            cut = (self.data[self.data["period"] == "fit"].groupby("u")["year"].max()
                   if spec.holdout else None)
            row = m.variables.set_index("name").loc[var]
            lo, hi = float(row["min"]), float(row["max"])
            fns = []
            for i, u in enumerate(self.units):
                d = df[df["unit"] == u]
                if cut is not None:
                    d = d[d["year"] <= cut[i] + 1e-9]
                    if d.empty:
                        raise DataError(f"{inp.file}: input {inp.name!r} has no value for unit {u} "
                                        f"up to its last fitted wave {cut[i]:g}.")
                _check_input_range(d, lo, hi, inp, u, var)
                x, y = extend_input(d["year"].to_numpy(), d["value"].to_numpy(), inp.beyond,
                                    inp.trend_window, float(m.final_time), inp.lower, inp.upper)
                _check_extension_range(np.asarray(x, float), np.asarray(y, float), lo, hi, inp, u, var)
                fns.append(PiecewiseLinear(tuple(x), tuple(y)))
            if self.dim is None:
                self.inputs.append((var, fns))
            else:  # one run holds every unit: the inputs are fixed element settings
                for u, f in zip(self.units, fns, strict=True):
                    self.fixed_params[label(var, (u,))] = f
            self.input_notes.append(f"input {inp.name} -> {var}: each unit's series from "
                                    f"{inp.file.name}; beyond its last value: {inp.beyond}"
                                    + (f" (linear trend of the last {inp.trend_window} values"
                                       + (f", stopping at [{inp.lower}, {inp.upper}]"
                                          if inp.lower is not None or inp.upper is not None else "")
                                       + ")" if inp.beyond == "trend" else " (last value held)")
                                    + ("; values after each unit's last fitted wave are not used"
                                       if cut is not None else ""))
        self.sigma = np.array([s.sigma if s.sigma is not None else 1.0 for s in spec.series])
        self.n_runs = 0
        self.n_calls = 0
        self.n_members = 0
        # None: not known yet whether the engine takes per-member time functions (simulate.py)
        self.tf_columns: bool | None = None
        self.tf_note = ""
        self._set_by = set_by
        self.wave = None
        if spec.estimator == "wave-ahead":
            from pvsd.calibration.panel.wave import WaveLayout

            self.wave = WaveLayout(self)  # members, state inversion; narrows the fit mask

    # ------------------------------------------------------------------ binding helpers
    def _bind_dimension(self) -> None:
        """Units -> element positions; elements without a fitted unit are listed."""
        self._arrayed: set[str] = set()
        self._elem_defaults: dict[str, np.ndarray] = {}
        if self.dim is None:
            self.unit_element = np.arange(self.n_units)
            return
        pos = {e: j for j, e in enumerate(self.dim.elements)}
        self.unit_element = np.array([pos[u] for u in self.units], int)
        idle = [e for e in self.dim.elements if e not in set(self.units)]
        if idle:
            self.warnings.append(
                f"{len(idle)} element(s) of {self.dim.name} have no fitted data and run at the "
                f"model's own values (not fitted, not reported): {', '.join(idle[:20])}"
                f"{' ...' if len(idle) > 20 else ''}.")

    def input_paths(self, var: str, fns: list[Any]) -> Any:
        """The units' input series of ``var``, stacked once (MemberPiecewise, one per unit)."""
        cache = self.__dict__.setdefault("_input_stack", {})
        if var not in cache:
            from pvsd.timefunc import MemberPiecewise

            cache[var] = MemberPiecewise.stack([f.arrays() for f in fns])
        return cache[var]

    @property
    def scalar_vars(self) -> set[str]:
        """Parameters (constants, paths) that are scalars in a subscripted panel's model."""
        return {e.target or e.name for e in self.shared + self.per_unit
                if e.kind != "measure"} - self._arrayed

    def element_defaults(self, var: str) -> np.ndarray:
        """The model's values of a constant arrayed over the unit dimension, (n_elements,)."""
        if var not in self._elem_defaults:
            assert self.dim is not None
            self._elem_defaults[var] = element_defaults(self.model, var, self.dim)
        return self._elem_defaults[var]

    def _default(self, var: str) -> float:
        """The model's value of a constant (the mean over units for an array over units)."""
        if self.dim is not None and var in self._arrayed:
            return float(np.mean(self.element_defaults(var)[self.unit_element]))
        return float(self.model.default(var))

    def _add_path(self, p: PathParam, name: str, where: str, entries: list[Entry], t_end: float
                  ) -> None:
        check_times(p, self.t0, t_end, where)
        if self.dim is not None and name in self._arrayed:
            base = self.element_defaults(name)[self.unit_element]
        else:
            base = np.full(self.n_units, float(self.model.default(name)))
        fixed: dict[str, float] = {}
        for pc in p.pieces:
            if not pc.fitted:
                fixed[pc.piece] = float(pc.value)  # type: ignore[arg-type]
                continue
            x0 = pc.value
            if x0 is None and pc.piece == "from":
                x0 = float(np.mean(base))
            if x0 is None or not (math.isfinite(x0) and pc.lower <= x0 <= pc.upper):
                x0 = 0.5 * (pc.lower + pc.upper)
            entries.append(Entry(f"{name}: {pc.piece}", "path", str(pc.scope), pc.lower, pc.upper,
                                 float(x0), what=pc.piece, target=name))
        self.paths.append(PathBinding(name, p.kind, fixed, base, p.name))

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
    def rows(self, s_u: np.ndarray, U_u: np.ndarray, unit: np.ndarray) -> Rows:
        """Per-row model settings from unit coordinates (shared (M, S), per-unit (M, K))."""
        rows = Rows(unit=np.asarray(unit, int))
        paths: dict[str, dict[str, np.ndarray]] = {b.variable: {} for b in self.paths}
        key = []
        for pool, arr in ((self.shared, s_u), (self.per_unit, U_u)):
            for j, e in enumerate(pool):
                if e.kind == "measure":
                    continue
                v = e.lower + np.clip(arr[:, j], 0, 1) * e.width
                if e.kind == "model":
                    rows.consts[e.name] = v
                    if e.scope == "shared":
                        rows.shared[e.name] = v
                else:
                    paths[e.target][e.what] = v
                if e.scope == "shared":
                    key.append(v)
        if self.dim is None:
            for name, vals in self.from_first.items():
                rows.consts[name] = vals[rows.unit]
        rows.paths = [(b, paths[b.variable]) for b in self.paths]
        rows.shared_key = np.column_stack(key) if key else None
        return rows

    def simulate(self, s_u: np.ndarray, U_u: np.ndarray, unit: np.ndarray, years: np.ndarray,
                 final_time: float | None = None) -> dict[str, np.ndarray]:
        """Run members (rows) with shared values ``s_u`` (M, S), per-unit ``U_u`` (M, K) in
        unit coordinates, for units ``unit`` (M,). Returns variable -> (M, len(years))."""
        t1 = float(final_time if final_time is not None else years.max())
        t1 = max(t1, self.t0 + self.dt)
        return run_rows(self, self.rows(s_u, U_u, unit), np.asarray(years, float), t1)

    def predict(self, s_u: np.ndarray, U_u: np.ndarray, unit: np.ndarray,
                years: np.ndarray | None = None, final_time: float | None = None,
                need: np.ndarray | None = None) -> np.ndarray:
        """Model predictions on each indicator's own scale: (M, n_series, len(years)).

        With estimator "wave-ahead" each year is predicted from the unit's last fitted state
        observation before it (:mod:`pvsd.calibration.panel.wave`); ``need`` ((M, len(years))
        bool) then limits the runs to the years wanted (others are NaN)."""
        years = self.years if years is None else np.asarray(years, float)
        if self.wave is not None:
            return self.wave.predict(s_u, U_u, unit, years, need)
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
        mask = self.fit_mask[:, unit, :].transpose(1, 0, 2)
        pred = self.predict(s_u, U_u, unit, need=mask.any(axis=1))
        y = self.Y[:, unit, :].transpose(1, 0, 2)
        w = (np.array([s.weight for s in self.spec.series]) / self.sigma) if weights is None \
            else weights
        r = np.where(mask, (pred - np.where(mask, y, 0.0)) * w[None, :, None], 0.0)
        r = np.where(np.isfinite(r), r, 1e3)
        return r.reshape(len(unit), -1)

    def all_units(self) -> np.ndarray:
        return np.arange(self.n_units)


def _check_input_range(d: pd.DataFrame, lo: float, hi: float, inp: Any, unit: str, var: str) -> None:
    """A per-unit input value the model's declared range refuses: named by file, line and unit."""
    bad = outside_range(d["value"].to_numpy(float), lo, hi)
    if bad.any():
        r = d[bad].iloc[0]
        more = f" ({int(bad.sum())} of this unit's values are outside it)" if bad.sum() > 1 else ""
        raise DataError(
            f"{inp.file}, line {int(r['line'])}: input {inp.name!r} of unit {unit} in {r['year']:g} is "
            f"{r['value']:g}, outside the range the model declares for {var!r}, {range_text(lo, hi)}"
            f"{more}. Correct the value, leave the unit out of [panel] units, or widen the range in "
            "the model file if the data are right.")


def _check_extension_range(x: np.ndarray, y: np.ndarray, lo: float, hi: float, inp: Any, unit: str,
                           var: str) -> None:
    """The rule beyond the data (a trend) takes an input out of the model's declared range."""
    bad = outside_range(y, lo, hi)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"[inputs.{inp.name}]: beyond its data, unit {unit}'s input ({inp.beyond}) reaches "
            f"{y[k]:g} in {x[k]:g}, outside the range the model declares for {var!r}, "
            f"{range_text(lo, hi)}; give lower/upper in [inputs.{inp.name}] so the trend stops "
            "inside it, or use beyond = \"hold\".")

