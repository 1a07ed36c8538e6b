"""Panel calibration specs: one model fitted to many units (countries) at once.

A panel spec is a calibration spec (see :mod:`pvsd.calibration.spec`) with a
``[panel]`` table; series files are long format (unit, year, value)::

    [calibration]
    title = "Reference model fitted to UN EGDI, every country"
    model = "public_value_chain"
    initial_time = 2003              # optional: start the runs here (e.g. the first wave)
    time_step = 0.25
    method = "euler"                 # integration method: euler | rk4
    seed = 1

    [panel]
    unit_column = "iso3"             # column naming the unit in every series and input file
    units = "all"                    # "all", a list ["DNK", "USA"], or { file = "units.txt" }
    min_observations = 6             # units with fewer (fitted + held-out) observations are skipped
    dimension = "Country"            # optional: units are elements of this model dimension and
                                     #   run in one subscripted run (see panel/dimension.py)
    holdout = 1                      # hold out each unit's last N observations (waves)
    forecast = [2024, 2026]          # also forecast these years (optional)
    show = ["DNK", "USA"]            # units always drawn in the report's small multiples
    estimator = "path"               # "path" (default): fit each unit's whole path from the run's
                                     #   start; "wave-ahead": every pair of consecutive observed
                                     #   waves is one run from the observed state (below)

    [panel.state]                    # required with estimator = "wave-ahead" (see panel/wave.py)
    "Initial Digital Capability" = "egdi"   # model constant <- series: set per run so that the
                                     #   series' model variable at the run's start equals the
                                     #   observation; or { series = "egdi", lower = 0, upper = 1 }
                                     #   (search range; default: the model's declared range)

    [series.egdi]
    file = "data/un_egdi_panel.csv"
    variable = "Digital Capability"
    year_column = "survey_year"
    value_column = "egdi"
    missing = [0, ""]                # values meaning "not assessed": dropped, never fitted
    scale = 1.0                      # fixed map: offset + scale * value is on the model's scale,
    offset = 0.0                     #   or "fit" / { scope = "unit", lower = .., upper = .. }
    diff = false                     # true: observations are per-year increments of the variable
    sigma = "fit"                    # known standard deviation (indicator units) or "fit"

    [inputs.internet]                # a model constant driven by each unit's own time series
    file = "data/internet.csv"
    variable = "Internet Use"
    value_column = "value"
    beyond = "hold"                  # after the unit's last value: "hold" or "trend"
    upper = 1.0                      # optional bounds of a "trend": it stops where it reaches them

    [parameters."Obsolescence Time"]
    scope = "shared"                 # shared | unit | pooled
    lower = 3
    upper = 25

    [parameters."Initial Digital Capability"]
    from_first = "egdi"              # each unit's first observation of series egdi (model scale)

    [parameters."Reform Effort"]     # a time-varying lever path (see panel/paths.py)
    path = "step"                    # "step" (at, to, from) or "ramp" (start, end | duration,
    at = { scope = "unit", lower = 2005, upper = 2018 }   # to, from); each piece a number
    to = { scope = "shared", lower = 0, upper = 1 }       # (fixed) or a table (fitted)

    [posterior]                      # optional full posterior (Metropolis-within-Gibbs)
    enabled = false
    chains = 4
    iterations = 3000
    warmup = 1000
    draws = 200

``pooled`` parameters are per-unit values drawn from a fitted population
distribution: logit((value - lower) / (upper - lower)) ~ Normal(mu, tau).

With ``estimator = "wave-ahead"`` (:mod:`pvsd.calibration.panel.wave`) each residual is a
one-wave-ahead prediction error: a run per (unit, pair of consecutive fitted waves of the
state series) starts from the observed state and is compared with every series at the next
wave; held-out and forecast years are predicted from each unit's last fitted wave. A
constant named in ``[panel.state]`` must not also be a ``[parameters]`` entry or an input;
``from_first``, lever paths, ``diff`` series and ``dimension`` are refused with this
estimator (not available yet).
Two series on the same model variable (two instruments) are allowed and each
has its own measurement map.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pvsd.calibration.panel.paths import PathParam
from pvsd.errors import SpecError

__all__ = ["ESTIMATORS", "SCOPES", "InputSpec", "MeasureParam", "PanelSeries", "PanelSpec", "StateSpec",
           "is_panel_spec", "load_panel_spec"]

SCOPES = ("shared", "unit", "pooled")
_SERIES_KEYS = {"file", "variable", "year_column", "value_column", "unit_column", "missing", "scale",
                "offset", "diff", "diff_period", "sigma", "weight", "description", "likelihood"}
_INPUT_KEYS = {"file", "variable", "year_column", "value_column", "unit_column", "missing", "beyond",
               "trend_window", "description", "lower", "upper"}
_PARAM_KEYS = {"value", "lower", "upper", "scope", "from_first", "vary", "description"}
_PANEL_KEYS = {"unit_column", "units", "min_observations", "holdout", "forecast", "show",
               "dimension", "estimator", "state"}
ESTIMATORS = ("path", "wave-ahead")
_POSTERIOR = {"enabled": False, "chains": 4, "iterations": 3000, "warmup": 1000, "draws": 200,
              "thin": 1}
_SEARCH = {"starts": 16, "maxiter": 100, "pooled_iterations": 30, "path_restarts": 4}


def _num(v: Any, where: str, positive: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise SpecError(f"{where} must be a finite number, got {v!r}.")
    if positive and v <= 0:
        raise SpecError(f"{where} must be positive, got {v!r}.")
    return float(v)


def _int(v: Any, where: str, minimum: int = 0) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise SpecError(f"{where} must be an integer of at least {minimum}, got {v!r}.")
    return int(v)


def _bounds(name: str, lo: Any, hi: Any, where: str) -> tuple[float, float]:
    lo = _num(lo, f"{where}: {name} lower")
    hi = _num(hi, f"{where}: {name} upper")
    if lo >= hi:
        raise SpecError(f"{where}: {name}: lower bound {lo:g} is not below upper bound {hi:g}; "
                        "swap them (lower must be the smaller value).")
    return lo, hi


def _scope(v: Any, where: str) -> str:
    s = str(v).strip().lower()
    if s not in SCOPES:
        raise SpecError(f"{where}: unknown scope {v!r}; use one of {', '.join(SCOPES)} (shared: one "
                        "value for every unit; unit: one value per unit; pooled: per-unit values "
                        "drawn from a fitted population distribution).")
    return s


@dataclass(frozen=True)
class MeasureParam:
    """A fitted measurement parameter (offset or scale) of one series."""

    series: str
    what: str  # "offset" | "scale"
    scope: str
    lower: float
    upper: float
    value: float

    @property
    def name(self) -> str:
        return f"{self.series}: {self.what}"


@dataclass(frozen=True)
class PanelSeries:
    """One long-format observed series of a panel."""

    name: str
    variable: str
    file: Path
    year_column: str | None = None
    value_column: str | None = None
    unit_column: str | None = None
    missing: tuple[Any, ...] = ()
    scale: float | MeasureParam = 1.0
    offset: float | MeasureParam = 0.0
    diff: bool = False
    diff_period: float = 1.0
    sigma: float | None = None
    weight: float = 1.0
    description: str = ""


@dataclass(frozen=True)
class InputSpec:
    """A model constant driven by each unit's own time series."""

    name: str
    variable: str
    file: Path
    year_column: str | None = None
    value_column: str | None = None
    unit_column: str | None = None
    missing: tuple[Any, ...] = ()
    beyond: str = "hold"
    trend_window: int = 4
    description: str = ""
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class PanelParam:
    """A model constant to fit (or set per unit from data)."""

    name: str
    scope: str
    lower: float
    upper: float
    value: float | None
    from_first: str | None = None


@dataclass(frozen=True)
class StateSpec:
    """``[panel.state]``: a model constant set per wave-ahead member from a series' observation."""

    constant: str
    series: str
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class PanelSpec:
    """A panel calibration problem (see the module docstring for the TOML form)."""

    model: str
    unit_column: str
    series: tuple[PanelSeries, ...]
    parameters: tuple[PanelParam | PathParam, ...]
    inputs: tuple[InputSpec, ...] = ()
    dimension: str | None = None
    units: str | tuple[str, ...] = "all"
    min_observations: int = 2
    holdout: int = 0
    forecast: tuple[float, ...] = ()
    show: tuple[str, ...] = ()
    fit_period: tuple[float, float] | None = None
    initial_time: float | None = None
    time_step: float | None = None
    method: str = "euler"
    seed: int = 1
    title: str = ""
    search: Mapping[str, Any] = field(default_factory=lambda: dict(_SEARCH))
    posterior: Mapping[str, Any] = field(default_factory=lambda: dict(_POSTERIOR))
    source: Path | None = None
    estimator: str = "path"
    state: tuple[StateSpec, ...] = ()

    @property
    def where(self) -> str:
        return str(self.source) if self.source else "panel spec"

    def with_options(self, **changes: Any) -> PanelSpec:
        """A copy with options changed (``posterior={...}`` merges into the table)."""
        from dataclasses import replace

        kw: dict[str, Any] = {}
        for key, value in changes.items():
            if key in ("posterior", "search") and value is not None:
                kw[key] = {**getattr(self, key), **value}
            elif value is not None:
                kw[key] = value
        return replace(self, **kw)


def is_panel_spec(data: Mapping[str, Any]) -> bool:
    """Whether parsed TOML is a panel spec (has a ``[panel]`` table)."""
    return "panel" in data


def _path(v: Any, base: Path, where: str) -> Path:
    if not isinstance(v, str) or not v:
        raise SpecError(f"{where}: file must be a path string, got {v!r}.")
    p = Path(v)
    return p if p.is_absolute() else base / p


def _missing(v: Any, where: str) -> tuple[Any, ...]:
    if v is None:
        return ()
    vals = v if isinstance(v, (list, tuple)) else [v]
    out: list[Any] = []
    for x in vals:
        if isinstance(x, str):
            if x.strip() not in ("", "blank", "empty", "na", "NA"):
                raise SpecError(f"{where}: missing holds numbers or \"\" (blank cells), got {x!r}.")
            out.append("")
        else:
            out.append(_num(x, f"{where}: missing"))
    return tuple(out)


def _measure(v: Any, series: str, what: str, default: float, where: str) -> float | MeasureParam:
    if v is None:
        return default
    if isinstance(v, str):
        if v.strip().lower() != "fit":
            raise SpecError(f"{where}: {what} is a number, \"fit\" or a table "
                            "{ scope = ..., lower = ..., upper = ... }, got {v!r}.")
        v = {}
    if isinstance(v, Mapping):
        bad = sorted(set(v) - {"scope", "lower", "upper", "value"})
        if bad:
            raise SpecError(f"{where}: {what} table has unknown key(s) {bad}; allowed: scope, lower, "
                            "upper, value.")
        lo0, hi0 = (-1.0, 1.0) if what == "offset" else (0.1, 10.0)
        lo, hi = _bounds(what, v.get("lower", lo0), v.get("upper", hi0), where)
        val = _num(v.get("value", min(max(default, lo), hi)), f"{where}: {what} value")
        if not lo <= val <= hi:
            raise SpecError(f"{where}: {what} starting value {val:g} lies outside [{lo:g}, {hi:g}].")
        if what == "scale" and lo <= 0 <= hi:
            raise SpecError(f"{where}: a fitted scale must keep one sign; its bounds [{lo:g}, {hi:g}] "
                            "include 0.")
        return MeasureParam(series, what, _scope(v.get("scope", "shared"), where), lo, hi, val)
    val = _num(v, f"{where}: {what}")
    if what == "scale" and val == 0:
        raise SpecError(f"{where}: scale must not be 0.")
    return val


def _series(name: str, t: Any, base: Path, where: str) -> PanelSeries:
    w = f"{where}, [series.{name}]"
    if not isinstance(t, Mapping):
        raise SpecError(f"{w} must be a table with file and variable.")
    bad = sorted(set(t) - _SERIES_KEYS)
    if bad:
        raise SpecError(f"{w}: unknown key(s) {bad}; allowed: {', '.join(sorted(_SERIES_KEYS))}.")
    for key in ("file", "variable"):
        if key not in t:
            raise SpecError(f"{w}: needs {key} = \"...\".")
    lik = str(t.get("likelihood", "gaussian")).lower()
    if lik not in ("gaussian", "normal", "sse"):
        raise SpecError(f"{w}: panel calibration supports the gaussian likelihood only (got "
                        f"{lik!r}); count likelihoods are available in single-unit calibration.")
    sigma = t.get("sigma", "fit")
    if isinstance(sigma, str):
        if sigma.lower() != "fit":
            raise SpecError(f"{w}: sigma is a number or \"fit\", got {sigma!r}.")
        sigma = None
    else:
        sigma = _num(sigma, f"{w}: sigma", positive=True)
    diff = t.get("diff", False)
    if not isinstance(diff, bool):
        raise SpecError(f"{w}: diff must be true or false, got {diff!r}.")
    return PanelSeries(
        name=name, variable=str(t["variable"]), file=_path(t["file"], base, w),
        year_column=t.get("year_column"), value_column=t.get("value_column"),
        unit_column=t.get("unit_column"), missing=_missing(t.get("missing"), w),
        scale=_measure(t.get("scale"), name, "scale", 1.0, w),
        offset=_measure(t.get("offset"), name, "offset", 0.0, w),
        diff=diff, diff_period=_num(t.get("diff_period", 1.0), f"{w}: diff_period", positive=True),
        sigma=sigma, weight=_num(t.get("weight", 1.0), f"{w}: weight", positive=True),
        description=str(t.get("description", "")),
    )


def _input(name: str, t: Any, base: Path, where: str) -> InputSpec:
    w = f"{where}, [inputs.{name}]"
    if not isinstance(t, Mapping):
        raise SpecError(f"{w} must be a table with file and variable.")
    bad = sorted(set(t) - _INPUT_KEYS)
    if bad:
        raise SpecError(f"{w}: unknown key(s) {bad}; allowed: {', '.join(sorted(_INPUT_KEYS))}.")
    for key in ("file", "variable"):
        if key not in t:
            raise SpecError(f"{w}: needs {key} = \"...\".")
    beyond = str(t.get("beyond", "")).lower()
    if beyond not in ("hold", "trend"):
        raise SpecError(f"{w}: declare what the input does after each unit's last value: beyond = "
                        "\"hold\" (keep the last value) or \"trend\" (extend the linear trend of the "
                        "last trend_window values); every forecast records this assumption.")
    lo = _num(t["lower"], f"{w}: lower") if "lower" in t else None
    hi = _num(t["upper"], f"{w}: upper") if "upper" in t else None
    if lo is not None and hi is not None and lo >= hi:
        raise SpecError(f"{w}: lower {lo:g} is not below upper {hi:g}; swap them.")
    return InputSpec(name, str(t["variable"]), _path(t["file"], base, w), t.get("year_column"),
                     t.get("value_column"), t.get("unit_column"), _missing(t.get("missing"), w),
                     beyond, _int(t.get("trend_window", 4), f"{w}: trend_window", 2),
                     str(t.get("description", "")), lo, hi)


def _param(name: str, t: Any, series: Sequence[str], where: str) -> PanelParam | PathParam:
    w = f"{where}, [parameters.\"{name}\"]"
    if not isinstance(t, Mapping):
        raise SpecError(f"{w} must be a table such as {{ scope = \"unit\", lower = 0, upper = 1 }}.")
    if "path" in t:
        from pvsd.calibration.panel.paths import parse_path

        return parse_path(name, t, w)
    bad = sorted(set(t) - _PARAM_KEYS)
    if bad:
        raise SpecError(f"{w}: unknown key(s) {bad}; allowed: {', '.join(sorted(_PARAM_KEYS))} "
                        "(or path = \"step\" / \"ramp\" with pieces for a time-varying lever).")
    if "from_first" in t:
        src = str(t["from_first"])
        if src not in series:
            raise SpecError(f"{w}: from_first names series {src!r}, which the spec does not define "
                            f"(series: {', '.join(series)}).")
        return PanelParam(name, "unit", -math.inf, math.inf, None, from_first=src)
    scope = _scope(t.get("scope", "shared"), w)
    if "lower" not in t or "upper" not in t:
        raise SpecError(f"{w}: give lower and upper bounds.")
    lo, hi = _bounds(name, t["lower"], t["upper"], w)
    val = t.get("value")
    if val is not None:
        val = _num(val, f"{w}: value")
        if not lo <= val <= hi:
            raise SpecError(f"{w}: starting value {val:g} lies outside its bounds [{lo:g}, {hi:g}].")
    return PanelParam(name, scope, lo, hi, val)


def _options(table: Any, defaults: Mapping[str, Any], where: str) -> dict[str, Any]:
    if table is None:
        return dict(defaults)
    if not isinstance(table, Mapping):
        raise SpecError(f"{where} must be a table.")
    bad = sorted(set(table) - set(defaults))
    if bad:
        raise SpecError(f"{where}: unknown key(s) {bad}; allowed: {', '.join(defaults)}.")
    out = {**defaults, **table}
    for k, v in out.items():
        if k != "enabled":
            _int(v, f"{where} {k}", 1 if k not in ("warmup", "path_restarts") else 0)
    return out


def _method(v: Any, where: str) -> str:
    from pvsd.numerics import resolve_method

    return str(resolve_method(v, where))


def panel_spec_from_dict(data: Mapping[str, Any], source: str | Path | None = None) -> PanelSpec:
    """Build a :class:`PanelSpec` from parsed TOML."""
    src = Path(source).resolve() if source is not None else None
    where = str(src) if src else "panel spec"
    base = src.parent if src else Path.cwd()
    allowed = {"calibration", "panel", "series", "inputs", "parameters", "posterior", "search"}
    bad = sorted(set(data) - allowed)
    if bad:
        raise SpecError(f"{where}: unknown table(s) {bad} in a panel spec; allowed: "
                        f"{', '.join(sorted(allowed))}.")
    head = data.get("calibration")
    if not isinstance(head, Mapping) or "model" not in head:
        raise SpecError(f"{where}: needs a [calibration] table with model = \"...\".")
    hkeys = {"model", "title", "fit_period", "initial_time", "time_step", "seed", "method"}
    badh = sorted(set(head) - hkeys)
    if badh:
        raise SpecError(f"{where}: [calibration] of a panel spec has unknown key(s) {badh}; allowed: "
                        f"{', '.join(sorted(hkeys))} (hold out waves with [panel] holdout = N).")
    model = str(head["model"])
    if not Path(model).is_absolute() and (base / model).exists():
        model = str((base / model).resolve())
    panel = data["panel"]
    if not isinstance(panel, Mapping):
        raise SpecError(f"{where}: [panel] must be a table with unit_column = \"...\".")
    badp = sorted(set(panel) - _PANEL_KEYS)
    if badp:
        raise SpecError(f"{where}: [panel] has unknown key(s) {badp}; allowed: "
                        f"{', '.join(sorted(_PANEL_KEYS))}.")
    dimension = panel.get("dimension")
    if dimension is not None and (not isinstance(dimension, str) or not dimension.strip()):
        raise SpecError(f"{where}: [panel] dimension names the model's subscript range whose "
                        f"elements are the units (e.g. \"Country\"), got {dimension!r}.")
    if "unit_column" not in panel:
        raise SpecError(f"{where}: [panel] needs unit_column = \"...\" (e.g. \"iso3\").")
    units: Any = panel.get("units", "all")
    if isinstance(units, str):
        if units.lower() != "all":
            raise SpecError(f"{where}: [panel] units is \"all\", a list of units or "
                            f"{{ file = \"units.txt\" }}, got {units!r}.")
        units = "all"
    elif isinstance(units, Mapping):
        f = _path(units.get("file"), base, f"{where}: [panel] units")
        if not f.is_file():
            raise SpecError(f"{where}: [panel] units file {str(f)!r} does not exist.")
        units = tuple(ln.split("#")[0].strip() for ln in f.read_text(encoding="utf-8").splitlines()
                      if ln.split("#")[0].strip())
    elif isinstance(units, list) and all(isinstance(u, str) for u in units) and units:
        units = tuple(units)
    else:
        raise SpecError(f"{where}: [panel] units is \"all\", a non-empty list of unit names or "
                        f"{{ file = \"units.txt\" }}, got {units!r}.")
    series_t = data.get("series")
    if not isinstance(series_t, Mapping) or not series_t:
        raise SpecError(f"{where}: no data series; add [series.NAME] tables with file and variable.")
    series = tuple(_series(str(k), v, base, where) for k, v in series_t.items())
    inputs_t = data.get("inputs") or {}
    if not isinstance(inputs_t, Mapping):
        raise SpecError(f"{where}: [inputs] must hold [inputs.NAME] tables.")
    inputs = tuple(_input(str(k), v, base, where) for k, v in inputs_t.items())
    params_t = data.get("parameters")
    if not isinstance(params_t, Mapping) or not params_t:
        raise SpecError(f"{where}: no parameters; add [parameters.\"Name\"] tables with a scope and "
                        "bounds.")
    params = tuple(_param(str(k), v, [s.name for s in series], where) for k, v in params_t.items())
    from pvsd.calibration.panel.wave_spec import parse_estimator

    estimator, state = parse_estimator(panel, series, params, inputs, dimension, where)
    fp = head.get("fit_period")
    if fp is not None:
        if not isinstance(fp, list) or len(fp) != 2:
            raise SpecError(f"{where}: fit_period must be [first_year, last_year].")
        fp = _bounds("fit_period", fp[0], fp[1], where)
    fc = panel.get("forecast", [])
    fc = fc if isinstance(fc, list) else [fc]
    show = panel.get("show", [])
    return PanelSpec(
        model=model, unit_column=str(panel["unit_column"]), series=series, parameters=params,
        inputs=inputs, units=units, dimension=dimension.strip() if dimension else None,
        min_observations=_int(panel.get("min_observations", 2), f"{where}: [panel] min_observations", 1),
        holdout=_int(panel.get("holdout", 0), f"{where}: [panel] holdout", 0),
        forecast=tuple(_num(x, f"{where}: [panel] forecast") for x in fc),
        show=tuple(str(s) for s in (show if isinstance(show, list) else [show])),
        fit_period=fp,
        initial_time=None if head.get("initial_time") is None
        else _num(head["initial_time"], f"{where}: initial_time"),
        time_step=None if head.get("time_step") is None
        else _num(head["time_step"], f"{where}: time_step", positive=True),
        seed=_int(head.get("seed", 1), f"{where}: seed"), title=str(head.get("title", "")),
        method=_method(head.get("method", "euler"), f"{where}: method"),
        search=_options(data.get("search"), _SEARCH, f"{where}: [search]"),
        posterior=_options(data.get("posterior"), _POSTERIOR, f"{where}: [posterior]"),
        source=src, estimator=estimator, state=state,
    )


def load_panel_spec(path: str | Path) -> PanelSpec:
    """Read a panel calibration spec (TOML)."""
    from pvsd.parameters import read_toml

    data = read_toml(path)
    if not is_panel_spec(data):
        raise SpecError(f"{path}: not a panel spec (no [panel] table).")
    return panel_spec_from_dict(data, source=path)
