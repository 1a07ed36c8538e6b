"""The explorer's logic, independent of Dash: settings, runs, bands, figures, saving.

Every Dash callback of :mod:`pvsd.explorer.app` is a thin wrapper around a method
of :class:`Explorer`, so the logic is tested without a browser. The methods
called by callbacks (:meth:`Explorer.update`, :meth:`Explorer.save`,
:meth:`Explorer.export`) never raise: bad input comes back as a message for the
page.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import threading
import time
import tomllib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.errors import ParameterError, PvsdError, ScenarioError
from pvsd.explorer.levers import Lever, discover_levers
from pvsd.plotting import PALETTE
from pvsd.scenarios import BASELINE, Scenario, ScenarioSet
from pvsd.timefunc import Step

if TYPE_CHECKING:
    from pvsd.document import Report
    from pvsd.model import Model
    from pvsd.parameters import ParameterSpace

__all__ = [
    "KEY_OUTPUTS",
    "Bands",
    "Explorer",
    "ExplorerInputError",
    "Settings",
    "Update",
    "key_outputs",
]

#: Preferred dashboard outputs, in order; for each entry the first name the model has is used.
KEY_OUTPUTS: tuple[tuple[str, ...], ...] = (
    ("Digital Capability",),
    ("Service Quality",),
    ("Public Trust",),
    ("Public Expectations",),
    ("Satisfaction Gap",),
    ("Cumulative Public Value", "Public Value Creation Rate", "Public Value Index", "Public Value"),
)

CURRENT_COLOUR = "#0072B2"
BASELINE_COLOUR = "#000000"
BAND_FILL = ("rgba(0,114,178,0.13)", "rgba(0,114,178,0.26)", "rgba(0,114,178,0.38)")
_CACHE_SIZE = 64
_NAME_OK = re.compile(r"^[\w][\w .,'()+&/-]{0,79}$")


class ExplorerInputError(ParameterError):
    """Values sent to the explorer are not numbers, or lie outside a slider's range."""


def _clean(value: float) -> float:
    """Round away binary noise from slider arithmetic (0.1 + 0.2 -> 0.3)."""
    return float(f"{value:.12g}")


def key_outputs(model: Model, outputs: Sequence[str] | None = None, limit: int = 6) -> list[str]:
    """Dashboard outputs: ``outputs`` if given, else :data:`KEY_OUTPUTS` found in the model.

    Falls back to the first stocks (then auxiliaries) when the model has none of
    the key outputs.
    """
    if outputs:
        return model.resolve_outputs(list(outputs))
    kinds = dict(zip(model.variables["name"], model.variables["kind"], strict=True))
    found: list[str] = []
    for candidates in KEY_OUTPUTS:
        for cand in candidates:
            try:
                name = model.resolve(cand)
            except PvsdError:
                continue
            if kinds.get(name) in ("stock", "flow", "aux") and name not in found:
                found.append(name)
                break
    if len(found) >= 2:
        return found
    pool = model.stocks + [n for n in model.default_outputs() if n not in model.stocks]
    for name in pool:
        if len(found) >= limit:
            break
        if name not in found:
            found.append(name)
    return found


@dataclass(frozen=True)
class Settings:
    """What the controls say: lever values that differ from the model's, and step changes.

    Attributes
    ----------
    values
        ``(name, value)`` for every lever set away from its default, in lever order.
    steps
        ``(name, year, to)``: the lever jumps to ``to`` in ``year``.
    """

    values: tuple[tuple[str, float], ...] = ()
    steps: tuple[tuple[str, float, float], ...] = ()

    @property
    def is_baseline(self) -> bool:
        """Nothing is changed from the model's own settings."""
        return not self.values and not self.steps

    def changed(self) -> set[str]:
        """Names of the levers this setting changes."""
        return {n for n, _ in self.values} | {n for n, _, _ in self.steps}

    def params(self) -> dict[str, float | Step]:
        """``Model.run`` parameters: numbers, and :class:`~pvsd.timefunc.Step` levers."""
        out: dict[str, float | Step] = dict(self.values)
        for name, year, to in self.steps:
            before = out.get(name)
            out[name] = Step(year, to, before if isinstance(before, float) else None)
        return out

    def to_scenario(self, name: str, title: str = "", description: str = "") -> Scenario:
        """The setting as a :class:`~pvsd.scenarios.Scenario` (constants and step levers)."""
        stepped = {n for n, _, _ in self.steps}
        constants = {n: v for n, v in self.values if n not in stepped}
        levers = {n: v for n, v in self.params().items() if isinstance(v, Step)}
        return Scenario(name=name, title=title, description=description, constants=constants, levers=levers)


@dataclass(frozen=True)
class Bands:
    """Monte Carlo percentiles around one setting.

    Attributes
    ----------
    times
        Saved times.
    percentiles
        Percentile -> variable -> values over time.
    n
        Number of runs.
    seed
        Seed of the draw.
    varied
        Parameters sampled.
    held
        Uncertain parameters held at the user's setting instead of sampled.
    """

    times: np.ndarray
    percentiles: Mapping[float, Mapping[str, np.ndarray]]
    n: int
    seed: int
    varied: tuple[str, ...]
    held: tuple[str, ...] = ()

    def pairs(self) -> tuple[list[tuple[float, float]], float | None]:
        """Symmetric percentile pairs, widest first, and the median (if requested)."""
        ps = sorted(self.percentiles)
        lower = [p for p in ps if p < 50]
        upper = [p for p in ps if p > 50]
        pairs = list(zip(lower, reversed(upper), strict=False))
        median = 50.0 if 50.0 in self.percentiles else None
        return pairs, median


@dataclass
class Update:
    """The result of a change of the controls.

    Attributes
    ----------
    figure
        The dashboard figure (plotly JSON), or None when the input was rejected.
    message
        Error text to show (empty when all is well).
    status
        A short status line (timings, what the bands show).
    settings
        The validated settings (None when rejected).
    """

    figure: dict[str, Any] | None
    message: str = ""
    status: str = ""
    settings: Settings | None = None


@dataclass
class _BandConfig:
    space: ParameterSpace
    n: int = 200
    percentiles: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)
    seed: int = 20240501
    sampling: str = "lhs"
    source: str = ""
    samples: pd.DataFrame | None = field(default=None, repr=False)


def _bundled(path: Path) -> bool:
    """Whether ``path`` is one of pvsd's bundled files (never written to)."""
    from pvsd.resources import data_dir

    try:
        return path.resolve().is_relative_to(data_dir("models").resolve())
    except PvsdError:
        return False


def _toml_number(v: Any) -> Any:
    """Integral floats as integers (years read better as 2025 than 2025.0)."""
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
        return int(v)
    return v


def _toml_block(key: str, table: Mapping[str, Any]) -> str:
    """One ``[scenarios.KEY]`` table as hand-written TOML: levers as one-line inline tables."""
    import tomli_w

    def kv(name: str, value: Any) -> str:
        return tomli_w.dumps({name: value}).strip()

    head = tomli_w.dumps({"scenarios": {key: {}}}).strip()  # quotes the key if needed
    lines = [head]
    for field_ in ("title", "description"):
        if field_ in table:
            lines.append(kv(field_, table[field_]))
    if table.get("set"):
        lines += ["", f"[scenarios.{head[len('[scenarios.'):-1]}.set]"]
        lines += [kv(n, v) for n, v in table["set"].items()]
    if table.get("levers"):
        lines += ["", f"[scenarios.{head[len('[scenarios.'):-1]}.levers]"]
        for n, spec in table["levers"].items():
            inner = ", ".join(kv(k, _toml_number(v) if k == "step" else v) for k, v in spec.items())
            lines.append(f"{kv(n, 0).rsplit('=', 1)[0].strip()} = {{ {inner} }}")
    return "\n".join(lines) + "\n"


def _as_number(value: Any) -> float | None:
    """A finite float, or None for anything else (strings, bools, NaN, lists ...)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


class Explorer:
    """State and logic of one what-if explorer (one model, its sliders, its overlays).

    Parameters
    ----------
    model
        The model.
    scenarios
        Scenarios to overlay: a :class:`~pvsd.scenarios.ScenarioSet`, a list of
        :class:`~pvsd.scenarios.Scenario`, or a scenario file path.
    uncertainty_spec
        A sensitivity spec file, :class:`~pvsd.parameters.ParameterSpace` or
        ``SensitivitySpec`` for the Monte Carlo bands (None: the model's
        ``<model>_sensitivity.toml`` next to it, if any; False: no bands).
    outputs
        Variables on the dashboard (default: :func:`key_outputs`).
    save_to
        TOML file that "Save scenario" appends to (default: the scenario file
        given unless it is one bundled with pvsd, else ``<model>_scenarios.toml``
        in the working directory).
    band_runs
        Number of Monte Carlo runs (default: the spec's ``[bands] n``, else 200).
    sets
        Constants held at other values than the model file's (``--set``): every run
        uses them (the baseline too, and on top of each scenario, as ``--set`` does in
        every command); a slider of such a constant starts at the value (which must
        lie in its range) and moving it wins. Recorded in exported reports and
        written into saved scenarios.
    """

    def __init__(
        self,
        model: Model,
        scenarios: ScenarioSet | Sequence[Scenario] | str | Path | None = None,
        uncertainty_spec: Any = None,
        *,
        outputs: Sequence[str] | None = None,
        save_to: str | Path | None = None,
        band_runs: int | None = None,
        sets: Mapping[str, float] | None = None,
    ) -> None:
        from pvsd.overrides import check_sets
        from pvsd.scenarios import check_against, load_scenarios

        self.model = model
        #: ``--set`` values by canonical name (a slider's name where one matches)
        self.sets: dict[str, float] = check_sets(model, sets or {}, where="--set")
        #: the model file's value of each set constant
        self.model_values: dict[str, float] = {}
        self._lock = threading.RLock()
        self._run_lock = threading.Lock()
        self._cache: OrderedDict[Settings, pd.DataFrame] = OrderedDict()
        self._band_cache: OrderedDict[Settings, Bands] = OrderedDict()
        self.bands_config, self.uncertainty_note = self._band_config(uncertainty_spec, band_runs)
        space = self.bands_config.space if self.bands_config else None
        self.levers: list[Lever] = self._levers_at_sets(discover_levers(model, space))
        self.by_name: dict[str, Lever] = {lv.name: lv for lv in self.levers}
        self.outputs: list[str] = key_outputs(model, outputs)
        tu = (model.units.get("INITIAL TIME") or model.units.get("TIME STEP") or "").strip()
        #: "year" for models that run in years, else "time" (labels and messages)
        self.time_word = "year" if tu.lower().startswith("year") or not tu else "time"
        self.time_units = tu
        self.units: dict[str, str] = {o: model.units.get(o, "") for o in self.outputs}
        source: Path | None = None
        if isinstance(scenarios, (str, Path)):
            scenarios = load_scenarios(scenarios, model)
        if isinstance(scenarios, ScenarioSet):
            source = scenarios.source
        scen_list = list(scenarios or ())
        check_against(scen_list, model)
        self.scenario_source = source
        self.save_to = Path(save_to) if save_to else (
            source if source is not None and not _bundled(source) else Path.cwd() / f"{model.name}_scenarios.toml"
        )
        self.compare_years: tuple[float, ...] = (
            tuple(scenarios.years) if isinstance(scenarios, ScenarioSet) and scenarios.years else ()
        )
        self.scenarios: dict[str, Scenario] = {}
        self._scenario_runs: dict[str, pd.DataFrame] = {}
        self.baseline = self.run(Settings())
        for s in scen_list:
            self._add_scenario(s)
        self._layout = self._base_layout()

    # ------------------------------------------------------------------ setup
    def _band_config(self, spec: Any, band_runs: int | None) -> tuple[_BandConfig | None, str]:
        from pvsd.parameters import ParameterSpace

        if spec is False:
            return None, "Uncertainty bands are switched off."
        if spec is None:
            cand = self.model.path.with_name(f"{self.model.path.stem}_sensitivity.toml")
            if not cand.is_file():
                return None, ("No uncertainty spec: start the explorer with --uncertainty SPEC.toml "
                              "(a sensitivity spec with [parameters]) to show Monte Carlo bands.")
            spec = cand
        cfg: dict[str, Any] = {}
        if isinstance(spec, ParameterSpace):
            space = spec
        else:
            try:
                from pvsd.sensitivity.spec import as_spec

                full = as_spec(spec)
                space = full.space
                b = full.bands
                cfg = {"n": b.n, "percentiles": tuple(b.percentiles), "sampling": b.sampling}
                if b.seed is not None:
                    cfg["seed"] = int(b.seed)
                elif full.settings.get("seed") is not None:
                    cfg["seed"] = int(full.settings["seed"])
            except ImportError:  # pragma: no cover - sensitivity package not installed
                space = ParameterSpace.from_toml(spec)
        space = space.validate(self.model)
        if band_runs is not None:
            cfg["n"] = int(band_runs)
        src = str(getattr(space, "source", "") or (spec if isinstance(spec, (str, Path)) else ""))
        return _BandConfig(space=space, source=src, **cfg), ""

    def _levers_at_sets(self, levers: list[Lever]) -> list[Lever]:
        """Sliders of set constants start at the set value, which must lie in their range."""
        import dataclasses

        if not self.sets:
            return levers
        out = []
        for lv in levers:
            canon = self.model.resolve(lv.name)
            if canon in self.sets:
                v = self.sets.pop(canon)
                self.sets[lv.name] = v
            if lv.name in self.sets:
                v = self.sets[lv.name]
                if not lv.min - 1e-12 <= v <= lv.max + 1e-12:
                    src = {"spec": " (from the uncertainty spec)",
                           "default": " (0 to twice the model value, since the model declares none)"}.get(
                        lv.range_source, "")
                    raise ParameterError(
                        f"--set {lv.name!r}={v:g}: {lv.name!r} is also a slider, whose range is "
                        f"[{lv.min:g}, {lv.max:g}]{src}; the slider starts at the set value, so it "
                        "must lie in that range. Choose a value in it, or declare a wider [min,max] range "
                        "in the model file.")
                self.model_values[lv.name] = lv.default
                lv = dataclasses.replace(lv, default=float(v))
            out.append(lv)
        return out

    def params(self, settings: Settings) -> dict[str, Any]:
        """``Model.run`` parameters of ``settings``: the ``--set`` values, then the sliders'.

        A step of a set constant starts from the set value (not the model file's).
        """
        out: dict[str, Any] = dict(self.sets)
        for name, value in settings.params().items():
            if isinstance(value, Step) and value.before is None and name in self.sets:
                value = Step(value.at, value.to, self.sets[name])
            out[name] = value
        return out

    def _with_sets(self, scenario: Scenario) -> Scenario:
        from pvsd.overrides import scenario_with_sets

        return scenario_with_sets(self.model, scenario, self.sets)

    @property
    def uncertainty_available(self) -> bool:
        """An uncertainty spec is loaded."""
        return self.bands_config is not None

    def _add_scenario(self, scenario: Scenario) -> None:
        frame = self.model.run(scenario=self._with_sets(scenario), outputs=self.outputs).data
        with self._lock:
            self.scenarios[scenario.name] = scenario
            self._scenario_runs[scenario.name] = frame

    # ------------------------------------------------------------------ settings
    def defaults(self) -> dict[str, float]:
        """Every lever's default value."""
        return {lv.name: lv.default for lv in self.levers}

    def parse(self, values: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]] | None = None) -> Settings:
        """Validate control values sent by the page.

        Parameters
        ----------
        values
            Lever name -> value (levers not given keep their defaults).
        steps
            Lever name -> ``{"on": bool, "year": number, "to": number}``.

        Raises
        ------
        ExplorerInputError
            Naming every value that is unknown, not a number or out of range.
        """
        problems: list[str] = []
        vals: dict[str, float] = {}
        if not isinstance(values, Mapping):
            raise ExplorerInputError("Not applied: the lever values sent are not a table of name -> number.")
        for name, raw in values.items():
            lever = self.by_name.get(str(name))
            if lever is None:
                problems.append(f"{str(name)[:80]!r} is not a lever of {self.model.name}")
                continue
            v = _as_number(raw)
            if v is None:
                problems.append(f"{lever.name}: {str(raw)[:40]!r} is not a number")
            elif not lever.min - 1e-9 <= v <= lever.max + 1e-9:
                problems.append(f"{lever.name} = {v:g} is outside its range "
                                f"{lever.fmt(lever.min)} to {lever.fmt(lever.max)}")
            else:
                vals[lever.name] = _clean(min(max(v, lever.min), lever.max))
        step_list: list[tuple[str, float, float]] = []
        t0, t1 = self.model.initial_time, self.model.final_time
        if steps is not None and not isinstance(steps, Mapping):
            problems.append("the step changes sent are not a table")
            steps = {}
        for name, spec in (steps or {}).items():
            lever = self.by_name.get(str(name))
            if lever is None:
                problems.append(f"{str(name)[:80]!r} is not a lever of {self.model.name}")
                continue
            if not isinstance(spec, Mapping):
                problems.append(f"{lever.name}: the change in a given {self.time_word} is malformed")
                continue
            if not spec.get("on"):
                continue
            year, to = _as_number(spec.get("year")), _as_number(spec.get("to"))
            if year is None:
                problems.append(f"{lever.name}: the {self.time_word} of the change, {str(spec.get('year'))[:40]!r}, "
                                "is not a number")
            elif not t0 <= year <= t1:
                problems.append(f"{lever.name}: the {self.time_word} of the change, {year:g}, is outside the run "
                                f"{t0:g} to {t1:g}")
            if to is None:
                problems.append(f"{lever.name}: the new value, {str(spec.get('to'))[:40]!r}, is not a number")
            elif not lever.min - 1e-9 <= to <= lever.max + 1e-9:
                problems.append(f"{lever.name}: the new value {to:g} is outside its range "
                                f"{lever.fmt(lever.min)} to {lever.fmt(lever.max)}")
            if year is not None and to is not None and t0 <= year <= t1 and lever.min - 1e-9 <= to <= lever.max + 1e-9:
                step_list.append((lever.name, _clean(year), _clean(min(max(to, lever.min), lever.max))))
        if problems:
            raise ExplorerInputError("Not applied: " + "; ".join(problems) + ".")
        stepped = {n for n, _, _ in step_list}
        order = {lv.name: i for i, lv in enumerate(self.levers)}
        kept = sorted(
            ((n, v) for n, v in vals.items() if v != self.by_name[n].default or n in stepped),
            key=lambda item: order[item[0]],
        )
        # a step whose value before equals the default keeps no explicit "from"
        kept = [(n, v) for n, v in kept if not (n in stepped and v == self.by_name[n].default)]
        step_list.sort(key=lambda item: order[item[0]])
        return Settings(tuple(kept), tuple(step_list))

    # ------------------------------------------------------------------ runs
    def run(self, settings: Settings) -> pd.DataFrame:
        """The dashboard outputs for ``settings`` (cached; runs one at a time)."""
        with self._lock:
            if settings in self._cache:
                self._cache.move_to_end(settings)
                return self._cache[settings]
        with self._run_lock:
            frame = self.model.run(params=self.params(settings), outputs=self.outputs).data
        with self._lock:
            self._cache[settings] = frame
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return frame

    def run_result(self, settings: Settings) -> Any:
        """A full :class:`~pvsd.results.RunResult` (with provenance) for ``settings``."""
        return self.model.run(params=self.params(settings), outputs=self.outputs)

    def bands(self, settings: Settings) -> Bands:
        """Monte Carlo percentiles of the outputs around ``settings`` (seeded, cached).

        Uncertain parameters that the setting changes are held at the user's value.

        Raises
        ------
        PvsdError
            No uncertainty spec is loaded, or every uncertain parameter is held.
        """
        cfg = self.bands_config
        if cfg is None:
            raise PvsdError(self.uncertainty_note)
        with self._lock:
            if settings in self._band_cache:
                return self._band_cache[settings]
            if cfg.samples is None:
                cfg.samples = cfg.space.sample(cfg.n, seed=cfg.seed, method=cfg.sampling)
        # a set constant is held at its value like one a slider moved
        pinned = settings.changed() | {self.model.resolve(k) for k in self.sets} | set(self.sets)
        held = tuple(n for n in cfg.space.names if n in pinned)
        varied = tuple(n for n in cfg.space.names if n not in held)
        if not varied:
            raise PvsdError("Every uncertain parameter of the spec is set by a slider, so there is "
                            "nothing left to vary; reset one of them to show the bands.")
        fixed: dict[str, Any] = {k: v for k, v in cfg.space.fixed.items() if k not in pinned}
        fixed.update(self.params(settings))
        with self._run_lock:
            ds = self.model.run_ensemble(cfg.samples[list(varied)], outputs=self.outputs, params=fixed,
                                         seed=cfg.seed, progress=False)
        times = np.asarray(ds["time"].values, dtype=float)
        pct = {
            float(p): {o: np.percentile(np.asarray(ds[o].values, float), p, axis=0) for o in self.outputs}
            for p in cfg.percentiles
        }
        out = Bands(times, pct, int(cfg.n), int(cfg.seed), varied, held)
        with self._lock:
            self._band_cache[settings] = out
            while len(self._band_cache) > 16:
                self._band_cache.popitem(last=False)
        return out

    # ------------------------------------------------------------------ figure
    def _grid(self) -> tuple[int, int]:
        n = max(len(self.outputs), 1)
        ncols = 1 if n == 1 else 2 if n in (2, 4) else 3
        return math.ceil(n / ncols), ncols

    def _base_layout(self) -> dict[str, Any]:
        from plotly.subplots import make_subplots

        nrows, ncols = self._grid()
        titles = [f"{o} ({self.units[o]})" if self.units.get(o) else o for o in self.outputs]
        fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=titles,
                            vertical_spacing=0.16 if nrows > 1 else 0.1, horizontal_spacing=0.07)
        fig.update_layout(
            template="plotly_white",
            margin={"l": 50, "r": 15, "t": 60, "b": 30},
            font={"size": 12},
            legend={"orientation": "h", "yanchor": "bottom", "y": 1.06, "x": 0, "font": {"size": 12}},
            hovermode="x",
            uirevision="explorer",
        )
        fig.update_annotations(font_size=13)
        layout = fig.to_plotly_json()["layout"]
        layout.pop("template", None)
        # plotly_white, inlined: the template object is large and the same every time
        for i in range(1, nrows * ncols + 1):
            for axis in ("xaxis", "yaxis"):
                key = axis if i == 1 else f"{axis}{i}"
                if key in layout:
                    layout[key].update({"gridcolor": "#EBF0F8", "zerolinecolor": "#EBF0F8",
                                        "linecolor": "#BCC3CF", "showline": True, "ticks": "outside",
                                        "tickcolor": "#BCC3CF"})
        layout.update({"paper_bgcolor": "white", "plot_bgcolor": "white", "hoverlabel": {"align": "left"}})
        return layout

    def _axes(self, i: int) -> tuple[str, str]:
        return ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")

    def _line(self, frame: pd.DataFrame, label: str, key: str, colour: str, width: float,
              dash: str = "solid") -> list[dict[str, Any]]:
        times = frame.index.to_numpy(dtype=float).tolist()
        out = []
        for i, var in enumerate(self.outputs):
            xa, ya = self._axes(i)
            out.append({
                "type": "scatter", "mode": "lines", "x": times, "y": frame[var].to_numpy(float).tolist(),
                "xaxis": xa, "yaxis": ya, "name": label, "legendgroup": key, "showlegend": i == 0,
                "line": {"color": colour, "width": width, "dash": dash},
                "meta": {"variable": var, "run": key},
                "hovertemplate": f"{label}: %{{y:.4g}}<extra></extra>",
            })
        return out

    def _band_traces(self, bands: Bands) -> list[dict[str, Any]]:
        times = bands.times.tolist()
        pairs, median = bands.pairs()
        out: list[dict[str, Any]] = []
        for k, (lo, hi) in enumerate(pairs):
            fill = BAND_FILL[min(k, len(BAND_FILL) - 1)]
            label = f"Uncertainty {lo:g}–{hi:g}%"
            key = f"band:{lo:g}-{hi:g}"
            for i, var in enumerate(self.outputs):
                xa, ya = self._axes(i)
                common = {"type": "scatter", "mode": "lines", "x": times, "xaxis": xa, "yaxis": ya,
                          "legendgroup": key, "line": {"width": 0, "color": fill}, "hoverinfo": "skip"}
                out.append({**common, "y": bands.percentiles[lo][var].tolist(), "showlegend": False,
                            "name": f"{label} (low)", "meta": {"variable": var, "run": key, "edge": "low"}})
                out.append({**common, "y": bands.percentiles[hi][var].tolist(), "showlegend": i == 0,
                            "name": label, "fill": "tonexty", "fillcolor": fill,
                            "meta": {"variable": var, "run": key, "edge": "high"}})
        if median is not None:
            frame = pd.DataFrame({v: bands.percentiles[median][v] for v in self.outputs}, index=bands.times)
            out += self._line(frame, "Median of uncertain runs", "band:median", CURRENT_COLOUR, 1.2, "dot")
        return out

    def figure(self, settings: Settings, show: Sequence[str] = (), bands: Bands | None = None) -> dict[str, Any]:
        """The dashboard: one panel per output; baseline, chosen scenarios, bands and the current setting."""
        data: list[dict[str, Any]] = []
        if bands is not None:
            data += self._band_traces(bands)
        base_label = "Baseline (with --set)" if self.sets else "Baseline (model as is)"
        data += self._line(self.baseline, base_label, BASELINE, BASELINE_COLOUR, 2.0, "dash")
        with self._lock:
            runs = [(n, self.scenarios[n], self._scenario_runs[n]) for n in show if n in self.scenarios]
        for k, (name, scen, frame) in enumerate(runs):
            colour = [c for c in PALETTE[1:] if c != CURRENT_COLOUR][k % (len(PALETTE) - 2)]
            data += self._line(frame, scen.label, f"scenario:{name}", colour, 1.6)
        data += self._line(self.run(settings), "Current setting", "current", CURRENT_COLOUR, 3.0)
        return {"data": data, "layout": dict(self._layout)}

    # ------------------------------------------------------------------ callbacks
    def update(self, values: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]] | None = None,
               show: Sequence[str] | None = (), uncertainty: bool = False) -> Update:
        """Validate the controls, run, and build the figure; never raises.

        Returns
        -------
        Update
            With ``figure`` None and a ``message`` when the input is rejected.
        """
        t = time.perf_counter()
        try:
            settings = self.parse(values, steps)
            show_list = [str(s) for s in (show or []) if isinstance(s, str)]
            bands = None
            note = ""
            if uncertainty:
                try:
                    bands = self.bands(settings)
                    note = (f"; bands: {bands.n} runs varying {len(bands.varied)} uncertain parameters "
                            f"(seed {bands.seed})")
                    if bands.held:
                        note += f", holding {', '.join(bands.held)} at your setting"
                except PvsdError as exc:
                    return Update(self.figure(settings, show_list), str(exc), "", settings)
            fig = self.figure(settings, show_list, bands)
        except PvsdError as exc:
            return Update(None, str(exc))
        except Exception as exc:  # never let a callback take the page down
            return Update(None, f"Not applied: {type(exc).__name__}: {exc}")
        ms = (time.perf_counter() - t) * 1000
        changed = len(settings.changed())
        what = "model as is" if settings.is_baseline else f"{changed} lever{'s' * (changed != 1)} changed"
        return Update(fig, "", f"Updated in {ms:.0f} ms ({what}{note}).", settings)

    def save(self, name: Any, values: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]] | None = None,
             description: str = "") -> tuple[bool, str]:
        """Append the current setting as scenario ``name`` to :attr:`save_to`; never raises.

        Returns
        -------
        (ok, message)
        """
        try:
            path, key = self.save_scenario(name, self.parse(values, steps), description)
        except PvsdError as exc:
            return False, str(exc)
        except Exception as exc:
            return False, f"Could not save: {type(exc).__name__}: {exc}"
        return True, f"Saved scenario {key!r} to {path}."

    def scenario_key(self, name: Any) -> str:
        """The TOML key for a scenario title (lower case, underscores)."""
        if not isinstance(name, str) or not _NAME_OK.match(name.strip()):
            raise ScenarioError(
                "Give the scenario a name of 1 to 80 letters, digits, spaces or simple punctuation "
                f"(got {str(name)[:40]!r})."
            )
        key = re.sub(r"\W+", "_", name.strip().lower()).strip("_")
        if not key:
            raise ScenarioError(f"The scenario name {name!r} needs at least one letter or digit.")
        if key == BASELINE:
            raise ScenarioError(f"{BASELINE!r} is reserved for the model's own settings; choose another name.")
        return key

    def save_scenario(self, name: str, settings: Settings, description: str = "") -> tuple[Path, str]:
        """Append ``settings`` as a scenario to :attr:`save_to` (created if missing).

        Other scenarios and comments in the file are kept: the new table is
        appended to the text, and the whole file is checked (parsed and
        validated against the model) before it is written atomically.

        Returns
        -------
        (path, key)

        Raises
        ------
        ScenarioError
            Bad name, name taken, or the existing file is not a valid scenario file.
        """
        import tomli_w

        from pvsd.io import write_text
        from pvsd.scenarios import scenarios_from_dict

        key = self.scenario_key(name)
        path = self.save_to
        old = ""
        if path.exists():
            try:
                old = path.read_text(encoding="utf-8")
                existing = tomllib.loads(old)
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ScenarioError(f"Cannot add to {str(path)!r}: it is not a readable TOML file ({exc}); "
                                    "fix or move it first.") from None
            if key in (existing.get("scenarios") or {}):
                raise ScenarioError(f"{str(path)!r} has a scenario {key!r} already; choose another name.")
        stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        desc = description or f"Saved from pvsd explore ({self.model.name}) on {stamp}."
        scen = self._saved_scenario(settings, key, name.strip(), desc)
        head = ""
        if not old.strip():
            years = [_toml_number(y) for y in (list(self.compare_years) or self._default_years())]
            head = ("# Scenarios saved from `pvsd explore`; compare them with\n"
                    f"#   pvsd scenarios {self.model.path.name} {path.name}\n\n")
            head += tomli_w.dumps({"compare": {"outputs": list(self.outputs), "years": years}}) + "\n"
        text = (old.rstrip("\n") + "\n\n" if old.strip() else head) + _toml_block(key, scen.to_toml_table())
        try:
            sset = scenarios_from_dict(tomllib.loads(text), source=path, model=self.model)
        except PvsdError as exc:
            raise ScenarioError(f"Not saved: the file would not be a valid scenario file: {exc}") from None
        write_text(path, text)
        self._add_scenario(sset[key])
        return path, key

    def _saved_scenario(self, settings: Settings, key: str, title: str, description: str) -> Scenario:
        """``settings`` as a scenario that replays the run: the ``--set`` values are in it."""
        import dataclasses

        scen = settings.to_scenario(key, title=title, description=description)
        if not self.sets:
            return scen
        params = self.params(settings)
        levers = {n: params[n] for n in scen.levers}
        constants = {**{k: v for k, v in self.sets.items() if k not in levers}, **dict(scen.constants)}
        note = " With --set " + ", ".join(f"{k}={v:g}" for k, v in self.sets.items()) + "."
        return dataclasses.replace(scen, constants=constants, levers=levers,
                                   description=scen.description + note)

    def _default_years(self) -> list[float]:
        t0, t1 = self.model.initial_time, self.model.final_time
        return [t0, float(round((t0 + t1) / 2)), t1]

    def scenario_options(self) -> list[dict[str, str]]:
        """Checklist options for the overlays: label and name of each loaded scenario."""
        with self._lock:
            return [{"label": s.label, "value": n} for n, s in self.scenarios.items()]

    def report(self, settings: Settings, show: Sequence[str] = (), uncertainty: bool = False) -> Report:
        """A self-contained HTML report of the current charts and settings."""
        import plotly.graph_objects as go

        from pvsd import __version__
        from pvsd.document import Report

        bands = self.bands(settings) if uncertainty and self.uncertainty_available else None
        fig_dict = self.figure(settings, show, bands)
        fig = go.Figure(fig_dict)
        fig.update_layout(height=300 * self._grid()[0] + 120)
        result = self.run_result(settings)
        prov = dict(result.provenance)
        prov.setdefault("pvsd_version", __version__)
        if self.sets:
            prov["set"] = dict(self.sets)
        rep = Report(title=f"What-if: {self.model.name}",
                     subtitle=f"Exported from pvsd explore on {_dt.datetime.now():%Y-%m-%d %H:%M}",
                     provenance=prov)
        rep.section("Settings")
        if self.sets:
            rep.add_text("Run with --set " + ", ".join(f"{k}={v:g}" for k, v in self.sets.items())
                         + " in every run (the baseline too); a lever's \"model value\" below is its --set value.")
        rows = []
        for lv in self.levers:
            cur = dict(settings.values).get(lv.name, lv.default)
            step = next((f"step to {lv.fmt(to)} in {yr:g}" for n, yr, to in settings.steps if n == lv.name), "")
            if cur != lv.default or step:
                rows.append((lv.name, lv.units, lv.default, cur, step))
        if rows:
            table = pd.DataFrame(rows, columns=["lever", "units", "model value", "your value", "change"])
            rep.add_table(table.set_index("lever"), caption="Levers changed from the model's own values.",
                          name="settings")
        else:
            rep.add_text("Every lever is at the model's own value (the baseline)." if not self.sets else
                         "Every lever is at its starting value (the baseline with --set).")
        rep.section("Charts")
        cap = "Current setting (thick line) against the baseline (dashed) and the scenarios shown."
        if bands is not None:
            cap += (f" Shaded: Monte Carlo percentiles of {bands.n} runs (seed {bands.seed}) varying "
                    f"{', '.join(bands.varied)}.")
        rep.add_figure(fig, "dashboard", caption=cap)
        rep.section("Key numbers")
        years = list(self.compare_years) or self._default_years()
        cur = self.run(settings)
        rows2 = []
        for var in self.outputs:
            for y in years:
                b = float(np.interp(y, self.baseline.index, self.baseline[var]))
                c = float(np.interp(y, cur.index, cur[var]))
                rows2.append((var, f"{y:g}", b, c, c - b))
        rep.add_table(pd.DataFrame(rows2, columns=["variable", "year", "baseline", "current", "difference"])
                      .set_index(["variable", "year"]), name="key_numbers")
        return rep

    def export(self, values: Mapping[str, Any], steps: Mapping[str, Mapping[str, Any]] | None = None,
               show: Sequence[str] = (), uncertainty: bool = False) -> tuple[str | None, str]:
        """The report as one HTML string, or None and a message; never raises."""
        try:
            html_text = self.report(self.parse(values, steps), show, uncertainty).render()
        except PvsdError as exc:
            return None, str(exc)
        except Exception as exc:
            return None, f"Could not export: {type(exc).__name__}: {exc}"
        return html_text, ""
