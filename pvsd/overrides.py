"""Say what a setting does when it is not the plain "change a constant" case.

Vensim lets an analyst override any equation in a what-if; pvsd allows it too, but
never silently: replacing an auxiliary's or flow's equation cuts it off from the
variables that drive it, and a lever whose change falls outside the simulated
period changes nothing. Both are warned about, naming the variable and what happens.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from pvsd.errors import EquationOverrideWarning, IneffectiveSettingWarning
from pvsd.timefunc import PiecewiseLinear

__all__ = ["check_sets", "fix_constants", "range_note", "resolve_sets", "scenario_with_sets", "warn_equation_override",
           "warn_ineffective_levers", "widen_ranges"]


def warn_equation_override(canonical: str, kind: str, where: str) -> None:
    """Warn that setting an auxiliary or flow replaces its equation."""
    if kind not in ("aux", "flow"):
        return
    warnings.warn(
        f"{where}: {canonical!r} is {'an auxiliary' if kind == 'aux' else 'a flow'}, not a "
        "constant: the value given replaces its equation for the whole run, so the variables "
        "that normally drive it no longer affect it (feedback through it is cut). If you meant "
        "a what-if on its inputs, set the constants it depends on instead (see Model.variables).",
        EquationOverrideWarning,
        stacklevel=4,
    )


def warn_ineffective_levers(model: Any, merged: Mapping[str, Any], t0: float, t1: float,
                            dt: float) -> None:
    """Warn about time-varying settings that equal the model's value over the whole run."""
    grid = np.arange(t0, t1 + 0.5 * dt, dt) if dt > 0 else np.array([t0, t1])
    for name, value in merged.items():
        if not isinstance(value, PiecewiseLinear) or model.kind(name) == "lookup":
            continue
        try:
            base = float(model.default(name))
        except Exception:  # arrayed or data-driven defaults: nothing simple to compare with
            continue
        if not np.isfinite(base):
            continue
        inside = np.asarray(value(grid), float)
        if np.allclose(inside, base, rtol=1e-12, atol=0) and not np.allclose(
                np.asarray(value.y, float), base, rtol=1e-12, atol=0):
            xs = np.asarray(value.x, float)
            warnings.warn(
                f"The time-varying setting of {name!r} changes nothing in this run: its changes "
                f"are at t = {xs.min():g}..{xs.max():g}, outside the simulated period "
                f"{t0:g}..{t1:g} (where it keeps the model's value {base:g}). Move the step or "
                "ramp into the run, or extend final_time.",
                IneffectiveSettingWarning,
                stacklevel=3,
            )


def widen_ranges(model: Any, ranges: Mapping[str, tuple[float | None, float | None]]) -> Any:
    """A copy of ``model`` whose declared ``[min, max]`` of some constants is widened.

    Vensim treats a constant's range as the slider range of a what-if, not as a law
    of nature; a sensitivity or calibration spec that states explicit bounds may
    reach beyond it. The copy shares everything else (translation, engine) with
    ``model``; ``model`` itself stays strict.
    """
    import copy
    import math

    if not ranges:
        return model
    out = copy.copy(model)
    table = model._table.copy()
    for name, (lo, hi) in ranges.items():
        row = table["name"] == name
        if lo is not None and math.isfinite(lo):
            table.loc[row, "min"] = min(float(table.loc[row, "min"].iloc[0]), lo) \
                if math.isfinite(float(table.loc[row, "min"].iloc[0])) else table.loc[row, "min"]
        if hi is not None and math.isfinite(hi):
            table.loc[row, "max"] = max(float(table.loc[row, "max"].iloc[0]), hi) \
                if math.isfinite(float(table.loc[row, "max"].iloc[0])) else table.loc[row, "max"]
    out._table = table
    out._range_note = range_note(model, ranges)  # reports of the study say what was widened
    return out


def range_note(model: Any, ranges: Mapping[str, tuple[float | None, float | None]]) -> str:
    """One sentence for reports: which declared ranges the spec's bounds override."""
    t = model._table.set_index("name")
    parts = []
    for name, (lo, hi) in ranges.items():
        dlo, dhi = float(t.loc[name, "min"]), float(t.loc[name, "max"])
        parts.append(f"{name} [{lo:g}, {hi:g}] (model declares [{dlo:g}, {dhi:g}])".replace("nan", "none"))
    return ("The spec's explicit bounds go beyond the ranges the model file declares for: "
            + "; ".join(parts) + ". Those ranges were widened for this study only.")


def fix_constants(model: Any, sets: Mapping[str, float], where: str = "--set") -> Any:
    """A copy of ``model`` whose every run holds some constants at given values.

    This is ``--set`` for commands whose runs happen deep inside an analysis (policy
    search, scenario discovery): every :meth:`~pvsd.Model.run`, ensemble and loop
    analysis of the copy applies ``sets`` on top of its scenario and ``params``
    (``--set`` over all). Values sampled per member of an ensemble still win, so a
    caller refuses names it also samples. The values are checked (names resolved,
    declared ranges) here, before anything runs, and recorded in every run's
    provenance like any other setting. ``model`` itself is unchanged.
    """
    import copy

    if not sets:
        return model
    fixed = dict(getattr(model, "_fixed", {}))
    for name, value in sets.items():
        canonical, _ = model.check_param(name, value, where=where)
        fixed[canonical] = value
    out = copy.copy(model)
    out._fixed = fixed
    return out


def check_sets(model: Any, sets: Mapping[str, float], where: str = "--set") -> dict[str, float]:
    """``--set`` values by canonical name, each checked (name resolved, declared range).

    Raises
    ------
    ParameterError
        An unknown name or a value outside the range the model declares.
    """
    out: dict[str, float] = {}
    for name, value in (sets or {}).items():
        canonical, _ = model.check_param(name, value, where=where)
        out[canonical] = float(value)
    return out


def resolve_sets(model: Any, sets: Mapping[str, float]) -> dict[str, float]:
    """``--set`` values by canonical name, each checked against the model's declared range
    here, so an error names --set rather than the scenario or run it is later folded into."""
    out = {}
    for k, v in sets.items():
        name = model.resolve(k, where="--set")
        model.check_param(name, v, where="--set")
        out[name] = v
    return out


def scenario_with_sets(model: Any, scenario: Any, sets: Mapping[str, float]) -> Any:
    """``scenario`` with ``--set`` on top: the values replace the scenario's constant and its
    lever for the same variable ("--set over all"). Without a scenario, one named "set"."""
    import dataclasses

    from pvsd.scenarios import Scenario

    if not sets:
        return scenario
    sets = resolve_sets(model, sets)
    if scenario is None:
        return Scenario(name="set", title="--set " + ", ".join(f"{k}={v:g}" for k, v in sets.items()),
                        constants=sets)
    names = set(sets)

    def keep(items: Any) -> dict[str, Any]:
        return {k: v for k, v in items if model.resolve(k) not in names}

    return dataclasses.replace(scenario, constants={**keep(scenario.constants.items()), **sets},
                               levers=keep(scenario.levers.items()))
