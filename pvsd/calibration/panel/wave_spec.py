"""``[panel] estimator`` and ``[panel.state]`` of a panel spec (see :mod:`.wave`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pvsd.calibration.panel.paths import PathParam
from pvsd.calibration.panel.spec import (
    ESTIMATORS,
    InputSpec,
    PanelParam,
    PanelSeries,
    StateSpec,
    _bounds,
)
from pvsd.errors import SpecError

__all__ = ["parse_estimator"]


def _key(name: str) -> str:
    return " ".join(name.replace("_", " ").split()).lower()


def parse_estimator(panel: Mapping[str, Any], series: Sequence[PanelSeries],
               params: Sequence[PanelParam | PathParam], inputs: Sequence[InputSpec],
               dimension: Any, where: str) -> tuple[str, tuple[StateSpec, ...]]:
    """``[panel] estimator`` and its ``[panel.state]`` table, checked against the rest."""
    raw = panel.get("estimator", "path")
    est = str(raw).strip().lower().replace("_", "-") if isinstance(raw, str) else None
    if est not in ESTIMATORS:
        raise SpecError(f"{where}: [panel] estimator = {raw!r} is unknown; use \"path\" (fit each "
                        "unit's whole path from its first year, the default) or \"wave-ahead\" "
                        "(every pair of consecutive observed waves is a run that starts from the "
                        "observed state; needs a [panel.state] table).")
    table = panel.get("state")
    if est == "path":
        if table is not None:
            raise SpecError(f"{where}: [panel.state] is used by estimator = \"wave-ahead\" only; "
                            "add estimator = \"wave-ahead\" to [panel] or remove [panel.state].")
        return est, ()
    if not isinstance(table, Mapping) or not table:
        raise SpecError(f"{where}: [panel] estimator = \"wave-ahead\" needs a [panel.state] table "
                        "saying how each run's state is set from an observation, e.g. [panel.state] "
                        "\"Initial Digital Capability\" = \"osi\" (model constant = series name).")
    names = [s.name for s in series]
    state = []
    for const, v in table.items():
        w = f"{where}, [panel.state] \"{const}\""
        lo = hi = None
        if isinstance(v, Mapping):
            bad = sorted(set(v) - {"series", "lower", "upper"})
            if bad or "series" not in v:
                raise SpecError(f"{w}: a table takes series = \"NAME\" and optional lower, upper "
                                f"(the constant's search range){f'; unknown key(s) {bad}' if bad else ''}.")
            if "lower" in v or "upper" in v:
                if "lower" not in v or "upper" not in v:
                    raise SpecError(f"{w}: give both lower and upper, or neither (then the range "
                                    "declared in the model file is used).")
                lo, hi = _bounds(str(const), v["lower"], v["upper"], w)
            v = v["series"]
        if not isinstance(v, str) or v not in names:
            raise SpecError(f"{w}: names series {v!r}, which the spec does not define (series: "
                            f"{', '.join(names)}); give the name of a [series.NAME] table.")
        if any(s.diff for s in series if s.name == v):
            raise SpecError(f"{w}: series {v!r} has diff = true; a state is set from a level, not "
                            "from an increment.")
        state.append(StateSpec(str(const), v, lo, hi))
    keys = {_key(s.constant): s.constant for s in state}
    for p in params:
        w = f"{where}, [parameters.\"{p.name}\"]"
        if _key(p.name) in keys:
            raise SpecError(f"{w}: {p.name!r} is set per run by [panel.state] (estimator "
                            "\"wave-ahead\"), which would overwrite a fitted or per-unit value; "
                            "remove this [parameters] table.")
        if isinstance(p, PathParam):
            raise SpecError(f"{w}: fitted lever paths are not available with estimator "
                            "\"wave-ahead\" yet; use estimator = \"path\" or fix the lever.")
        if p.from_first is not None:
            raise SpecError(f"{w}: from_first sets a value from each unit's first observation, but "
                            "with estimator \"wave-ahead\" every run restarts from an observed "
                            "wave; set the state through [panel.state] instead.")
    for i in inputs:
        if _key(i.variable) in keys:
            raise SpecError(f"{where}, [inputs.{i.name}]: {i.variable!r} is set per run by "
                            "[panel.state]; a constant is set once.")
    bad_diff = [s.name for s in series if s.diff]
    if bad_diff:
        raise SpecError(f"{where}: series {', '.join(bad_diff)} have diff = true, which estimator "
                        "\"wave-ahead\" does not support yet (an increment may reach back before "
                        "the run's start); use estimator = \"path\".")
    if dimension is not None:
        raise SpecError(f"{where}: [panel] dimension is not available with estimator "
                        "\"wave-ahead\" yet; run the scalar model once per unit (remove "
                        "dimension) or use estimator = \"path\".")
    return est, tuple(state)
