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
        self.space: ParameterSpace = spec.parameter_space(m)
        varied = self.space.varied
        self.model_names = [p.name for p in varied]
        self.fixed: dict[str, float] = self.space.fixed
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
        self.names = self.model_names + [f"{self.series[k].spec.name}: {what}"
                                         for k, what in self.nuisance]
        lo = [float(p.lower) for p in varied] + [1e-6] * len(self.nuisance)  # type: ignore[arg-type]
        hi = [float(p.upper) for p in varied] + [100.0] * len(self.nuisance)  # type: ignore[arg-type]
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
        self.range_note = ""
        if wider:
            from pvsd.overrides import widen_ranges

            self.model = widen_ranges(self.model, wider)
            self.range_note = self.model._range_note
        self.x0 = np.asarray([float(p.nominal) for p in varied] + [0.1] * len(self.nuisance))
        self.n_params = len(self.names)
        if self.least_squares and self.n_obs <= len(self.model_names):
            raise SpecError(
                f"{spec.where}: {self.n_obs} observations in the fit period cannot determine "
                f"{len(self.model_names)} parameters; fit fewer parameters or use more data."
            )
        # ---- time grid of the runs
        used = np.concatenate([b.obs.times[b.period != "unused"] for b in self.series])
        self.t0 = m.initial_time
        self.t1 = float(max(used.max(), self.t0 + (spec.time_step or m.time_step)))
        self.dt = float(spec.time_step or m.time_step)
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
        samples = pd.DataFrame(self.clip(theta)[:, :k], columns=self.model_names)
        times = self.times if times is None else times
        ds = self.model.run_ensemble(
            samples, outputs=outputs or self.variables, params=self.fixed or None,
            return_times=list(times), final_time=final_time or self.t1,
            time_step=self.dt, progress=False, check=True,
            method=getattr(self.spec, "method", "euler"),
        )
        self.n_calls += 1
        self.n_runs += len(samples)
        return {v: np.asarray(ds[v].values, dtype=float) for v in (outputs or self.variables)}

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
        nuis = {k: theta[:, len(self.model_names) + j] for j, (k, _) in enumerate(self.nuisance)}
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
        for j, p in enumerate(self.space.varied):
            if p.dist != "uniform":
                with np.errstate(divide="ignore"):
                    out += p.distribution().logpdf(theta[:, j])
        for j in range(len(self.nuisance)):  # dispersion: log-uniform
            with np.errstate(divide="ignore", invalid="ignore"):
                out -= np.log(theta[:, len(self.model_names) + j])
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
