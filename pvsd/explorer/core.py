"""The explorer's logic, independent of Dash: settings, runs, bands, figures, saving.

Every Dash callback of :mod:`pvsd.explorer.app` is a thin wrapper around a method
of :class:`Explorer`, so the logic is tested without a browser. The methods
called by callbacks (:meth:`Explorer.update`, :meth:`Explorer.save`,
:meth:`Explorer.export`) never raise: bad input comes back as a message for the
page. The figure is built in :mod:`pvsd.explorer.figures`, saving and export
live in :mod:`pvsd.explorer.saving`, and the value types in :mod:`pvsd.explorer.state`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.errors import ParameterError, PvsdError
from pvsd.explorer.figures import FigureMixin
from pvsd.explorer.levers import Lever, discover_levers
from pvsd.explorer.saving import SavingMixin, _bundled
from pvsd.explorer.state import (
    KEY_OUTPUTS,
    Bands,
    ExplorerInputError,
    Settings,
    Update,
    _as_number,
    _BandConfig,
    _clean,
    key_outputs,
)
from pvsd.scenarios import Scenario, ScenarioSet
from pvsd.timefunc import Step

if TYPE_CHECKING:
    from pvsd.model import Model

__all__ = [
    "KEY_OUTPUTS",
    "Bands",
    "Explorer",
    "ExplorerInputError",
    "Settings",
    "Update",
    "key_outputs",
]

_CACHE_SIZE = 64


class Explorer(FigureMixin, SavingMixin):
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
        from pvsd.arrays import split_label

        self.units: dict[str, str] = {o: model.units.get(split_label(o)[0], "") for o in self.outputs}
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

    def scenario_options(self) -> list[dict[str, str]]:
        """Checklist options for the overlays: label and name of each loaded scenario."""
        with self._lock:
            return [{"label": s.label, "value": n} for n, s in self.scenarios.items()]
