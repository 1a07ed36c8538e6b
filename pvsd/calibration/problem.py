"""A calibration spec bound to a model and its data: the objective the engine optimises.

Every evaluation is one ensemble run (:meth:`pvsd.Model.run_ensemble`): a whole
differential-evolution population, a finite-difference stencil or the MCMC
walkers are simulated in one vectorised pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import gammaln

from pvsd.calibration.data import Observations, read_series
from pvsd.calibration.panel.paths import check_times, path_function
from pvsd.calibration.spec import CalibrationSpec, SeriesSpec
from pvsd.errors import DataError, SpecError

if TYPE_CHECKING:
    from pvsd.model import Model
    from pvsd.parameters import ParameterSpace

__all__ = ["BoundSeries", "Problem"]

#: Objective value given to parameter sets whose simulation fails (NaN, negative
#: values under a log or count likelihood): finite, so the global search can rank them.
PENALTY = 1e12


@dataclass(frozen=True)
class BoundSeries:
    """A series matched to its model variable, with its observations split by period.

    ``y`` holds the observations on the model's scale (affine map applied, not the
    log transform); ``period`` is ``"fit"``, ``"holdout"`` or ``"unused"`` per observation.
    """

    spec: SeriesSpec
    variable: str
    obs: Observations
    y: np.ndarray
    period: np.ndarray

    @property
    def fit(self) -> np.ndarray:
        return self.period == "fit"

    @property
    def n_fit(self) -> int:
        return int(self.fit.sum())


@dataclass(frozen=True)
class _Path:
    """A lever path of the spec: its fixed pieces, the model's value, its fitted pieces in order."""

    variable: str
    kind: str
    fixed: Mapping[str, float]
    baseline: float
    pieces: tuple[str, ...]


class Problem:
    """The calibration problem: parameters, data, likelihood, and vectorised evaluation.

    Parameters
    ----------
    spec
        The calibration spec.
    model
        The loaded model (default: loaded from ``spec.model``).
    """

    def __init__(self, spec: CalibrationSpec, model: Model | None = None) -> None:
        import pvsd

        self.spec = spec
        self.model = model if model is not None else pvsd.load(spec.model)
        m = self.model
        # a spec whose constants are all fixed (or that has lever paths alone) has no parameter
        # space: the paths are what it fits
        consts = spec.constant_parameters(m) if spec.has_constants else []
        self.space: ParameterSpace | None = None
        if any(p.vary for p in consts):
            self.space = spec.parameter_space(m)
        varied = self.space.varied if self.space is not None else ()
        self.model_names = [p.name for p in varied]
        self.fixed: dict[str, float] = self.space.fixed if self.space is not None else {}
        if self.space is None:
            for p in consts:
                canonical, value = m.check_param(p.name, float(p.value), where=f"{spec.where} [parameters]")
                self.fixed[canonical] = value
        self.warnings: list[str] = []
        # ---- series
        self.series: list[BoundSeries] = []
        t_model0, t_model1 = m.initial_time, m.final_time
        for s in spec.series:
            var = m.resolve(s.variable, where=f"{spec.where}, [series.{s.name}] variable")
            obs = read_series(s.file, s.country, s.year_column, s.value_column, s.country_column) \
                if s.data is None else _from_series(s)
            y = s.to_model_scale(obs.values)
            if s.transform == "log" and (y <= 0).any():
                i = int(np.flatnonzero(y <= 0)[0])
                raise DataError(f"{obs.source}, line {obs.lines[i]}: value {obs.values[i]:g} maps to "
                                f"{y[i]:g} on the model's scale, which has no logarithm "
                                f"(series {s.name!r} uses transform = \"log\").")
            if s.likelihood in ("poisson", "negbin"):
                bad = (y < 0) | (np.abs(y - np.round(y)) > 1e-9)
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    raise DataError(f"{obs.source}, line {obs.lines[i]}: a {s.likelihood} likelihood "
                                    f"needs counts (non-negative integers), got {obs.values[i]:g}.")
            period = np.full(obs.times.shape, "unused", dtype=object)
            inside = (obs.times >= t_model0 - 1e-9) & (obs.times <= t_model1 + 1e-9)
            ho = spec.holdout_period
            fp = spec.fit_period
            in_ho = np.zeros(obs.times.shape, bool) if ho is None else \
                (obs.times >= ho[0]) & (obs.times <= ho[1])
            in_fit = ~in_ho if fp is None else (obs.times >= fp[0]) & (obs.times <= fp[1])
            if ho is not None and fp is not None and (in_fit & in_ho).any():
                raise SpecError(f"{spec.where}: fit_period {fp} and holdout_period {ho} overlap; "
                                "held-out years must not be fitted.")
            period[in_fit & inside] = "fit"
            period[in_ho & inside] = "holdout"
            outside = (in_fit | in_ho) & ~inside
            if outside.any():
                self.warnings.append(
                    f"series {s.name!r}: {int(outside.sum())} observation(s) lie outside the model's "
                    f"time range [{t_model0:g}, {t_model1:g}] and are not used."
                )
            last = max([q[1] for q in (fp, ho) if q is not None], default=None)
            later = obs.times > last + 1e-9 if last is not None else np.zeros(obs.times.shape, bool)
            if later.any():
                # e.g. a new survey wave added to the data: say it is not checked, rather than drop it quietly
                yrs = ", ".join(f"{t:g}" for t in obs.times[later][:5]) + (" ..." if later.sum() > 5 else "")
                what = "holdout_period" if ho is not None else "fit_period (or add a holdout_period)"
                beyond = (f" (and run the model past its FINAL TIME {t_model1:g})"
                          if (later & ~inside).any() else "")
                self.warnings.append(
                    f"series {s.name!r}: {int(later.sum())} observation(s) after {last:g} ({yrs}) lie in "
                    f"neither fit_period nor holdout_period and are not used; extend {what} to "
                    f"{obs.times[later].max():g}{beyond} to use them."
                )
            self.series.append(BoundSeries(s, var, obs, y, period))
        _check_units(spec)
        n_fit = sum(b.n_fit for b in self.series)
        if n_fit == 0:
            fp = spec.fit_period
            raise SpecError(
                f"{spec.where}: the fit period {list(fp) if fp else '(all years)'} contains no "
                f"observation inside the model's time range [{t_model0:g}, {t_model1:g}]; widen "
                "fit_period or check the data years."
            )
        self.n_obs = n_fit
        self.least_squares = all(b.spec.likelihood == "sse" for b in self.series)
        # ---- nuisance parameters (fitted negative-binomial dispersions)
        self.nuisance: list[tuple[int, str]] = [
            (k, "dispersion") for k, b in enumerate(self.series)
            if b.spec.likelihood == "negbin" and b.spec.dispersion is None
        ]
        # ---- lever paths: their fitted pieces follow the constants in the parameter vector
        self.dt = float(spec.time_step or m.time_step)
        self.paths: list[_Path] = []
        p_names, p_lo, p_hi, p_x0 = [], [], [], []
        for name, pp in spec.path_params(m):
            if name in self.model_names or name in self.fixed or any(b.variable == name for b in self.paths):
                raise SpecError(f"{spec.where}, [parameters.\"{pp.name}\"]: {name!r} is already a parameter "
                                "of the spec; set each constant once (a constant or a path).")
            check_times(pp, m.initial_time, m.final_time, f"{spec.where}, [parameters.\"{pp.name}\"]")
            base = float(m.default(name))
            fixed = {pc.piece: float(pc.value) for pc in pp.pieces if not pc.fitted}  # type: ignore[arg-type]
            pieces = []
            for pc in pp.pieces:
                if not pc.fitted:
                    continue
                x0 = pc.value
                if x0 is None and pc.piece == "from":
                    x0 = base
                if x0 is None or not (math.isfinite(x0) and pc.lower <= x0 <= pc.upper):
                    x0 = 0.5 * (pc.lower + pc.upper)
                pieces.append(pc.piece)
                p_names.append(f"{name}: {pc.piece}")
                p_lo.append(pc.lower)
                p_hi.append(pc.upper)
                p_x0.append(float(x0))
            self.paths.append(_Path(name, pp.kind, fixed, base, tuple(pieces)))
        self.path_names = p_names
        #: constants and path pieces: where the nuisance parameters start in a parameter vector
        self.n_model = len(self.model_names) + len(p_names)
        if self.n_model == 0:
            raise SpecError(f"{spec.where}: nothing to fit: no parameter varies" + (
                " and every piece of every lever path is fixed. Give a piece { lower = .., upper = .. } "
                "to fit it" if self.paths else "; give at least one parameter bounds (and vary = true)")
                + ".")
        self.names = self.model_names + p_names + [f"{self.series[k].spec.name}: {what}"
                                                   for k, what in self.nuisance]
        lo = [float(p.lower) for p in varied] + p_lo + [1e-6] * len(self.nuisance)  # type: ignore[arg-type]
        hi = [float(p.upper) for p in varied] + p_hi + [100.0] * len(self.nuisance)  # type: ignore[arg-type]
        self.lower = np.asarray(lo)
        self.upper = np.asarray(hi)
        # explicit spec bounds may go beyond the model's declared (slider) range: widen it
        # for this fit only, and say so in the report
        t = self.model._table.set_index("name")
        wider = {}
        for p in varied:
            dlo, dhi = float(t.loc[p.name, "min"]), float(t.loc[p.name, "max"])
            if (math.isfinite(dlo) and float(p.lower) < dlo) or (math.isfinite(dhi) and float(p.upper) > dhi):
                wider[p.name] = (float(p.lower), float(p.upper))
        for b, (vlo, vhi) in self._path_value_spans(p_lo, p_hi):
            dlo, dhi = float(t.loc[b, "min"]), float(t.loc[b, "max"])
            if (math.isfinite(dlo) and vlo < dlo) or (math.isfinite(dhi) and vhi > dhi):
                wider[b] = (vlo, vhi)
        self.range_note = ""
        if wider:
            from pvsd.overrides import widen_ranges

            self.model = widen_ranges(self.model, wider)
            self.range_note = self.model._range_note
        self.x0 = np.asarray([float(p.nominal) for p in varied] + p_x0 + [0.1] * len(self.nuisance))
        self.n_params = len(self.names)
        if self.least_squares and self.n_obs <= self.n_model:
            raise SpecError(
                f"{spec.where}: {self.n_obs} observations in the fit period cannot determine "
                f"{self.n_model} parameters; fit fewer parameters or use more data."
            )
        # ---- time grid of the runs
        used = np.concatenate([b.obs.times[b.period != "unused"] for b in self.series])
        self.t0 = m.initial_time
        self.t1 = float(max(used.max(), self.t0 + (spec.time_step or m.time_step)))
        self.times = np.unique(np.concatenate([[self.t0], used]))
        steps = (self.times - self.t0) / self.dt
        off = self.times[np.abs(steps - np.round(steps)) > 1e-9 * np.maximum(1.0, np.abs(steps))]
        if off.size:
            raise SpecError(
                f"{spec.where}: time_step {self.dt:g} does not divide the observation times: "
                f"{', '.join(f'{t:g}' for t in off[:5])} lie between the steps {self.t0:g} + k * "
                f"{self.dt:g}, so the model has no value there. Choose a time_step that divides "
                "the gaps between observations (e.g. 1, 0.5, 0.25 for yearly data)."
            )
        self.variables = list(dict.fromkeys(b.variable for b in self.series))
        self._index = [np.searchsorted(self.times, b.obs.times[b.period != "unused"])
                       for b in self.series]
        self.n_calls = 0
        self.n_runs = 0
        self._tf_columns: bool | None = None  # the engine takes a time function per member

    # ------------------------------------------------------------------ simulation
    def clip(self, theta: np.ndarray) -> np.ndarray:
        """Parameter sets moved inside the bounds (guards rounding at the edges)."""
        return np.clip(theta, self.lower, self.upper)

    def simulate(self, theta: np.ndarray, times: np.ndarray | None = None,
                 final_time: float | None = None, outputs: list[str] | None = None
                 ) -> dict[str, np.ndarray]:
        """Simulate parameter sets (rows of ``theta``) as one ensemble.

        Returns
        -------
        dict
            Variable -> array (runs, times) at ``times`` (default: the observation times).
        """
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        k = len(self.model_names)
        th = self.clip(theta)
        samples = pd.DataFrame(th[:, :k], columns=self.model_names)
        times = self.times if times is None else times
        outs = outputs or self.variables
        kw = dict(outputs=outs, return_times=list(times), final_time=final_time or self.t1,
                  time_step=self.dt, progress=False, check=True, method=getattr(self.spec, "method", "euler"))
        if not self.paths:
            ds = self.model.run_ensemble(samples, params=self.fixed or None, **kw)
            self.n_calls += 1
            self.n_runs += len(samples)
            return {v: np.asarray(ds[v].values, dtype=float) for v in outs}
        return self._simulate_paths(th, samples, kw)

    def _simulate_paths(self, th: np.ndarray, samples: pd.DataFrame, kw: dict[str, Any]
                        ) -> dict[str, np.ndarray]:
        """Runs whose lever paths differ per row: one ensemble with a time function per member
        (as the panel engine does), else one ensemble per distinct path."""
        from pvsd.errors import ParameterError

        n = th.shape[0]
        tf = self.path_functions(th)
        outs = kw["outputs"]
        self.n_runs += n
        if self._tf_columns is not False:
            cols: dict[str, Any] = {c: samples[c].to_numpy() for c in samples.columns}
            cols.update(tf)
            try:
                ds = self.model.run_ensemble(cols, params=self.fixed or None, **kw)
            except (ParameterError, TypeError, ValueError):
                if self._tf_columns:
                    raise
                self._tf_columns = False
            else:
                self._tf_columns = True
                self.n_calls += 1
                return {v: np.asarray(ds[v].values, dtype=float) for v in outs}
        out = {v: np.empty((n, len(kw["return_times"]))) for v in outs}
        groups: dict[tuple[Any, ...], list[int]] = {}
        for r in range(n):
            groups.setdefault(tuple(tf[v][r] for v in tf), []).append(r)
        for key, rows in groups.items():
            ix = np.asarray(rows)
            part = samples.iloc[ix].reset_index(drop=True) if len(samples.columns) else \
                pd.DataFrame(index=range(len(ix)))
            ds = self.model.run_ensemble(part, params={**self.fixed, **dict(zip(tf, key, strict=True))},
                                         **kw)
            self.n_calls += 1
            for v in outs:
                out[v][ix] = np.asarray(ds[v].values, dtype=float)
        return out

    def path_values(self, theta: np.ndarray) -> list[tuple[str, str, dict[str, float]]]:
        """Each path's pieces at one parameter vector: ``(variable, kind, {piece: value})``."""
        theta = np.asarray(theta, dtype=float)
        j = len(self.model_names)
        out = []
        for b in self.paths:
            vals = dict(b.fixed)
            for piece in b.pieces:
                vals[piece] = float(theta[j])
                j += 1
            vals.setdefault("from", b.baseline)
            out.append((b.variable, b.kind, vals))
        return out

    def path_functions(self, theta: np.ndarray) -> dict[str, list[Any]]:
        """Variable -> per row the fitting form of its path (pvsd.calibration.panel.paths)."""
        from pvsd.timefunc import PiecewiseLinear

        th = np.atleast_2d(theta)
        out: dict[str, list[Any]] = {b.variable: [] for b in self.paths}
        for row in th:
            for var, kind, vals in self.path_values(row):
                x, y = path_function(kind, vals, self.dt)
                out[var].append(PiecewiseLinear(x, y))
        return out

    def run_params(self, theta: np.ndarray) -> dict[str, Any]:
        """``Model.run`` parameters of one parameter vector: fixed and fitted constants, paths."""
        theta = np.asarray(theta, dtype=float)
        out: dict[str, Any] = {**dict(self.fixed),
                               **{n: float(v) for n, v in zip(self.model_names, theta, strict=False)}}
        out.update({v: fns[0] for v, fns in self.path_functions(theta[None, :]).items()})
        return out

    def _path_value_spans(self, p_lo: list[float], p_hi: list[float]
                          ) -> list[tuple[str, tuple[float, float]]]:
        """The values (from, to) each path may take, for widening declared ranges."""
        out = []
        j = 0
        for b in self.paths:
            vals = [b.fixed[k] for k in ("from", "to") if k in b.fixed]
            if "from" not in b.fixed and "from" not in b.pieces:
                vals.append(b.baseline)
            for piece in b.pieces:
                if piece in ("from", "to"):
                    vals += [p_lo[j], p_hi[j]]
                j += 1
            out.append((b.variable, (min(vals), max(vals))))
        return out

    def predictions(self, theta: np.ndarray) -> list[np.ndarray]:
        """Model values at each series' used observation times: list of (runs, n_used)."""
        sims = self.simulate(theta)
        return [sims[b.variable][:, idx] for b, idx in zip(self.series, self._index, strict=True)]

    def _fit_parts(self, preds: list[np.ndarray]) -> list[tuple[BoundSeries, np.ndarray, np.ndarray]]:
        out = []
        for b, mu in zip(self.series, preds, strict=True):
            used = b.period[b.period != "unused"]
            sel = used == "fit"
            out.append((b, mu[:, sel], b.y[b.fit]))
        return out

    # ------------------------------------------------------------------ likelihood
    def residuals(self, theta: np.ndarray) -> np.ndarray:
        """Weighted residuals w (model - data) in the fit period, (runs, n_obs) (least squares)."""
        parts = []
        for b, mu, y in self._fit_parts(self.predictions(theta)):
            if b.spec.transform == "log":
                with np.errstate(invalid="ignore", divide="ignore"):
                    mu, y = np.log(mu), np.log(y)
            parts.append(b.spec.weight * (mu - y))
        r = np.concatenate(parts, axis=1)
        return np.where(np.isfinite(r), r, 1e6)

    def loglik(self, theta: np.ndarray, preds: list[np.ndarray] | None = None) -> np.ndarray:
        """Log-likelihood of each parameter set (rows of ``theta``) on the fit period.

        Least squares (every series ``sse``): ``-N/2 log(SSE)`` up to a constant
        (Gaussian errors, one unknown variance, profiled out or integrated out
        under a Jeffreys prior). Otherwise the sum of each series' weighted
        log-likelihood. Invalid simulations give ``-inf``.
        """
        theta = np.atleast_2d(theta)
        if preds is None:
            preds = self.predictions(theta)
        n_runs = theta.shape[0]
        total = np.zeros(n_runs)
        sse_total = np.zeros(n_runs)
        nuis = {k: theta[:, self.n_model + j] for j, (k, _) in enumerate(self.nuisance)}
        for k, (b, mu, y) in enumerate(self._fit_parts(preds)):
            s = b.spec
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                if s.transform == "log":
                    mu, y = np.log(mu), np.log(y)
                n = y.size
                if s.likelihood == "sse":
                    sse = np.sum((s.weight * (mu - y)) ** 2, axis=1)
                    if self.least_squares:
                        sse_total += sse
                        continue
                    ll = -0.5 * sse
                elif s.likelihood == "gaussian":
                    sse = np.sum((mu - y) ** 2, axis=1)
                    if s.sigma is None:
                        ll = -0.5 * n * (np.log(2 * math.pi * np.maximum(sse, 1e-300) / n) + 1.0)
                    else:
                        ll = -0.5 * sse / s.sigma**2 - n * math.log(s.sigma) - 0.5 * n * math.log(2 * math.pi)
                    ll = s.weight * ll
                elif s.likelihood == "poisson":
                    ll = np.sum(np.where(y > 0, y * np.log(mu), 0.0) - mu - gammaln(y + 1), axis=1)
                    ll = np.where(np.all(mu >= 0, axis=1), ll, -np.inf)
                    ll = s.weight * ll
                else:  # negbin
                    alpha = nuis[k][:, None] if k in nuis else np.full((n_runs, 1), s.dispersion)
                    r = 1.0 / alpha
                    ll = np.sum(gammaln(y + r) - gammaln(r) - gammaln(y + 1)
                                + r * np.log(r / (r + mu)) + np.where(y > 0, y * np.log(mu / (r + mu)), 0.0),
                                axis=1)
                    ll = np.where(np.all(mu >= 0, axis=1), ll, -np.inf)
                    ll = s.weight * ll
            total += np.where(np.isfinite(ll), ll, -np.inf)
        if self.least_squares:
            with np.errstate(divide="ignore", invalid="ignore"):
                total = -0.5 * self.n_obs * (np.log(2 * math.pi * sse_total / self.n_obs) + 1.0)
            total = np.where(np.isfinite(sse_total), total, -np.inf)
        return np.where(np.isfinite(total), total, -np.inf)

    def sse(self, theta: np.ndarray) -> np.ndarray:
        """Weighted sum of squared errors (least-squares problems)."""
        r = self.residuals(theta)
        return np.sum(r**2, axis=1)

    def logprior(self, theta: np.ndarray) -> np.ndarray:
        """Log prior density: each parameter's distribution within its bounds (flat by default)."""
        theta = np.atleast_2d(theta)
        out = np.zeros(theta.shape[0])
        inside = np.all((theta >= self.lower) & (theta <= self.upper), axis=1)
        for j, p in enumerate(self.space.varied if self.space is not None else ()):
            if p.dist != "uniform":
                with np.errstate(divide="ignore"):
                    out += p.distribution().logpdf(theta[:, j])
        for j in range(len(self.nuisance)):  # dispersion: log-uniform
            with np.errstate(divide="ignore", invalid="ignore"):
                out -= np.log(theta[:, self.n_model + j])
        return np.where(inside, out, -np.inf)

    # ------------------------------------------------------------------ helpers
    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        return (np.asarray(theta) - self.lower) / (self.upper - self.lower)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        return self.lower + np.clip(np.asarray(u), 0.0, 1.0) * (self.upper - self.lower)

    def param_dict(self, theta: np.ndarray) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, theta, strict=True)}

    def data_frame(self) -> pd.DataFrame:
        """Every observation in long form: series, variable, time, value (raw), data (model scale), period, line."""
        frames = []
        for b in self.series:
            frames.append(pd.DataFrame({
                "series": b.spec.name, "variable": b.variable, "time": b.obs.times,
                "value": b.obs.values, "data": b.y, "period": b.period.astype(str),
                "line": b.obs.lines,
            }))
        return pd.concat(frames, ignore_index=True)

    def describe_data(self) -> Mapping[str, Any]:
        return {b.spec.name: {"file": str(b.obs.source), "country": b.obs.country,
                              "variable": b.variable, "likelihood": b.spec.likelihood}
                for b in self.series}


def _from_series(s: SeriesSpec) -> Observations:
    data = s.data
    assert data is not None
    idx = np.asarray(data.index, dtype=float)
    vals = np.asarray(data.to_numpy(), dtype=float)
    where = f"series {s.name!r} (data given in Python)"
    if not np.all(np.isfinite(vals)):
        i = int(np.flatnonzero(~np.isfinite(vals))[0])
        raise DataError(f"{where}, row {i}: value is NaN or infinite; leave missing years out.")
    if len(np.unique(idx)) != len(idx):
        dup = pd.Index(idx)[pd.Index(idx).duplicated()][0]
        raise DataError(f"{where}: year {dup:g} appears more than once; keep one value per year.")
    order = np.argsort(idx)
    from pathlib import Path

    return Observations(idx[order], vals[order], np.arange(len(idx))[order] + 1,
                        Path(f"<{s.name}>"), s.country)


def _check_units(spec: CalibrationSpec) -> None:
    """Series of different units (countries) on one model variable need a [panel] table."""
    by_var: dict[str, dict[str, list[str]]] = {}
    for s in spec.series:
        if s.country:
            by_var.setdefault(s.variable.strip().lower(), {}).setdefault(
                s.country.strip().upper(), []).append(s.name)
    for units in by_var.values():
        if len(units) > 1:
            desc = "; ".join(f"{', '.join(names)} ({u})" for u, names in units.items())
            var = next(s.variable for s in spec.series
                       if s.country and s.country.strip().upper() in units)
            raise SpecError(
                f"{spec.where}: series {desc} measure the model variable {var!r} for different units "
                f"({', '.join(units)}); one run has one trajectory, so they cannot be fitted together "
                "here. Write a panel spec ([panel] table, one member per unit) or keep one unit per "
                "spec. Two instruments for the same unit are allowed."
            )
