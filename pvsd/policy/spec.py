"""Policy-search specifications: levers with bounds, objectives, constraints, robustness.

A spec is TOML a policy analyst can write by hand::

    [settings]
    population = 100          # members per generation, each generation one ensemble
    generations = 20
    seed = 1

    [levers."Technology Investment"]            # a constant lever
    lower = 0.0
    upper = 1.0

    [levers."Organisational Reform Effort"]     # a step: from the model's value to a level in a year
    type = "step"
    year = [2020, 2035]
    level = [0.0, 1.0]

    [levers."Coproduction Programme"]           # a ramp: start year, years to full level, level
    type = "ramp"
    start = [2020, 2030]
    duration = [1, 10]
    level = [0.0, 1.0]

    [[objectives]]
    variable = "Cumulative Public Value"
    stat = "at"               # at | final | mean | sum | max | min | crossing
    time = 2040
    sense = "max"

    [[constraints]]           # total lever effort: the sum of the levers' levels
    budget = 1.5
    [[constraints]]           # a model variable (same stats as objectives)
    variable = "Hierarchical Control"
    stat = "max"
    max = 0.6

    [robust]                  # optional: search over an uncertainty ensemble
    uncertainties = "public_value_chain_sensitivity.toml"   # a sensitivity spec (relative to this file)
    n = 50
    statistic = "mean"        # mean | percentile | regret
    percentile = 10

With ``statistic = "regret"`` (one objective only) the search minimises Savage's
minimax regret, as the EMA Workbench does: in each world the regret of a policy is
the best value achievable there minus the policy's value (mirrored when minimising);
the robust objective is the maximum regret over the worlds, or the given
``percentile`` of it (e.g. 90). The best value per world is fixed before the search:
the best of a reference set of policies (a Latin hypercube of the levers plus the
nominal optimum) evaluated once in every world and, with constant levers, refined
per world by a seeded evolution strategy; never the current population. The result's
provenance (``robust_spec.regret_reference``) and summary name the reference used.
Constraints on model variables then hold in the same percentile of worlds.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pvsd.errors import PvsdError, SpecError
from pvsd.sensitivity.spec import Outcome
from pvsd.timefunc import Ramp, Step, TimeFunction

if TYPE_CHECKING:
    from pvsd.model import Model
    from pvsd.parameters import ParameterSpace

__all__ = ["Constraint", "Lever", "Objective", "PolicySpec", "RobustSpec", "load_policy_spec"]

LEVER_KEYS = {"constant": {"type", "lower", "upper", "description"},
              "step": {"type", "year", "level", "description"},
              "ramp": {"type", "start", "duration", "level", "description"}}
SETTINGS_KEYS = ("population", "generations", "seed", "method", "tolerance", "title")
STATISTICS = ("mean", "percentile", "regret")


def _bounds(value: Any, what: str) -> tuple[float, float]:
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise SpecError(f"{what} must be [lower, upper], got {value!r}.")
    lo, hi = (_num(v, what) for v in value)
    if lo > hi:
        raise SpecError(f"{what}: bounds [{lo:g}, {hi:g}] are the wrong way round; write [{hi:g}, {lo:g}].")
    return lo, hi


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"{what} must be a finite number, got {value!r}.")
    return float(value)


@dataclass(frozen=True)
class Lever:
    """A decision lever: a model constant set to a number, a step or a ramp.

    Attributes
    ----------
    variable
        The model constant it sets.
    kind
        ``constant``, ``step`` or ``ramp``.
    bounds
        Bounds of each decision variable, in order: constant ``(level,)``; step
        ``(year, level)``; ramp ``(start, duration, level)``.
    """

    variable: str
    kind: str = "constant"
    bounds: tuple[tuple[float, float], ...] = ((0.0, 1.0),)
    description: str = ""

    @property
    def names(self) -> list[str]:
        """Names of the decision variables."""
        sub = {"constant": ["level"], "step": ["year", "level"], "ramp": ["start", "duration", "level"]}
        return [f"{self.variable}: {s}" if self.kind != "constant" else self.variable
                for s in sub[self.kind]]

    @property
    def size(self) -> int:
        return len(self.bounds)

    @property
    def level_bounds(self) -> tuple[float, float]:
        return self.bounds[-1]

    def setting(self, x: Sequence[float]) -> float | TimeFunction:
        """The model setting for decision values ``x`` (a number or a time function)."""
        if self.kind == "constant":
            return float(x[0])
        if self.kind == "step":
            return Step(float(x[0]), float(x[1]))
        start, dur, level = (float(v) for v in x)
        return Ramp(start, start + max(dur, 1e-6), level)

    @classmethod
    def from_dict(cls, name: str, table: Mapping[str, Any], where: str) -> Lever:
        loc = f"{where}, lever {name!r}"
        if not isinstance(table, Mapping):
            raise SpecError(f"{loc}: a lever is a table such as {{ lower = 0, upper = 1 }}.")
        kind = str(table.get("type", "constant"))
        if kind not in LEVER_KEYS:
            raise SpecError(f"{loc}: type must be constant, step or ramp, got {kind!r}.")
        extra = sorted(set(table) - LEVER_KEYS[kind])
        if extra:
            raise SpecError(f"{loc}: unknown key(s) {extra} for a {kind} lever; allowed: "
                            f"{', '.join(sorted(LEVER_KEYS[kind]))}.")
        try:
            if kind == "constant":
                if "lower" not in table or "upper" not in table:
                    raise SpecError("give lower and upper")
                b: tuple[tuple[float, float], ...] = (_bounds([table["lower"], table["upper"]], "lower/upper"),)
            elif kind == "step":
                b = (_bounds(table.get("year"), "year"), _bounds(table.get("level"), "level"))
            else:
                b = (_bounds(table.get("start"), "start"), _bounds(table.get("duration"), "duration"),
                     _bounds(table.get("level"), "level"))
                if b[1][0] < 0:
                    raise SpecError("duration must be at least 0 years")
        except SpecError as exc:
            raise SpecError(f"{loc}: {exc}") from None
        return cls(name, kind, b, str(table.get("description", "")))


@dataclass(frozen=True)
class Objective:
    """A model outcome to maximise or minimise (``stat = "sum"`` integrates over ``period``)."""

    outcome: Outcome
    sense: str = "max"
    sum: bool = False

    @property
    def label(self) -> str:
        if self.sum:
            v, p = self.outcome.variable, self.outcome.period
            span = f" {p[0]:g}-{p[1]:g}" if p else ""
            return self.outcome.name or f"sum of {v}{span}"
        return self.outcome.label

    def evaluate(self, values: np.ndarray, times: np.ndarray) -> np.ndarray:
        out, _ = self.outcome.evaluate(values, times)
        if self.sum:
            a, b = self.outcome.period or (times[0], times[-1])
            out = out * (b - a)
        return out

    @classmethod
    def from_dict(cls, table: Any, where: str, kind: str = "objective") -> tuple[Objective, dict[str, Any]]:
        if not isinstance(table, Mapping):
            raise SpecError(f"{where}: an {kind} is a table such as {{ variable = \"Public Trust\", "
                            f"stat = \"at\", time = 2040, sense = \"max\" }}, got {table!r}.")
        t = dict(table)
        rest = {k: t.pop(k) for k in ("sense", "max", "min") if k in t}
        is_sum = str(t.get("stat", "")).lower() == "sum"
        if is_sum:
            t["stat"] = "mean"
        try:
            outcome = Outcome.from_dict(t, where)
        except SpecError as exc:
            raise SpecError(f"{exc} (objectives also allow stat = \"sum\")") from None
        sense = str(rest.pop("sense", "max")).lower()
        if sense not in ("max", "min"):
            raise SpecError(f"{where}: sense must be 'max' or 'min', got {sense!r}.")
        return cls(outcome, sense, is_sum), rest


@dataclass(frozen=True)
class Constraint:
    """A limit on total lever effort (``budget``) or on a model outcome (``max``/``min``).

    Lever effort is the sum of the levers' levels (for steps and ramps, the level
    reached); ``levers`` restricts the sum to some levers.
    """

    budget: float | None = None
    levers: tuple[str, ...] = ()
    outcome: Objective | None = None
    upper: float | None = None
    lower: float | None = None

    @property
    def label(self) -> str:
        if self.budget is not None:
            which = ", ".join(self.levers) if self.levers else "all levers"
            return f"total effort of {which} <= {self.budget:g}"
        assert self.outcome is not None
        parts = []
        if self.lower is not None:
            parts.append(f">= {self.lower:g}")
        if self.upper is not None:
            parts.append(f"<= {self.upper:g}")
        return f"{self.outcome.label} {' and '.join(parts)}"


@dataclass(frozen=True)
class RobustSpec:
    """Search over an uncertainty ensemble drawn from a sensitivity spec's parameters."""

    space: ParameterSpace
    n: int = 50
    statistic: str = "mean"
    #: mean/percentile: the unfavourable-side percentile of the objective; regret: the
    #: percentile of regret over worlds (default 100, the maximum: minimax regret)
    percentile: float = 10.0
    source: str = ""

    def describe(self) -> str:
        """The robust statistic in words, e.g. ``maximum regret``."""
        if self.statistic == "mean":
            return "mean"
        if self.statistic == "regret":
            return "maximum regret" if self.percentile >= 100 else f"{self.percentile:g}th percentile of regret"
        return f"{self.percentile:g}th percentile"


@dataclass(frozen=True)
class PolicySpec:
    """Levers, objectives, constraints and settings of a policy search."""

    levers: tuple[Lever, ...]
    objectives: tuple[Objective, ...]
    constraints: tuple[Constraint, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    robust: RobustSpec | None = None
    source: Path | None = None

    @property
    def where(self) -> str:
        return str(self.source) if self.source else "policy spec"

    @property
    def names(self) -> list[str]:
        """Names of all decision variables, in order."""
        return [n for lv in self.levers for n in lv.names]

    @property
    def bounds(self) -> list[tuple[float, float]]:
        return [b for lv in self.levers for b in lv.bounds]

    def settings_of(self, x: np.ndarray) -> dict[str, float | TimeFunction]:
        """Model settings of one decision vector."""
        out: dict[str, float | TimeFunction] = {}
        i = 0
        for lv in self.levers:
            out[lv.variable] = lv.setting(x[i:i + lv.size])
            i += lv.size
        return out

    def levels(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Lever -> level reached, for a population ``X`` (P, d)."""
        out = {}
        i = 0
        for lv in self.levers:
            out[lv.variable] = X[:, i + lv.size - 1]
            i += lv.size
        return out

    @property
    def all_constant(self) -> bool:
        return all(lv.kind == "constant" for lv in self.levers)

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | Path | None = None) -> PolicySpec:
        src = Path(source) if source is not None else None
        where = str(src) if src else "policy spec"
        unknown = sorted(set(data) - {"settings", "levers", "objectives", "constraints", "robust",
                                      "title", "description"})
        if unknown:
            raise SpecError(f"{where}: unknown top-level key(s) {unknown}; a policy spec has [settings], "
                            "[levers.NAME], [[objectives]], [[constraints]] and [robust].")
        lev = data.get("levers")
        if not isinstance(lev, Mapping) or not lev:
            raise SpecError(f"{where}: defines no levers; add e.g. [levers.\"Technology Investment\"] "
                            "with lower = 0 and upper = 1.")
        levers = tuple(Lever.from_dict(k, v, where) for k, v in lev.items())
        objs_raw = data.get("objectives")
        if isinstance(objs_raw, Mapping):
            objs_raw = [objs_raw]
        if not isinstance(objs_raw, list) or not objs_raw:
            raise SpecError(f"{where}: defines no objectives; add [[objectives]] with variable, stat and sense.")
        objectives = []
        for i, t in enumerate(objs_raw):
            obj, rest = Objective.from_dict(t, f"{where}, objective {i + 1}")
            if rest:
                raise SpecError(f"{where}, objective {i + 1}: max/min are for constraints; use sense.")
            objectives.append(obj)
        constraints = []
        cons_raw = data.get("constraints", [])
        if isinstance(cons_raw, Mapping):
            cons_raw = [cons_raw]
        for i, t in enumerate(cons_raw):
            constraints.append(_constraint(t, f"{where}, constraint {i + 1}"))
        settings = dict(data.get("settings", {}))
        bad = sorted(set(settings) - set(SETTINGS_KEYS))
        if bad:
            raise SpecError(f"{where}: unknown [settings] key(s) {bad}; allowed: {', '.join(SETTINGS_KEYS)}.")
        for key in ("population", "generations"):
            if key in settings and (not isinstance(settings[key], int) or settings[key] < 1):
                raise SpecError(f"{where}: [settings] {key} must be a positive whole number, got {settings[key]!r}.")
        robust = _robust(data["robust"], src, where) if "robust" in data else None
        if robust is not None and robust.statistic == "regret" and len(objectives) != 1:
            raise SpecError(f"{where}: [robust] statistic 'regret' needs exactly one objective, the spec has "
                            f"{len(objectives)}; use statistic = 'mean' or 'percentile' for a Pareto search, "
                            "or keep one objective.")
        return cls(levers, tuple(objectives), tuple(constraints), settings, robust, src)

    @classmethod
    def from_toml(cls, path: str | Path) -> PolicySpec:
        p = Path(path)
        if not p.is_file():
            raise SpecError(f"Policy spec {str(p)!r} does not exist; check the path.")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"Policy spec {str(p)!r} is not valid TOML: {exc}.") from None
        return cls.from_dict(data, p)

    # ------------------------------------------------------------------ checks
    def validate(self, model: Model) -> PolicySpec:
        """Resolve every name against ``model`` and check bounds, times and budgets; return a copy."""
        w = self.where
        levers = []
        t0, t1 = model.initial_time, model.final_time
        for lv in self.levers:
            try:
                name = model.resolve(lv.variable, where=f"{w}, levers")
            except PvsdError as exc:
                raise SpecError(f"{w}: unknown lever {lv.variable!r}: {exc}") from None
            kind = model.kind(name)
            if kind != "constant":
                raise SpecError(f"{w}: lever {name!r} is a {kind}, not a constant; a lever sets a model "
                                "constant (see `pvsd info MODEL`).")
            row = model.variables.set_index("name").loc[name]
            lo, hi = float(row["min"]), float(row["max"])
            a, b = lv.level_bounds
            if (math.isfinite(lo) and a < lo) or (math.isfinite(hi) and b > hi):
                raise SpecError(f"{w}: lever {name!r} bounds [{a:g}, {b:g}] leave the range the model "
                                f"declares for it, [{lo:g}, {hi:g}]; narrow them.")
            if lv.kind in ("step", "ramp"):
                ya, yb = lv.bounds[0]
                if ya < t0 or yb > t1:
                    raise SpecError(f"{w}: lever {name!r} years [{ya:g}, {yb:g}] leave the model's run "
                                    f"{t0:g}-{t1:g}.")
            levers.append(replace(lv, variable=name))
        names = [lv.variable for lv in levers]
        if len(set(names)) != len(names):
            raise SpecError(f"{w}: a variable is given as a lever twice: {names}.")
        objectives = [self._check_obj(o, model, f"{w}, objective {i + 1}") for i, o in enumerate(self.objectives)]
        constraints = []
        for i, c in enumerate(self.constraints):
            loc = f"{w}, constraint {i + 1}"
            if c.budget is not None:
                lv_names = [model.resolve(n, where=loc) for n in c.levers] if c.levers else names
                missing = [n for n in lv_names if n not in names]
                if missing:
                    raise SpecError(f"{loc}: budget names {missing}, which are not levers of this spec.")
                least = sum(lv.level_bounds[0] for lv in levers if lv.variable in lv_names)
                if least > c.budget + 1e-12:
                    raise SpecError(
                        f"{loc}: the budget {c.budget:g} is infeasible: the levers' lower bounds alone "
                        f"add up to {least:g}. Raise the budget or lower the levers' lower bounds.")
                constraints.append(replace(c, levers=tuple(lv_names)))
            else:
                assert c.outcome is not None
                constraints.append(replace(c, outcome=self._check_obj(c.outcome, model, loc)))
        robust = self.robust
        if robust is not None:
            robust = replace(robust, space=robust.space.validate(model))
            clash = sorted(set(robust.space.names) & set(names))
            if clash:
                raise SpecError(f"{w}: {clash} are both levers and uncertainties; choose one.")
        return replace(self, levers=tuple(levers), objectives=tuple(objectives),
                       constraints=tuple(constraints), robust=robust)

    @staticmethod
    def _check_obj(o: Objective, model: Model, loc: str) -> Objective:
        try:
            name = model.resolve(o.outcome.variable, where=loc)
        except PvsdError as exc:
            raise SpecError(f"{loc}: {exc}") from None
        kind = model.kind(name)
        if kind in ("constant", "lookup", "control"):
            raise SpecError(f"{loc}: {name!r} is a {kind}, not a model output that changes in a run; "
                            "an objective or constraint reads a stock, flow or auxiliary.")
        return replace(o, outcome=o.outcome.validate(model, loc))


def _constraint(t: Any, where: str) -> Constraint:
    if not isinstance(t, Mapping):
        raise SpecError(f"{where}: a constraint is a table such as {{ budget = 1.5 }} or "
                        "{ variable = \"Hierarchical Control\", stat = \"max\", max = 0.6 }.")
    if "budget" in t:
        extra = sorted(set(t) - {"budget", "levers"})
        if extra:
            raise SpecError(f"{where}: a budget constraint has budget and optionally levers, not {extra}.")
        lv = t.get("levers", [])
        if not isinstance(lv, list) or not all(isinstance(s, str) for s in lv):
            raise SpecError(f"{where}: levers must be a list of lever names.")
        return Constraint(budget=_num(t["budget"], f"{where}: budget"), levers=tuple(lv))
    obj, rest = Objective.from_dict(t, where, "constraint")
    rest.pop("sense", None)
    if not rest:
        raise SpecError(f"{where}: give max = ... and/or min = ... for {obj.label!r}.")
    lo = _num(rest["min"], f"{where}: min") if "min" in rest else None
    hi = _num(rest["max"], f"{where}: max") if "max" in rest else None
    if lo is not None and hi is not None and lo > hi:
        raise SpecError(f"{where}: min {lo:g} is above max {hi:g}; they are the wrong way round.")
    return Constraint(outcome=obj, lower=lo, upper=hi)


def _robust(t: Any, src: Path | None, where: str) -> RobustSpec:
    from pvsd.sensitivity.spec import load_spec

    if not isinstance(t, Mapping):
        raise SpecError(f"{where}: [robust] must be a table.")
    extra = sorted(set(t) - {"uncertainties", "n", "statistic", "percentile"})
    if extra:
        raise SpecError(f"{where}: unknown [robust] key(s) {extra}; allowed: uncertainties, n, statistic, percentile.")
    if "uncertainties" not in t:
        raise SpecError(f"{where}: [robust] needs uncertainties = \"SENSITIVITY_SPEC.toml\".")
    path = Path(t["uncertainties"])
    if not path.is_absolute() and src is not None:
        path = src.parent / path
    space = load_spec(path).space
    stat = str(t.get("statistic", "mean"))
    if stat not in STATISTICS:
        raise SpecError(f"{where}: [robust] statistic must be one of {', '.join(STATISTICS)}, got {stat!r}.")
    n = t.get("n", 50)
    if not isinstance(n, int) or n < 2:
        raise SpecError(f"{where}: [robust] n must be a whole number of at least 2, got {n!r}.")
    pct = _num(t.get("percentile", 100 if stat == "regret" else 10), f"{where}: [robust] percentile")
    if not 0 <= pct <= 100:
        raise SpecError(f"{where}: [robust] percentile must be between 0 and 100, got {pct:g}.")
    return RobustSpec(space, n, stat, pct, str(path))


def load_policy_spec(spec: Any) -> PolicySpec:
    """A :class:`PolicySpec` from a path, a parsed dict or a spec."""
    if isinstance(spec, PolicySpec):
        return spec
    if isinstance(spec, Mapping):
        return PolicySpec.from_dict(spec)
    return PolicySpec.from_toml(spec)
