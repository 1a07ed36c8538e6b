"""Scenarios: named sets of constant overrides and time-varying levers.

A scenario file is TOML that a policy analyst can write by hand::

    [compare]                       # optional: what `pvsd scenarios` reports
    outputs = ["Public Trust", "Cumulative Public Value"]
    years = [2030, 2040, 2050]

    [scenarios.technology_alone]
    title = "Technology alone"
    description = "Double technology investment, no organisational reform."
    set = { "Technology Investment" = 0.4 }

    [scenarios.technology_and_reform]
    extends = "technology_alone"      # start from another scenario (or a list)
    [scenarios.technology_and_reform.levers]
    "Organisational Reform Effort" = { step = 2025, to = 0.5 }
    "Coproduction Programme" = { ramp = [2020, 2030], to = 0.4 }
    "Agile Capability Programme" = { table = [[2000, 0.0], [2025, 0.2], [2050, 0.5]] }

``step``/``ramp`` start from the value the variable otherwise has in the scenario
(the model's own value, or one set by the scenario it extends) unless ``from`` is
given. Later settings win: ``levers`` over ``set``, a scenario over the one it extends.
"""

from __future__ import annotations

import dataclasses
import html
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.errors import ParameterError, PvsdError, ScenarioError
from pvsd.timefunc import Ramp, Step, Table, TimeFunction

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from pvsd.model import Model
    from pvsd.results import RunResult

__all__ = [
    "BASELINE",
    "Scenario",
    "ScenarioComparison",
    "ScenarioSet",
    "load_scenarios",
    "parse_lever",
    "run_scenarios",
]

BASELINE = "baseline"


@dataclass(frozen=True)
class Scenario:
    """A named what-if: constant overrides plus levers that change over time.

    Attributes
    ----------
    name
        Identifier (the TOML table name).
    title
        Human-readable label for tables and legends.
    description
        What the scenario represents.
    constants
        Constant overrides by variable name.
    levers
        Time-varying lever settings by variable name.
    """

    name: str
    title: str = ""
    description: str = ""
    constants: Mapping[str, float] = field(default_factory=dict)
    levers: Mapping[str, TimeFunction] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Title if given, else the name."""
        return self.title or self.name

    def settings(self) -> dict[str, float | TimeFunction]:
        """All overrides: constants, then levers (a lever wins over a constant)."""
        return {**self.constants, **self.levers}

    def describe(self) -> dict[str, str]:
        """Variable -> plain description of its setting."""
        out = {k: f"{v:g}" for k, v in self.constants.items()}
        out.update({k: v.describe() for k, v in self.levers.items()})
        return out

    def to_toml_table(self) -> dict[str, Any]:
        """The scenario as a TOML table (without its name)."""
        table: dict[str, Any] = {}
        if self.title:
            table["title"] = self.title
        if self.description:
            table["description"] = self.description
        if self.constants:
            table["set"] = dict(self.constants)
        if self.levers:
            table["levers"] = {k: v.to_toml() for k, v in self.levers.items()}
        return table


@dataclass(frozen=True)
class ScenarioSet:
    """The scenarios of one file, in file order, plus what to compare."""

    scenarios: tuple[Scenario, ...]
    outputs: tuple[str, ...] = ()
    years: tuple[float, ...] = ()
    source: Path | None = None

    def __iter__(self):
        return iter(self.scenarios)

    def __len__(self) -> int:
        return len(self.scenarios)

    def __getitem__(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.scenarios)
        raise ScenarioError(f"No scenario named {name!r}; this set has: {known}.")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenarios]


def parse_lever(spec: Any, where: str) -> TimeFunction:
    """Build a lever from its TOML inline table (``step``, ``ramp`` or ``table``)."""
    if not isinstance(spec, Mapping):
        raise ScenarioError(
            f"{where}: a lever is an inline table such as {{ step = 2025, to = 0.5 }}, "
            f"{{ ramp = [2020, 2030], to = 0.5 }} or {{ table = [[2000, 0.1], [2030, 0.5]] }}; "
            f"got {spec!r}."
        )
    kinds = [k for k in ("step", "ramp", "table") if k in spec]
    if len(kinds) != 1:
        raise ScenarioError(f"{where}: give exactly one of step, ramp or table, got {dict(spec)!r}.")
    allowed = {"step": {"step", "to", "from"}, "ramp": {"ramp", "to", "from"}, "table": {"table"}}
    extra = set(spec) - allowed[kinds[0]]
    if extra:
        raise ScenarioError(f"{where}: unknown key(s) {sorted(extra)} for a {kinds[0]} lever.")
    try:
        if kinds[0] == "step":
            if "to" not in spec:
                raise ScenarioError(f"{where}: a step lever needs 'to' (the new value).")
            return Step(spec["step"], spec["to"], spec.get("from"))
        if kinds[0] == "ramp":
            span = spec["ramp"]
            if not isinstance(span, Sequence) or len(span) != 2 or "to" not in spec:
                raise ScenarioError(
                    f"{where}: a ramp lever is {{ ramp = [start_year, end_year], to = value }}."
                )
            return Ramp(span[0], span[1], spec["to"], spec.get("from"))
        return Table.from_pairs(spec["table"])
    except ParameterError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{where} must be a number, got {value!r}.")
    if not np.isfinite(value):
        raise ScenarioError(f"{where} must be finite, got {value!r}.")
    return float(value)


def _build(name: str, tables: Mapping[str, Any], done: dict[str, Scenario], src: str,
           stack: tuple[str, ...] = ()) -> Scenario:
    if name in done:
        return done[name]
    if name in stack:
        raise ScenarioError(f"{src}: scenarios extend each other in a circle: {' -> '.join((*stack, name))}.")
    table = tables[name]
    where = f"{src}, scenario {name!r}"
    if not isinstance(table, Mapping):
        raise ScenarioError(f"{where}: must be a table ([scenarios.{name}]).")
    unknown = set(table) - {"title", "description", "set", "levers", "extends"}
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {sorted(unknown)}; allowed: title, description, set, levers, extends."
        )
    constants: dict[str, float] = {}
    levers: dict[str, TimeFunction] = {}
    parents = table.get("extends", [])
    parents = [parents] if isinstance(parents, str) else parents
    if not isinstance(parents, list) or not all(isinstance(x, str) for x in parents):
        raise ScenarioError(
            f"{where}: 'extends' must be a scenario name or a list of names, e.g. "
            f'extends = "technology_alone"; got {parents!r}.'
        )
    for parent in parents:
        if parent not in tables:
            raise ScenarioError(f"{where}: extends unknown scenario {parent!r}.")
        base = _build(parent, tables, done, src, (*stack, name))
        constants.update(base.constants)
        levers.update(base.levers)
    sets = table.get("set", {})
    if not isinstance(sets, Mapping):
        raise ScenarioError(f"{where}: 'set' must be a table of variable = number.")
    for var, value in sets.items():
        constants[var] = _number(value, f"{where}, set {var!r}")
        levers.pop(var, None)
    lev = table.get("levers", {})
    if not isinstance(lev, Mapping):
        raise ScenarioError(f"{where}: 'levers' must be a table of variable = {{ ... }}.")
    for var, spec in lev.items():
        lever = parse_lever(spec, f"{where}, lever {var!r}")
        # A step or ramp starts from the value the variable has in this scenario
        # (e.g. one set by the scenario it extends), not the model's default.
        start = constants.pop(var, None)
        if start is not None and isinstance(lever, Step) and lever.before is None:
            lever = dataclasses.replace(lever, before=start)
        elif start is not None and isinstance(lever, Ramp) and lever.start_value is None:
            lever = dataclasses.replace(lever, start_value=start)
        levers[var] = lever
    scen = Scenario(
        name=name,
        title=str(table.get("title", "")),
        description=str(table.get("description", "")),
        constants=constants,
        levers=levers,
    )
    done[name] = scen
    return scen


def load_scenarios(path: str | Path, model: Model | None = None) -> ScenarioSet:
    """Read a scenario file.

    Parameters
    ----------
    path
        TOML scenario file.
    model
        If given, every variable name and value is checked against it now, so that
        a typo is reported before anything runs.

    Raises
    ------
    ScenarioError
        The file is missing, not valid TOML, or a scenario is malformed.
    UnknownVariableError, ParameterError
        With ``model``: a name is not a model variable or a value is out of range.
    """
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(f"Scenario file {str(p)!r} does not exist; check the path.")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"Scenario file {str(p)!r} is not valid TOML: {exc}.") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"Scenario file {str(p)!r} is not UTF-8 text.") from None
    return scenarios_from_dict(data, source=p, model=model)


def scenarios_from_dict(data: Mapping[str, Any], source: Path | None = None,
                        model: Model | None = None) -> ScenarioSet:
    """Build a :class:`ScenarioSet` from parsed TOML (see :func:`load_scenarios`)."""
    src = str(source) if source else "scenario definition"
    unknown = set(data) - {"scenarios", "compare"}
    if unknown:
        raise ScenarioError(f"{src}: unknown top-level table(s) {sorted(unknown)}; use [scenarios.NAME] and [compare].")
    tables = data.get("scenarios", {})
    if not isinstance(tables, Mapping) or not tables:
        raise ScenarioError(f"{src}: defines no scenarios; add at least one [scenarios.NAME] table.")
    if BASELINE in tables:
        raise ScenarioError(f"{src}: {BASELINE!r} is reserved for the model's own settings; rename that scenario.")
    done: dict[str, Scenario] = {}
    scenarios = tuple(_build(n, tables, done, src) for n in tables)
    compare = data.get("compare", {})
    if not isinstance(compare, Mapping):
        raise ScenarioError(
            f"{src}: 'compare' must be a table, e.g. [compare] with outputs = [\"Public Trust\"] and "
            f"years = [2030, 2040]; got {type(compare).__name__} {compare!r}."
        )
    unknown_c = set(compare) - {"outputs", "years"}
    if unknown_c:
        raise ScenarioError(f"{src}: [compare] has unknown key(s) {sorted(unknown_c)}; allowed: outputs, years.")
    outputs = compare.get("outputs", [])
    years = compare.get("years", [])
    if not isinstance(outputs, list) or not all(isinstance(o, str) for o in outputs):
        raise ScenarioError(f"{src}: [compare] outputs must be a list of variable names.")
    if not isinstance(years, list):
        raise ScenarioError(f"{src}: [compare] years must be a list of numbers.")
    ys = tuple(_number(y, f"{src}: [compare] years") for y in years)
    result = ScenarioSet(scenarios, tuple(outputs), ys, source)
    if model is not None:
        check_against(result, model)
    return result


def check_against(scenarios: ScenarioSet | Sequence[Scenario], model: Model) -> None:
    """Validate every scenario's names and values against ``model`` (nothing runs)."""
    for s in scenarios:
        model.check_params(None, s)
    if isinstance(scenarios, ScenarioSet):
        model.resolve_outputs(list(scenarios.outputs) or None)


@dataclass(frozen=True)
class ScenarioComparison:
    """Baseline plus scenario runs of one model, with a difference table.

    Attributes
    ----------
    runs
        Run results by scenario name, baseline first.
    scenarios
        The scenario definitions, by name (the baseline has none).
    outputs
        Variables compared.
    years
        Times at which the table compares them.
    """

    runs: Mapping[str, RunResult]
    scenarios: Mapping[str, Scenario]
    outputs: tuple[str, ...]
    years: tuple[float, ...]

    @property
    def baseline(self) -> RunResult:
        return self.runs[BASELINE]

    def label(self, name: str) -> str:
        """Legend label of a run."""
        return self.scenarios[name].label if name in self.scenarios else "Baseline"

    def table(self) -> pd.DataFrame:
        """Long (tidy) table: scenario, label, variable, units, year, value, baseline,
        difference, pct_difference (NaN where the baseline is 0)."""
        base = self.baseline.to_dataframe()
        units = self.baseline.units
        rows = []
        for name, res in self.runs.items():
            frame = res.to_dataframe()
            for var in self.outputs:
                for year in self.years:
                    v = float(np.interp(year, frame.index, frame[var]))
                    b = float(np.interp(year, base.index, base[var]))
                    pct = (v - b) / abs(b) * 100 if b != 0 else np.nan
                    rows.append((name, self.label(name), var, units.get(var, ""), year, v, b, v - b, pct))
        return pd.DataFrame(
            rows,
            columns=["scenario", "label", "variable", "units", "year", "value", "baseline",
                     "difference", "pct_difference"],
        )

    def to_dataframe(self) -> pd.DataFrame:
        """Same as :meth:`table`."""
        return self.table()

    def wide_table(self) -> pd.DataFrame:
        """Rows: variable, units and year; columns: each run's value, then each scenario's
        % difference from the baseline (``"<label> %"``). Every cell is a number."""
        t = self.table()
        labels = [self.label(n) for n in self.runs]
        idx = ["variable", "units", "year"]
        vals = t.pivot_table(index=idx, columns="label", values="value", aggfunc="first", sort=False)[labels]
        pct = t[t["scenario"] != BASELINE].pivot_table(index=idx, columns="label", values="pct_difference",
                                                       aggfunc="first", sort=False, dropna=False)
        pct = pct[[lb for lb in labels[1:] if lb in pct.columns]]
        pct.columns = [f"{c} %" for c in pct.columns]
        wide = pd.concat([vals, pct], axis=1)
        wide.columns.name = None
        return wide

    def display_table(self) -> pd.DataFrame:
        """The wide table as text for people: ``"0.7635 (+25.5%)"`` cells (for HTML and
        terminals; use :meth:`table` or :meth:`wide_table` for numbers)."""
        t = self.table()
        t["cell"] = [
            f"{v:.4g}" if s == BASELINE else (f"{v:.4g} ({p:+.1f}%)" if np.isfinite(p) else f"{v:.4g}")
            for s, v, p in zip(t["scenario"], t["value"], t["pct_difference"], strict=True)
        ]
        wide = t.pivot_table(index=["variable", "year"], columns="label", values="cell",
                             aggfunc="first", sort=False)
        wide = wide[[self.label(n) for n in self.runs]]
        wide.columns.name = None
        wide.index = wide.index.set_levels([f"{y:g}" for y in wide.index.levels[1]], level=1)
        return wide

    def series(self) -> pd.DataFrame:
        """Every plotted series in long form: scenario, variable, units, time, value."""
        frames = []
        units = self.baseline.units
        for name, res in self.runs.items():
            long = res.to_dataframe()[list(self.outputs)].reset_index().melt(
                id_vars="time", var_name="variable", value_name="value")
            long.insert(0, "scenario", name)
            long.insert(2, "units", long["variable"].map(lambda v: units.get(v, "")))
            frames.append(long)
        return pd.concat(frames, ignore_index=True)

    def plot(self, variables: Sequence[str] | None = None, title: str | None = None) -> go.Figure:
        """Overlay of every run, one panel per variable."""
        from pvsd.plotting import trajectories_figure

        variables = list(variables or self.outputs)
        runs = {self.label(n): r.to_dataframe() for n, r in self.runs.items()}
        return trajectories_figure(runs, variables, self.baseline.units, title=title)

    def _repr_html_(self) -> str:
        return (
            f"<p><b>ScenarioComparison</b>: {html.escape(', '.join(self.runs))}</p>"
            + self.display_table().to_html()
        )


def run_scenarios(
    model: Model,
    scenarios: ScenarioSet | Sequence[Scenario],
    outputs: Sequence[str] | None = None,
    years: Sequence[float] | None = None,
    progress: bool | None = None,
    **run_kwargs: Any,
) -> ScenarioComparison:
    """Run the baseline and every scenario, and compare them.

    Parameters
    ----------
    model
        The model.
    scenarios
        Scenarios to run (a :class:`ScenarioSet` brings its own outputs and years).
    outputs
        Variables to compare (default: the set's ``[compare] outputs``, else all stocks).
    years
        Times for the difference table (default: the set's, else start, middle, end).
    progress
        Show a progress bar (default: when running takes over a second, on a terminal).
    **run_kwargs
        Passed to :meth:`Model.run` (time settings).
    """
    scen_list = list(scenarios)
    names = [s.name for s in scen_list]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ScenarioError(f"Scenario names must be unique; repeated: {sorted(dup)}.")
    check_against(scen_list, model)
    if outputs is None and isinstance(scenarios, ScenarioSet) and scenarios.outputs:
        outputs = list(scenarios.outputs)
    cols = model.resolve_outputs(outputs) if outputs else model.stocks
    # an arrayed variable is compared element by element ("Var[e]" columns)
    cols = [lab for c in cols for lab in model.elements(c)]
    if not cols:
        raise PvsdError(f"{model.path.name} has no stocks; name the outputs to compare.")
    if years is None and isinstance(scenarios, ScenarioSet) and scenarios.years:
        years = list(scenarios.years)
    t0 = run_kwargs.get("initial_time") or model.initial_time
    t1 = run_kwargs.get("final_time") or model.final_time
    years_t = tuple(float(y) for y in (years if years else (t0, (t0 + t1) / 2, t1)))
    for y in years_t:
        if not t0 <= y <= t1:
            raise ScenarioError(f"Comparison year {y:g} is outside the run ({t0:g}-{t1:g}).")

    from pvsd.progress import progress_bar

    runs: dict[str, RunResult] = {}
    jobs: list[Scenario | None] = [None, *scen_list]
    with progress_bar(total=len(jobs), desc="scenarios", enabled=progress) as bar:
        for scen in jobs:
            key = BASELINE if scen is None else scen.name
            runs[key] = model.run(scenario=scen, outputs=cols, **run_kwargs)
            bar.update(1)
    return ScenarioComparison(runs, {s.name: s for s in scen_list}, tuple(cols), years_t)
