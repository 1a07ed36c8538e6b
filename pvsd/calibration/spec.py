"""Calibration specifications: which model, which data, which parameters, how to fit.

A spec is a TOML file a policy analyst writes by hand (paths are relative to it)::

    [calibration]
    title = "Reference model, United States"
    model = "public_value_chain"        # a bundled model name, or a model file path
    fit_period = [2000, 2016]           # observations used for fitting (inclusive)
    holdout_period = [2017, 2022]       # observations only predicted (optional)
    time_step = 0.125                   # optional TIME STEP for every run
    method = "euler"                    # optional integration method: euler | rk4
    seed = 20240601                     # every random draw is seeded from this

    [series.capability]
    file = "data/usa_un_egdi.csv"       # tidy CSV: year, value[, country]
    variable = "Digital Capability"     # the model variable it measures
    country = "USA"                     # rows to keep when the file has several countries
    scale = 1.0                         # data mapped onto the model's scale:
    offset = 0.0                        #   offset + scale * value
    transform = "none"                  # or "log": compare log(data) with log(model)
    likelihood = "gaussian"             # gaussian | poisson | negbin | sse
    sigma = "fit"                       # gaussian: known sigma (model units) or "fit"
    weight = 1.0

    [parameters."Capability Build Time"]  # as in pvsd.parameters; the distribution
    value = 0.75                          # (uniform on [lower, upper] by default)
    lower = 0.25                          # is the prior; value is the starting point
    upper = 5

    [parameters."Organisational Reform Effort"]  # a time-varying lever path, as in panel
    path = "step"                                # specs (pvsd.calibration.panel.paths):
    at = { lower = 2005, upper = 2015 }          # "step" (at, to, optional from) or "ramp"
    to = { lower = 0, upper = 1 }                # (start, end | duration, to, optional from);
                                                 # each piece a number (fixed) or fitted

    [search]          # optional: starts, popsize, maxiter, tol, global
    [uncertainty]     # optional: level (0.95), profile = ["name", ...] or true
    [mcmc]            # optional: enabled, walkers, steps, burn, thin, draws

Likelihoods: ``gaussian`` with a known ``sigma`` or one fitted per series (its
maximum-likelihood value is profiled out; for MCMC it is integrated out under a
Jeffreys prior); ``poisson`` and ``negbin`` for counts (``dispersion`` alpha,
variance = mu + alpha mu^2, known or "fit"); ``sse``: a weighted sum of squared
errors as in Vensim payoffs, each error multiplied by ``weight`` before
squaring. When every series is ``sse`` the fit is ordinary (weighted) nonlinear
least squares and standard errors follow R's ``nls``. For the other likelihoods
``weight`` multiplies the series' log-likelihood.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.errors import PvsdError, SpecError

if TYPE_CHECKING:
    from pvsd.model import Model
    from pvsd.parameters import ParameterSpace

__all__ = ["LIKELIHOODS", "CalibrationSpec", "SeriesSpec", "load_spec"]

LIKELIHOODS = ("gaussian", "poisson", "negbin", "sse")
_LIK_ALIASES = {"normal": "gaussian", "nb": "negbin", "negative_binomial": "negbin",
                "negativebinomial": "negbin", "payoff": "sse", "least_squares": "sse",
                "weighted_sse": "sse"}
_SERIES_KEYS = {"file", "variable", "country", "scale", "offset", "transform", "likelihood",
                "sigma", "dispersion", "weight", "year_column", "value_column", "country_column",
                "description"}
_SEARCH = {"starts": 4, "popsize": 15, "maxiter": 300, "tol": 1e-7, "global": True}
_UNCERTAINTY = {"level": 0.95, "profile": []}
_MCMC = {"enabled": False, "walkers": 0, "steps": 1500, "burn": 0, "thin": 1, "draws": 200}


def _num(v: Any, where: str, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
            or not math.isfinite(v):
        raise SpecError(f"{where} must be a finite number, got {v!r}.")
    if positive and v <= 0:
        raise SpecError(f"{where} must be positive, got {v!r}.")
    return float(v)


@dataclass(frozen=True)
class SeriesSpec:
    """One observed series and how it is compared with the model.

    Attributes
    ----------
    name
        Label of the series (the TOML table name).
    variable
        Model variable it measures.
    file
        Tidy CSV file (ignored when ``data`` is given).
    data
        The observations as a Series indexed by time (Python use, instead of a file).
    country
        Country to select in a multi-country file.
    scale, offset
        The data are mapped onto the model's scale as ``offset + scale * value``.
    transform
        ``"none"`` or ``"log"`` (compare logarithms, after the affine map).
    likelihood
        ``gaussian``, ``poisson``, ``negbin`` or ``sse``.
    sigma
        Gaussian: a known standard deviation in model units, or ``None`` to fit it.
    dispersion
        Negative binomial alpha (variance = mu + alpha mu^2), or ``None`` to fit it.
    weight
        ``sse``: multiplies each error before squaring (Vensim payoff weight);
        otherwise multiplies the log-likelihood.
    """

    name: str
    variable: str
    file: Path | None = None
    data: pd.Series | None = None
    country: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    transform: str = "none"
    likelihood: str = "gaussian"
    sigma: float | None = None
    dispersion: float | None = None
    weight: float = 1.0
    year_column: str | None = None
    value_column: str | None = None
    country_column: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        where = f"series {self.name!r}"
        if not isinstance(self.variable, str) or not self.variable.strip():
            raise SpecError(f"{where}: give the model variable it measures, e.g. "
                            'variable = "Digital Capability".')
        if self.file is None and self.data is None:
            raise SpecError(f"{where}: give a data file (file = \"data/....csv\").")
        lik = str(self.likelihood).lower().replace("-", "_").replace(" ", "_")
        lik = _LIK_ALIASES.get(lik, lik)
        if lik not in LIKELIHOODS:
            raise SpecError(f"{where}: unknown likelihood {self.likelihood!r}; use one of "
                            f"{', '.join(LIKELIHOODS)}.")
        object.__setattr__(self, "likelihood", lik)
        tr = str(self.transform).lower()
        if tr not in ("none", "log"):
            raise SpecError(f"{where}: transform must be \"none\" or \"log\", got {self.transform!r} "
                            "(use scale and offset for an affine map).")
        object.__setattr__(self, "transform", tr)
        object.__setattr__(self, "scale", _num(self.scale, f"{where}: scale"))
        object.__setattr__(self, "offset", _num(self.offset, f"{where}: offset"))
        if self.scale == 0:
            raise SpecError(f"{where}: scale must not be 0.")
        object.__setattr__(self, "weight", _num(self.weight, f"{where}: weight", positive=True))
        if self.sigma is not None:
            object.__setattr__(self, "sigma", _num(self.sigma, f"{where}: sigma", positive=True))
        if self.dispersion is not None:
            object.__setattr__(self, "dispersion",
                               _num(self.dispersion, f"{where}: dispersion", positive=True))
        if lik in ("poisson", "negbin") and (self.transform != "none" or self.scale != 1
                                            or self.offset != 0):
            raise SpecError(f"{where}: a {lik} likelihood compares raw counts with the model; "
                            "remove scale/offset/transform (scale the model variable instead).")

    @classmethod
    def from_dict(cls, name: str, table: Mapping[str, Any], base: Path, where: str) -> SeriesSpec:
        """Build from a TOML table; relative file paths are resolved against ``base``."""
        if not isinstance(table, Mapping):
            raise SpecError(f"{where}: [series.{name}] must be a table with file and variable.")
        unknown = sorted(set(table) - _SERIES_KEYS)
        if unknown:
            raise SpecError(f"{where}, [series.{name}]: unknown key(s) {unknown}; allowed: "
                            f"{', '.join(sorted(_SERIES_KEYS))}.")
        kw = dict(table)
        if "file" not in kw:
            raise SpecError(f"{where}, [series.{name}]: needs file = \"path/to/data.csv\".")
        if "variable" not in kw:
            raise SpecError(f"{where}, [series.{name}]: needs variable = \"<model variable>\".")
        f = Path(str(kw.pop("file")))
        kw["file"] = f if f.is_absolute() else base / f
        for key in ("sigma", "dispersion"):
            v = kw.get(key)
            if isinstance(v, str):
                if v.lower() not in ("fit", "fitted", "estimate"):
                    raise SpecError(f"{where}, [series.{name}]: {key} is a number or \"fit\", "
                                    f"got {v!r}.")
                kw[key] = None
        try:
            return cls(name=name, **kw)
        except SpecError as exc:
            raise SpecError(f"{where}: {exc}") from None
        except TypeError as exc:
            raise SpecError(f"{where}, [series.{name}]: {exc}") from None

    def to_model_scale(self, values: np.ndarray) -> np.ndarray:
        """Observed values mapped onto the model's scale (affine map only)."""
        return self.offset + self.scale * np.asarray(values, dtype=float)


def _period(v: Any, where: str) -> tuple[float, float] | None:
    if v is None:
        return None
    if not isinstance(v, Sequence) or isinstance(v, str) or len(v) != 2:
        raise SpecError(f"{where} must be [first_year, last_year], got {v!r}.")
    a, b = (_num(x, where) for x in v)
    if a > b:
        raise SpecError(f"{where} = [{a:g}, {b:g}] ends before it starts; swap the years.")
    return (a, b)


def _options(table: Any, defaults: Mapping[str, Any], where: str) -> dict[str, Any]:
    if table is None:
        return dict(defaults)
    if not isinstance(table, Mapping):
        raise SpecError(f"{where} must be a table.")
    unknown = sorted(set(table) - set(defaults))
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; allowed: {', '.join(defaults)}.")
    out = dict(defaults)
    out.update(table)
    return out


@dataclass(frozen=True)
class CalibrationSpec:
    """A complete calibration problem (see the module docstring for the TOML form).

    Attributes
    ----------
    model
        Model file path or bundled model name.
    series
        The observed series.
    parameters
        Parameter name -> table (``value``, ``lower``, ``upper``, optional prior
        ``dist`` with its keys, ``vary``), as in :mod:`pvsd.parameters`. Bounds
        left out default to the range the model declares for the constant.
    fit_period, holdout_period
        Inclusive ``(first, last)`` times; ``fit_period`` None means all data
        not held out.
    time_step
        TIME STEP of every run (default: the model's).
    method
        Integration method of every run: ``"euler"`` (default) or ``"rk4"``.
    seed
        Seed of every random draw (global search, MCMC, predictive draws).
    search, uncertainty, mcmc
        Engine options (see :data:`pvsd.calibration.spec` module docstring).
    title
        Label for reports.
    source
        The spec file, if read from one.
    """

    model: str
    series: tuple[SeriesSpec, ...]
    parameters: Mapping[str, Mapping[str, Any]]
    fit_period: tuple[float, float] | None = None
    holdout_period: tuple[float, float] | None = None
    time_step: float | None = None
    seed: int = 1
    method: str = "euler"
    search: Mapping[str, Any] = field(default_factory=lambda: dict(_SEARCH))
    uncertainty: Mapping[str, Any] = field(default_factory=lambda: dict(_UNCERTAINTY))
    mcmc: Mapping[str, Any] = field(default_factory=lambda: dict(_MCMC))
    title: str = ""
    source: Path | None = None

    def __post_init__(self) -> None:
        where = self.where
        if not self.series:
            raise SpecError(f"{where}: no data series; add at least one [series.NAME] table.")
        names = [s.name for s in self.series]
        if len(set(names)) != len(names):
            raise SpecError(f"{where}: series names must be unique, got {names}.")
        if not self.parameters:
            raise SpecError(f"{where}: no parameters to fit; add [parameters.\"Name\"] tables "
                            "with lower and upper bounds.")
        object.__setattr__(self, "fit_period", _period(self.fit_period, f"{where}: fit_period"))
        object.__setattr__(self, "holdout_period",
                           _period(self.holdout_period, f"{where}: holdout_period"))
        if self.time_step is not None:
            object.__setattr__(self, "time_step",
                               _num(self.time_step, f"{where}: time_step", positive=True))
        from pvsd.numerics import resolve_method

        try:
            object.__setattr__(self, "method", resolve_method(self.method, f"{where}: method"))
        except PvsdError as exc:
            raise SpecError(str(exc)) from None
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise SpecError(f"{where}: seed must be a non-negative integer, got {self.seed!r}.")
        object.__setattr__(self, "search", _options(self.search, _SEARCH, f"{where}: [search]"))
        object.__setattr__(self, "uncertainty",
                           _options(self.uncertainty, _UNCERTAINTY, f"{where}: [uncertainty]"))
        object.__setattr__(self, "mcmc", _options(self.mcmc, _MCMC, f"{where}: [mcmc]"))
        s = self.search
        for key in ("starts", "popsize", "maxiter"):
            if isinstance(s[key], bool) or not isinstance(s[key], int) or s[key] < 1:
                raise SpecError(f"{where}: [search] {key} must be a positive integer, got {s[key]!r}.")
        _num(s["tol"], f"{where}: [search] tol", positive=True)
        lvl = _num(self.uncertainty["level"], f"{where}: [uncertainty] level")
        if not 0 < lvl < 1:
            raise SpecError(f"{where}: [uncertainty] level must lie between 0 and 1, e.g. 0.95.")
        prof = self.uncertainty["profile"]
        if not (isinstance(prof, bool) or (isinstance(prof, Sequence) and not isinstance(prof, str))):
            raise SpecError(f"{where}: [uncertainty] profile is a list of parameter names or true.")
        m = self.mcmc
        for key in ("walkers", "steps", "burn", "thin", "draws"):
            if isinstance(m[key], bool) or not isinstance(m[key], int) or m[key] < 0:
                raise SpecError(f"{where}: [mcmc] {key} must be a non-negative integer, got {m[key]!r}.")
        if m["burn"] >= m["steps"] and m["enabled"]:
            raise SpecError(f"{where}: [mcmc] burn ({m['burn']}) must be less than steps ({m['steps']}).")
        for name, table in self.parameters.items():
            if not isinstance(table, Mapping):
                raise SpecError(f"{where}: [parameters.\"{name}\"] must be a table such as "
                                "{ value = 1, lower = 0.5, upper = 2 }.")
            if "path" in table:
                _single_path(str(name), table, f"{where}, [parameters.\"{name}\"]")
                continue
            lo, hi = table.get("lower"), table.get("upper")
            if lo is not None and hi is not None and _num(lo, f"{name} lower") > _num(hi, f"{name} upper"):
                raise SpecError(
                    f"{where}: parameter {name!r}: lower bound {lo:g} is above upper bound {hi:g}; "
                    "swap them (lower must be the smaller value)."
                )

    @property
    def where(self) -> str:
        """How error messages name this spec."""
        return str(self.source) if self.source else "calibration spec"

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths are resolved against."""
        return self.source.parent if self.source else Path.cwd()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | Path | None = None) -> CalibrationSpec:
        """Build from parsed TOML (see the module docstring)."""
        src = Path(source).resolve() if source is not None else None
        where = str(src) if src else "calibration spec"
        base = src.parent if src else Path.cwd()
        allowed = {"calibration", "series", "parameters", "search", "uncertainty", "mcmc"}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise SpecError(f"{where}: unknown table(s) {unknown}; allowed: {', '.join(sorted(allowed))}.")
        head = data.get("calibration")
        if not isinstance(head, Mapping) or "model" not in head:
            raise SpecError(f"{where}: needs a [calibration] table with model = \"...\" "
                            "(a model file or a bundled model name).")
        hkeys = {"model", "title", "fit_period", "holdout_period", "time_step", "seed", "method"}
        bad = sorted(set(head) - hkeys)
        if bad:
            raise SpecError(f"{where}: [calibration] has unknown key(s) {bad}; allowed: "
                            f"{', '.join(sorted(hkeys))}.")
        model = str(head["model"])
        mp = Path(model)
        if not mp.is_absolute() and (base / mp).exists():
            model = str((base / mp).resolve())
        series_t = data.get("series")
        if not isinstance(series_t, Mapping) or not series_t:
            raise SpecError(f"{where}: no data series; add [series.NAME] tables with file and variable.")
        series = tuple(SeriesSpec.from_dict(str(k), v, base, where) for k, v in series_t.items())
        params = data.get("parameters")
        if not isinstance(params, Mapping) or not params:
            raise SpecError(f"{where}: no parameters to fit; add [parameters.\"Name\"] tables "
                            "with lower and upper bounds.")
        return cls(
            model=model, series=series, parameters=dict(params),
            fit_period=head.get("fit_period"), holdout_period=head.get("holdout_period"),
            time_step=head.get("time_step"), seed=head.get("seed", 1),
            method=head.get("method", "euler"),
            search=data.get("search"), uncertainty=data.get("uncertainty"),  # type: ignore[arg-type]
            mcmc=data.get("mcmc"), title=str(head.get("title", "")), source=src,  # type: ignore[arg-type]
        )

    def with_options(self, **changes: Any) -> CalibrationSpec:
        """A copy with options changed: ``search={...}``, ``mcmc={...}`` merge into the tables."""
        kw: dict[str, Any] = {}
        for key, value in changes.items():
            if key in ("search", "uncertainty", "mcmc") and value is not None:
                kw[key] = {**getattr(self, key), **value}
            else:
                kw[key] = value
        return replace(self, **kw)

    # ------------------------------------------------------------------ binding to a model
    def parameter_space(self, model: Model) -> ParameterSpace:
        """The parameters as a validated :class:`pvsd.parameters.ParameterSpace`.

        Missing bounds default to the model's declared range; a missing value to
        the model's own value (or the middle of the bounds if that lies outside).
        Lever paths are not in it (:meth:`path_params`).
        """
        from pvsd.parameters import ParameterSpace

        return ParameterSpace(tuple(self.constant_parameters(model)), source=self.source).validate(model)

    def constant_parameters(self, model: Model) -> list[Any]:
        """The constants' :class:`pvsd.parameters.Parameter` objects, checked (not the paths)."""
        from pvsd.parameters import Parameter

        where = f"{self.where} [parameters]"
        params = []
        from pvsd.arrays import split_label

        items = [(lab, table) for name, table in self.parameters.items() if "path" not in table
                 for lab in model.expand(str(name), where=where)]
        if not items:
            raise SpecError(f"{where}: every parameter is a lever path; a spec of paths alone has "
                            "no parameter space (use CalibrationSpec.path_params).")
        for name, table in items:
            canonical = model.resolve(str(name), where=where)
            kind = model.kind(canonical)
            if kind != "constant":
                raise SpecError(
                    f"{where}: {canonical!r} is a {kind}, not a constant of {model.path.name}; "
                    "only constants can be calibrated (for a stock, fit the constant that sets "
                    "its initial value)."
                )
            t = dict(table)
            row = model.variables.set_index("name").loc[split_label(canonical)[0]]
            for key, lim in (("lower", row["min"]), ("upper", row["max"])):
                if t.get(key) is None:
                    if not math.isfinite(lim):
                        raise SpecError(
                            f"{where}: parameter {canonical!r} needs {key} (the model declares no "
                            f"{'minimum' if key == 'lower' else 'maximum'} for it)."
                        )
                    t[key] = float(lim)
            lo_hi = (_num(t["lower"], f"{canonical!r} lower"), _num(t["upper"], f"{canonical!r} upper"))
            if not all(math.isfinite(v) for v in lo_hi):
                raise SpecError(f"{where}: parameter {canonical!r} needs finite lower and upper bounds.")
            if t.get("value") is None:
                d = model.default(canonical)
                t["value"] = d if math.isfinite(d) and t["lower"] <= d <= t["upper"] \
                    else 0.5 * (t["lower"] + t["upper"])
            p = Parameter.from_dict(canonical, t, where=where)
            if p.vary and not (p.lower <= p.value <= p.upper):  # type: ignore[operator]
                raise SpecError(
                    f"{where}: parameter {canonical!r}: starting value {p.value:g} lies outside "
                    f"its bounds [{p.lower:g}, {p.upper:g}]."
                )
            params.append(p)
        return params


    @property
    def has_constants(self) -> bool:
        """Some parameter is a constant (not a lever path)."""
        return any("path" not in t for t in self.parameters.values())

    def path_params(self, model: Model) -> list[tuple[str, Any]]:
        """The lever paths: ``(constant's canonical name, PathParam)``, checked against the model.

        Raises
        ------
        SpecError
            A path on something other than a scalar constant.
        """
        out = []
        for name, table in self.parameters.items():
            if "path" not in table:
                continue
            w = f"{self.where}, [parameters.\"{name}\"]"
            canonical = model.resolve(str(name), where=f"{self.where} [parameters]")
            kind = model.kind(canonical)
            if kind != "constant":
                raise SpecError(f"{w}: {canonical!r} is a {kind}, not a constant; only a constant can "
                                "follow a step or ramp path (a path replaces the constant's value by a "
                                "function of time). Choose the constant that drives it.")
            dims = model.dims(canonical) if hasattr(model, "dims") else ()
            if dims:
                raise SpecError(f"{w}: {canonical!r} is subscripted ({', '.join(dims)}); a lever path in a "
                                "single-unit spec takes a scalar constant. Fit a panel with [panel] "
                                "dimension, or give the path to a scalar constant.")
            out.append((canonical, _single_path(str(name), table, w)))
        return out

    def fitted_names(self, model: Model) -> list[str]:
        """Canonical names of the constants the fit varies: fitted constants and lever paths."""
        names = [p.name for p in self.constant_parameters(model) if p.vary] if self.has_constants else []
        return names + [n for n, _ in self.path_params(model)]


def _single_path(name: str, table: Mapping[str, Any], where: str) -> Any:
    """A lever path of a single-unit spec (the panel's parser; one unit, so no scope)."""
    from pvsd.calibration.panel.paths import parse_path

    p = parse_path(name, table, where)
    for pc in p.pieces:
        if pc.fitted and pc.scope != "shared":
            raise SpecError(f"{where}: {pc.piece} has scope = {pc.scope!r}, but a single-unit spec fits "
                            "one run: leave scope out (each fitted piece has one value). Scopes "
                            "\"unit\" and \"pooled\" belong to panel specs ([panel] table).")
    return p


def load_spec(path: str | Path) -> CalibrationSpec:
    """Read a calibration spec file (TOML).

    Raises
    ------
    SpecError
        The file is missing, not TOML, or malformed (the message names the key).
    """
    from pvsd.parameters import read_toml

    return CalibrationSpec.from_dict(read_toml(path), source=path)
