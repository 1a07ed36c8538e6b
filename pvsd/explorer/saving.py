"""Saving the explorer's setting as a scenario (TOML) and exporting it as an HTML report.

:class:`SavingMixin` is one base of :class:`~pvsd.explorer.core.Explorer`; its
methods use the explorer's model, settings, runs and figure.
"""

from __future__ import annotations

import datetime as _dt
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.errors import PvsdError, ScenarioError
from pvsd.explorer.state import Settings
from pvsd.scenarios import BASELINE, Scenario

if TYPE_CHECKING:
    from pvsd.document import Report

_NAME_OK = re.compile(r"^[\w][\w .,'()+&/-]{0,79}$")


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



class SavingMixin:
    """Scenario saving and report export of :class:`~pvsd.explorer.core.Explorer`."""

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
