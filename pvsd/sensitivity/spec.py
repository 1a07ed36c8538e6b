"""Sensitivity specifications: uncertain parameters, outcomes and settings.

A spec file is TOML that a policy analyst writes by hand::

    [settings]
    method = "sobol"          # morris | sobol | fast | delta
    n = 1024                  # base sample size (see each method)
    seed = 20240501
    tolerance = 0.1           # flag indices whose 95% interval is wider than this

    [parameters."Capability Build Time"]
    lower = 3
    upper = 10

    [[outcomes]]
    variable = "Public Trust"
    stat = "at"               # the value in a given year
    time = 2040

    [[outcomes]]
    variable = "Public Trust"
    stat = "trajectory"       # indices at every saved time

    [bands]                   # Monte Carlo uncertainty bands (reports)
    outputs = ["Public Trust", "Cumulative Public Value"]
    percentiles = [5, 25, 50, 75, 95]
    n = 500

Outcome statistics (``stat``): ``final`` (default: the value at the final time),
``at`` (``time = YEAR``), ``mean`` / ``max`` / ``min`` over ``period = [FROM, TO]``
(default: the whole run), ``crossing`` (the first time the variable reaches
``threshold``, going ``direction = "up"`` or ``"down"``; runs that never reach it
get ``never``, by default the final time) and ``trajectory`` (every saved time,
optionally within ``period``). Outcomes may also be written as named tables,
``[outcomes."Trust in 2040"]``, or as a list of variable names,
``outcomes = ["Public Trust"]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pvsd.errors import SpecError
from pvsd.parameters import ParameterSpace, read_toml

if TYPE_CHECKING:
    from pvsd.model import Model

__all__ = ["STATS", "BandsSpec", "Outcome", "SensitivitySpec", "as_spec", "load_spec"]

#: Outcome statistics and what they mean.
STATS = {
    "final": "value at the final time",
    "at": "value at a given time",
    "mean": "time-average over a period",
    "max": "maximum over a period",
    "min": "minimum over a period",
    "crossing": "first time a threshold is reached",
    "trajectory": "value at every saved time",
}
_STAT_ALIASES = {"value": "at", "final_value": "final", "average": "mean", "maximum": "max",
                 "minimum": "min", "threshold": "crossing", "first_crossing": "crossing",
                 "timeseries": "trajectory", "time_series": "trajectory", "over_time": "trajectory"}
OUTCOME_KEYS = ("variable", "stat", "time", "period", "from", "to", "threshold", "direction",
                "never", "name")
SETTINGS_KEYS = ("method", "n", "seed", "second_order", "num_levels", "optimal_trajectories",
                 "M", "num_resamples", "conf_level", "tolerance", "until_converged", "max_runs",
                 "save_every", "integration")
BANDS_KEYS = ("outputs", "percentiles", "n", "seed", "sampling")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value):
        raise SpecError(f"{what} must be a finite number, got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class Outcome:
    """A quantity computed from each run, whose sensitivity is analysed.

    Attributes
    ----------
    variable
        Model variable (matched ignoring case, spaces and underscores).
    stat
        ``final``, ``at``, ``mean``, ``max``, ``min``, ``crossing`` or ``trajectory``
        (see :data:`STATS`).
    time
        For ``at``: the time (year) to read the value at (interpolated linearly
        between saved times).
    period
        For ``mean``/``max``/``min``/``trajectory``: ``(from, to)``; default the whole run.
    threshold
        For ``crossing``: the level to reach.
    direction
        For ``crossing``: ``"up"`` (first time at or above) or ``"down"`` (at or below).
    never
        For ``crossing``: the value given to runs that never reach the threshold
        (default: the final time, i.e. "not before the end of the run").
    name
        Label in tables and charts (default: generated, e.g. "Public Trust in 2040").
    """

    variable: str
    stat: str = "final"
    time: float | None = None
    period: tuple[float, float] | None = None
    threshold: float | None = None
    direction: str = "up"
    never: float | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.variable, str) or not self.variable.strip():
            raise SpecError(f"An outcome needs a variable name, got {self.variable!r}.")
        lab = f"outcome {self.name or self.variable!r}"
        stat = str(self.stat).lower()
        stat = _STAT_ALIASES.get(stat, stat)
        if stat not in STATS:
            raise SpecError(f"{lab}: unknown stat {self.stat!r}; use one of {', '.join(STATS)}.")
        object.__setattr__(self, "stat", stat)
        if self.time is not None:
            object.__setattr__(self, "time", _number(self.time, f"{lab}: time"))
        if stat == "at" and self.time is None:
            raise SpecError(f"{lab}: stat 'at' needs a time, e.g. time = 2040.")
        if self.period is not None:
            p = self.period
            if isinstance(p, str) or not isinstance(p, Sequence) or len(p) != 2:
                raise SpecError(f"{lab}: period must be [from, to], got {p!r}.")
            a, b = _number(p[0], f"{lab}: period start"), _number(p[1], f"{lab}: period end")
            if a > b:
                raise SpecError(f"{lab}: period [{a:g}, {b:g}] ends before it starts; swap them.")
            object.__setattr__(self, "period", (a, b))
        if stat == "crossing":
            if self.threshold is None:
                raise SpecError(f"{lab}: stat 'crossing' needs a threshold, e.g. threshold = 0.6.")
            object.__setattr__(self, "threshold", _number(self.threshold, f"{lab}: threshold"))
            if self.direction not in ("up", "down"):
                raise SpecError(f"{lab}: direction must be 'up' or 'down', got {self.direction!r}.")
        if self.never is not None:
            object.__setattr__(self, "never", _number(self.never, f"{lab}: never"))
        if not isinstance(self.name, str):
            raise SpecError(f"{lab}: name must be text, got {self.name!r}.")

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, table: Mapping[str, Any] | str, where: str = "", name: str = "") -> Outcome:
        """Build from a TOML table (or a bare variable name: its final value)."""
        prefix = f"{where}: " if where else ""
        if isinstance(table, str):
            return cls(variable=table, name=name)
        if not isinstance(table, Mapping):
            raise SpecError(
                f"{prefix}an outcome is a table such as {{ variable = \"Public Trust\", "
                f"stat = \"at\", time = 2040 }} or a variable name, got {table!r}."
            )
        unknown = sorted(set(table) - set(OUTCOME_KEYS))
        if unknown:
            raise SpecError(f"{prefix}outcome has unknown key(s) {unknown}; allowed: {', '.join(OUTCOME_KEYS)}.")
        t = dict(table)
        if "variable" not in t:
            raise SpecError(f"{prefix}outcome {name or t!r} needs variable = \"...\".")
        if "from" in t or "to" in t:
            if "period" in t:
                raise SpecError(f"{prefix}give either period = [from, to] or from/to, not both.")
            t["period"] = (t.pop("from", -math.inf), t.pop("to", math.inf))
            if not math.isfinite(t["period"][0]) or not math.isfinite(t["period"][1]):
                raise SpecError(f"{prefix}outcome {t['variable']!r}: give both from and to.")
        t.setdefault("name", name)
        try:
            return cls(**t)
        except SpecError as exc:
            raise SpecError(f"{prefix}{exc}") from None
        except TypeError as exc:  # pragma: no cover - guarded by the key check
            raise SpecError(f"{prefix}{exc}") from None

    # ------------------------------------------------------------------ properties
    @property
    def is_trajectory(self) -> bool:
        """Whether the outcome has one value per saved time."""
        return self.stat == "trajectory"

    @property
    def label(self) -> str:
        """Name in tables and charts."""
        if self.name:
            return self.name
        v = self.variable
        if self.stat == "final":
            return f"{v} (final)"
        if self.stat == "at":
            return f"{v} in {self.time:g}"
        if self.stat in ("mean", "max", "min"):
            span = f" {self.period[0]:g}-{self.period[1]:g}" if self.period else ""
            return f"{self.stat} of {v}{span}"
        if self.stat == "crossing":
            verb = "reaches" if self.direction == "up" else "falls to"
            return f"time {v} {verb} {self.threshold:g}"
        span = f" {self.period[0]:g}-{self.period[1]:g}" if self.period else ""
        return f"{v} over time{span}"

    def describe(self) -> str:
        """Plain-language description for reports."""
        v = self.variable
        if self.stat == "final":
            return f"the value of {v} at the end of the run"
        if self.stat == "at":
            return f"the value of {v} in {self.time:g}"
        if self.stat in ("mean", "max", "min"):
            word = {"mean": "average", "max": "highest", "min": "lowest"}[self.stat]
            span = f" between {self.period[0]:g} and {self.period[1]:g}" if self.period else " over the run"
            return f"the {word} value of {v}{span}"
        if self.stat == "crossing":
            verb = "reaches" if self.direction == "up" else "falls to"
            never = "the end of the run" if self.never is None else f"{self.never:g}"
            return f"the first time {v} {verb} {self.threshold:g} (runs that never do count as {never})"
        return f"{v} at every saved time"

    def to_dict(self) -> dict[str, Any]:
        """The TOML table of this outcome."""
        out: dict[str, Any] = {"variable": self.variable, "stat": self.stat}
        for key in ("time", "threshold", "never"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.period is not None:
            out["period"] = list(self.period)
        if self.stat == "crossing":
            out["direction"] = self.direction
        if self.name:
            out["name"] = self.name
        return out

    # ------------------------------------------------------------------ checks
    def validate(self, model: Model, where: str = "") -> Outcome:
        """Resolve the variable name and check times against the model's run; return a copy."""
        loc = where or "outcomes"
        canonical = model.resolve(self.variable, where=loc)
        kind = model.kind(canonical)
        if model.dims(canonical):
            raise SpecError(
                f"{loc}: {canonical!r} is arrayed ({', '.join(model.dims(canonical))}); an "
                f"outcome is one number per run: name one element, e.g. "
                f"{model.elements(canonical)[0]!r} (one outcome per element you need)."
            )
        if kind in ("lookup", "control"):
            raise SpecError(f"{loc}: {canonical!r} is a {kind}, not a quantity that changes in a run.")
        t0, t1 = model.initial_time, model.final_time
        times = [self.time] if self.time is not None else []
        times += list(self.period) if self.period else []
        for t in times:
            if not t0 - 1e-9 <= t <= t1 + 1e-9:
                raise SpecError(
                    f"{loc}: outcome {self.label!r} uses time {t:g}, outside the model's run "
                    f"{t0:g}-{t1:g}; choose a time within it."
                )
        return replace(self, variable=canonical)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, values: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Compute the outcome from trajectories.

        Parameters
        ----------
        values
            Array (runs, times) of the variable.
        times
            Saved times, increasing.

        Returns
        -------
        (values, times)
            For scalar outcomes an array (runs,) and None; for trajectories an
            array (runs, selected times) and the selected times.
        """
        y = np.asarray(values, dtype=float)
        t = np.asarray(times, dtype=float)
        if y.ndim == 1:
            y = y[:, None]
        if self.stat == "final":
            return y[:, -1], None
        if self.stat == "at":
            return _interp_columns(y, t, float(self.time)), None  # type: ignore[arg-type]
        if self.stat == "trajectory":
            if self.period is None:
                return y, t
            mask = (t >= self.period[0] - 1e-9) & (t <= self.period[1] + 1e-9)
            return y[:, mask], t[mask]
        if self.stat in ("mean", "max", "min"):
            ts, ys = _window(y, t, self.period)
            if self.stat == "max":
                return ys.max(axis=1), None
            if self.stat == "min":
                return ys.min(axis=1), None
            if len(ts) == 1:
                return ys[:, 0], None
            area = (0.5 * (ys[:, 1:] + ys[:, :-1]) * np.diff(ts)).sum(axis=1)
            return area / (ts[-1] - ts[0]), None
        return _first_crossing(y, t, float(self.threshold), self.direction,  # type: ignore[arg-type]
                               t[-1] if self.never is None else float(self.never)), None


def _interp_columns(y: np.ndarray, t: np.ndarray, at: float) -> np.ndarray:
    """Linear interpolation of every row of ``y`` at time ``at``."""
    if len(t) == 1:
        return y[:, 0].copy()
    j = int(np.clip(np.searchsorted(t, at, side="right") - 1, 0, len(t) - 2))
    w = (at - t[j]) / (t[j + 1] - t[j])
    w = min(max(w, 0.0), 1.0)
    return y[:, j] * (1 - w) + y[:, j + 1] * w


def _window(y: np.ndarray, t: np.ndarray, period: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Saved times within ``period`` plus interpolated end points."""
    if period is None:
        return t, y
    a, b = period
    inside = (t > a + 1e-9) & (t < b - 1e-9)
    ts = np.concatenate([[a], t[inside], [b]]) if b > a else np.array([a])
    cols = [_interp_columns(y, t, a)[:, None], y[:, inside]]
    if b > a:
        cols.append(_interp_columns(y, t, b)[:, None])
    return ts, np.concatenate(cols, axis=1)


def _first_crossing(y: np.ndarray, t: np.ndarray, threshold: float, direction: str,
                    never: float) -> np.ndarray:
    """First time each row reaches ``threshold`` (linear interpolation between saved times)."""
    d = y - threshold if direction == "up" else threshold - y
    reached = d >= 0
    out = np.full(y.shape[0], never, dtype=float)
    any_hit = reached.any(axis=1)
    first = reached.argmax(axis=1)
    at_start = any_hit & (first == 0)
    out[at_start] = t[0]
    mid = any_hit & (first > 0)
    rows = np.nonzero(mid)[0]
    j = first[rows]
    d0, d1 = d[rows, j - 1], d[rows, j]
    frac = np.where(d1 - d0 != 0, -d0 / np.where(d1 - d0 != 0, d1 - d0, 1.0), 1.0)
    out[rows] = t[j - 1] + np.clip(frac, 0.0, 1.0) * (t[j] - t[j - 1])
    return out


@dataclass(frozen=True)
class BandsSpec:
    """What the Monte Carlo uncertainty bands of a report show.

    Attributes
    ----------
    outputs
        Variables to draw (default: the variables of the study's outcomes).
    percentiles
        Envelope percentiles, symmetric around the median, e.g. (5, 25, 50, 75, 95).
    n
        Number of Monte Carlo runs (Latin hypercube by default).
    seed
        Seed of the draw (default: the study's seed).
    sampling
        ``lhs``, ``sobol`` or ``random``.
    """

    outputs: tuple[str, ...] = ()
    percentiles: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)
    n: int = 500
    seed: int | None = None
    sampling: str = "lhs"

    def __post_init__(self) -> None:
        pct = tuple(_number(p, "bands: a percentile") for p in self.percentiles)
        if not pct or any(not 0 <= p <= 100 for p in pct):
            raise SpecError(f"bands: percentiles must lie in [0, 100], got {list(self.percentiles)}.")
        object.__setattr__(self, "percentiles", tuple(sorted(set(pct))))
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 10:
            raise SpecError(f"bands: n must be a whole number of at least 10, got {self.n!r}.")
        object.__setattr__(self, "n", int(self.n))
        if self.sampling not in ("lhs", "sobol", "random"):
            raise SpecError(f"bands: sampling must be lhs, sobol or random, got {self.sampling!r}.")
        outs = self.outputs
        if isinstance(outs, str) or not all(isinstance(o, str) for o in outs):
            raise SpecError(f"bands: outputs must be a list of variable names, got {outs!r}.")
        object.__setattr__(self, "outputs", tuple(outs))


@dataclass(frozen=True)
class SensitivitySpec:
    """A complete sensitivity study: parameters, outcomes and settings.

    Attributes
    ----------
    space
        The uncertain parameters.
    outcomes
        What to analyse.
    settings
        Method and options (``method``, ``n``, ``seed``, ``second_order``,
        ``num_levels``, ``M``, ``num_resamples``, ``conf_level``, ``tolerance``,
        ``until_converged``, ``max_runs``, ``save_every``); arguments of
        :func:`pvsd.sensitivity` override them.
    bands
        Uncertainty-band settings for reports.
    source
        File read, if any.
    """

    space: ParameterSpace
    outcomes: tuple[Outcome, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    bands: BandsSpec = field(default_factory=BandsSpec)
    source: Path | None = field(default=None, compare=False)

    @property
    def where(self) -> str:
        return str(self.source) if self.source else "sensitivity spec"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | Path | None = None) -> SensitivitySpec:
        """Build from parsed TOML (see the module documentation)."""
        src = Path(source) if source is not None else None
        where = str(src) if src else "sensitivity spec"
        if not isinstance(data, Mapping):
            raise SpecError(f"{where}: expected a table, got {type(data).__name__}.")
        unknown = sorted(set(data) - {"parameters", "outcomes", "settings", "bands", "title", "description"})
        if unknown:
            raise SpecError(
                f"{where}: unknown top-level key(s) {unknown}; a sensitivity spec has "
                "[settings], [parameters.NAME], [[outcomes]] and [bands]."
            )
        if "parameters" not in data:
            raise SpecError(
                f"{where}: has no [parameters] tables; add the uncertain parameters, e.g.\n"
                '[parameters."Capability Build Time"]\nlower = 3\nupper = 10'
            )
        space = ParameterSpace.from_dict({"parameters": data["parameters"]}, source=src)
        outcomes = _parse_outcomes(data.get("outcomes", []), f"{where}, outcomes")
        settings = data.get("settings", {})
        if not isinstance(settings, Mapping):
            raise SpecError(f"{where}: [settings] must be a table.")
        bad = sorted(set(settings) - set(SETTINGS_KEYS))
        if bad:
            raise SpecError(f"{where}: unknown [settings] key(s) {bad}; allowed: {', '.join(SETTINGS_KEYS)}.")
        bands_t = data.get("bands", {})
        if not isinstance(bands_t, Mapping):
            raise SpecError(f"{where}: [bands] must be a table.")
        bad = sorted(set(bands_t) - set(BANDS_KEYS))
        if bad:
            raise SpecError(f"{where}: unknown [bands] key(s) {bad}; allowed: {', '.join(BANDS_KEYS)}.")
        try:
            bands = BandsSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in bands_t.items()})
        except SpecError as exc:
            raise SpecError(f"{where}, {exc}") from None
        return cls(space, outcomes, dict(settings), bands, src)

    @classmethod
    def from_toml(cls, path: str | Path) -> SensitivitySpec:
        """Read a spec file."""
        return cls.from_dict(read_toml(path), source=path)

    @classmethod
    def from_salib_problem(cls, problem: Mapping[str, Any]) -> SensitivitySpec:
        """A spec from a SALib problem dict, plus ``outputs`` naming model variables.

        ``outputs`` entries are variable names (analysed at the final time) or
        outcome tables (``{"variable": ..., "stat": "at", "time": 2040}``).
        """
        space = ParameterSpace.from_salib_problem(problem)
        outs = problem.get("outputs", problem.get("outcomes", []))
        outcomes = _parse_outcomes(outs, "SALib problem, outputs")
        return cls(space, outcomes)

    def with_outcomes(self, outcomes: Sequence[Outcome | str | Mapping[str, Any]]) -> SensitivitySpec:
        """A copy with other outcomes."""
        return replace(self, outcomes=_parse_outcomes(list(outcomes), f"{self.where}, outcomes"))

    def validate(self, model: Model) -> SensitivitySpec:
        """Check every name, range and time against ``model``; return a resolved copy.

        Raises
        ------
        UnknownVariableError, SpecError
            Before anything runs.
        """
        space = self.space.validate(model)
        if not self.outcomes:
            raise SpecError(
                f"{self.where}: names no outcomes; add for example\n[[outcomes]]\n"
                'variable = "Public Trust"\nstat = "at"\ntime = 2040'
            )
        outcomes = tuple(o.validate(model, where=f"{self.where} [outcomes]") for o in self.outcomes)
        labels = [o.label for o in outcomes]
        dup = sorted({x for x in labels if labels.count(x) > 1})
        if dup:
            raise SpecError(f"{self.where}: outcomes {dup} appear twice; remove the duplicates or name them.")
        bands_out = tuple(model.resolve(o, where=f"{self.where} [bands] outputs") for o in self.bands.outputs)
        return replace(self, space=space, outcomes=outcomes, bands=replace(self.bands, outputs=bands_out))

    def to_toml_dict(self) -> dict[str, Any]:
        """The spec as TOML tables (for ``tomli_w.dumps``)."""
        out: dict[str, Any] = {}
        if self.settings:
            out["settings"] = dict(self.settings)
        out.update(self.space.to_toml_dict())
        out["outcomes"] = [o.to_dict() for o in self.outcomes]
        return out


def _parse_outcomes(raw: Any, where: str) -> tuple[Outcome, ...]:
    if isinstance(raw, str) or (isinstance(raw, Mapping) and "variable" in raw):
        raw = [raw]  # one variable name or one outcome table
    if isinstance(raw, Mapping):  # [outcomes."Label"] tables
        return tuple(Outcome.from_dict(t, where=f"{where}.{name!r}", name=str(name)) for name, t in raw.items())
    if not isinstance(raw, Sequence):
        raise SpecError(f"{where}: must be a list of outcomes ([[outcomes]] tables or variable names).")
    return tuple(Outcome.from_dict(t, where=f"{where}[{i}]") for i, t in enumerate(raw))


def load_spec(path: str | Path) -> SensitivitySpec:
    """Read a sensitivity spec file (see the module documentation)."""
    return SensitivitySpec.from_toml(path)


def as_spec(spec: Any) -> SensitivitySpec:
    """Coerce a spec file path, :class:`SensitivitySpec`, :class:`ParameterSpace`,
    SALib problem dict or parsed TOML dict to a :class:`SensitivitySpec`."""
    if isinstance(spec, SensitivitySpec):
        return spec
    if isinstance(spec, ParameterSpace):
        return SensitivitySpec(spec)
    if isinstance(spec, (str, Path)):
        return SensitivitySpec.from_toml(spec)
    if isinstance(spec, Mapping):
        if "names" in spec and "bounds" in spec:
            return SensitivitySpec.from_salib_problem(spec)
        return SensitivitySpec.from_dict(spec)
    raise SpecError(
        "spec must be a spec file path, a SensitivitySpec, a ParameterSpace or a SALib "
        f"problem dict (names, bounds, outputs); got {type(spec).__name__}."
    )
