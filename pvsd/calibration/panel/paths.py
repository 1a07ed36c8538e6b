"""Fittable time-varying lever paths of a panel: a step's year and size, a ramp.

Spec form (each piece is a number, fixed, or a table, fitted with its own scope
and bounds)::

    [parameters."Reform Effort"]
    path = "step"
    at = { scope = "unit", lower = 2005, upper = 2018 }   # the step's year
    to = { scope = "shared", lower = 0, upper = 1 }       # the value after the step
    from = 0                                              # optional; default: the model's value

    [parameters."Service Push"]
    path = "ramp"
    start = { scope = "unit", lower = 2004, upper = 2012 }
    duration = { scope = "shared", lower = 1, upper = 8 } # or end = {...} (a year)
    to = { scope = "unit", lower = 0, upper = 0.1 }

How a step is fitted. Under Euler integration at TIME STEP ``dt`` a hard step's
effect on the run is piecewise constant in its year (the year moves nothing
until it crosses a point of the time grid), so a finite-difference Jacobian
sees zero gradient and the year cannot be fitted. For fitting, the step at year
``a`` is a linear change over the one time step that ends at ``a``: the lever
is ``from`` before ``a - dt``, ``to`` from ``a`` on. On a grid year this is
exactly the hard step; between grid points, each Euler interval sees the share
of it that lies after ``a`` (the interval's time average of the hard step),
so the run is continuous and piecewise linear in ``a``. Fitted paths are
reported both as the hard step (``{ step = a, to = .. }``, for reading) and as
the exact ramp the fit ran (``{ ramp = [a - dt, a], to = .. }``), which
reproduces the fitted trajectories in a scenario. Ramps need no smoothing: a
ramp's run is continuous in its start, end and value already.

The run is continuous but only piecewise smooth in a year (a kink at every
point of the time grid), and the sum of squares can have local minima in it;
the fit restarts every unit from spread years (:func:`pvsd.calibration.panel.fit.
fit_point`). Wald intervals of fitted years came out about 15% too narrow on
synthetic panels (calibration/README.md has the numbers).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pvsd.errors import SpecError

__all__ = ["PATHS", "PathParam", "PathPiece", "parse_path", "path_function", "path_table"]

#: pieces of each path kind; ``end`` and ``duration`` of a ramp are alternatives
PATHS: dict[str, tuple[str, ...]] = {"step": ("at", "to", "from"),
                                     "ramp": ("start", "end", "duration", "to", "from")}
_TIME_PIECES = ("at", "start", "end")


@dataclass(frozen=True)
class PathPiece:
    """One piece of a path: fixed (``value``) or fitted (``scope`` and bounds)."""

    piece: str
    scope: str | None  # None: fixed at value
    lower: float = math.nan
    upper: float = math.nan
    value: float | None = None

    @property
    def fitted(self) -> bool:
        return self.scope is not None


@dataclass(frozen=True)
class PathParam:
    """A model constant whose value follows a fitted step or ramp."""

    name: str
    kind: str  # "step" | "ramp"
    pieces: tuple[PathPiece, ...]

    def piece(self, name: str) -> PathPiece | None:
        return next((p for p in self.pieces if p.piece == name), None)

    @property
    def scope(self) -> str:
        """The widest scope of its pieces (``unit`` if any piece varies by unit)."""
        scopes = {p.scope for p in self.pieces if p.fitted}
        return "unit" if scopes & {"unit", "pooled"} else "shared"


def _piece(param: str, piece: str, v: Any, where: str) -> PathPiece:
    from pvsd.calibration.panel.spec import _bounds, _num, _scope

    w = f"{where}: {piece}"
    if isinstance(v, Mapping):
        bad = sorted(set(v) - {"scope", "lower", "upper", "value"})
        if bad:
            raise SpecError(f"{w}: unknown key(s) {bad}; a fitted piece is a table "
                            "{ scope = \"unit\", lower = .., upper = .. } (optional value = a start).")
        if "lower" not in v or "upper" not in v:
            raise SpecError(f"{w}: a fitted piece needs lower and upper bounds, e.g. {piece} = "
                            "{ scope = \"unit\", lower = .., upper = .. }.")
        lo, hi = _bounds(piece, v["lower"], v["upper"], where)
        val = v.get("value")
        if val is not None:
            val = _num(val, f"{w} value")
            if not lo <= val <= hi:
                raise SpecError(f"{w}: starting value {val:g} lies outside its bounds "
                                f"[{lo:g}, {hi:g}].")
        return PathPiece(piece, _scope(v.get("scope", "shared"), w), lo, hi, val)
    return PathPiece(piece, None, value=_num(v, f"{w} (a number, fixed, or a table "
                                                "{ scope = .., lower = .., upper = .. }, fitted)"))


def _span(p: PathPiece) -> tuple[float, float]:
    return (p.lower, p.upper) if p.fitted else (float(p.value), float(p.value))  # type: ignore[arg-type]


def parse_path(name: str, t: Mapping[str, Any], where: str) -> PathParam:
    """Validate a ``path = "step" | "ramp"`` parameter table (``where`` names the table)."""
    kind = str(t.get("path", "")).strip().lower()
    if kind not in PATHS:
        raise SpecError(f"{where}: path = {t.get('path')!r} is not a path kind; use path = \"step\" "
                        "(pieces at, to, optional from) or path = \"ramp\" (start, end or duration, "
                        "to, optional from).")
    allowed = set(PATHS[kind]) | {"path", "description"}
    bad = sorted(set(t) - allowed)
    if bad:
        hint = ""
        if set(bad) & {"scope", "lower", "upper", "value"}:
            hint = (" A path has no scope or bounds of its own: give them to each piece, e.g. "
                    + ("at = { scope = \"unit\", lower = 2005, upper = 2018 }." if kind == "step"
                       else "start = { scope = \"unit\", lower = 2004, upper = 2012 }."))
        elif "from_first" in bad:
            hint = " from_first sets a constant per unit; it cannot drive a path."
        raise SpecError(f"{where}: unknown key(s) {bad} for path = \"{kind}\"; allowed: "
                        f"{', '.join(sorted(allowed))}.{hint}")
    need = ("at", "to") if kind == "step" else ("start", "to")
    for key in need:
        if key not in t:
            raise SpecError(f"{where}: path = \"{kind}\" needs {key} = a number (fixed) or "
                            f"{{ scope = .., lower = .., upper = .. }} (fitted).")
    if kind == "ramp" and ("end" in t) == ("duration" in t):
        raise SpecError(f"{where}: a ramp needs exactly one of end (a year) and duration (years); "
                        f"got {'both' if 'end' in t else 'neither'}.")
    pieces = tuple(_piece(name, k, t[k], where) for k in PATHS[kind] if k in t)
    out = PathParam(name, kind, pieces)
    if kind == "ramp":
        s_lo, s_hi = _span(out.piece("start"))  # type: ignore[arg-type]
        if "end" in t:
            e_lo, e_hi = _span(out.piece("end"))  # type: ignore[arg-type]
            if e_hi <= s_lo:
                raise SpecError(f"{where}: the ramp ends (end at most {e_hi:g}) before it starts "
                                f"(start at least {s_lo:g}); end must be a later year than start.")
            if e_lo <= s_hi:
                raise SpecError(
                    f"{where}: the bounds of end [{e_lo:g}, {e_hi:g}] reach below those of start "
                    f"[{s_lo:g}, {s_hi:g}], so some fitted ramps would end before they start. Make "
                    "end's lower bound above start's upper bound, or fit duration = { lower = .., "
                    "upper = .. } (years) instead of end.")
        else:
            d_lo, _ = _span(out.piece("duration"))  # type: ignore[arg-type]
            if d_lo <= 0:
                raise SpecError(f"{where}: a ramp's duration must be positive (it would end before "
                                f"it starts); its lower bound is {d_lo:g}.")
    return out


def check_times(p: PathParam, t0: float, t1: float, where: str) -> None:
    """Every year of a path (fixed or its bounds) must lie inside the run [t0, t1]."""
    for pc in p.pieces:
        if pc.piece not in _TIME_PIECES:
            continue
        lo, hi = _span(pc)
        if lo < t0 - 1e-9 or hi > t1 + 1e-9:
            raise SpecError(f"{where}: {pc.piece} of the {p.kind} spans [{lo:g}, {hi:g}], outside "
                            f"the run [{t0:g}, {t1:g}]; a year outside the run has no effect on "
                            "the data and cannot be fitted. Narrow its bounds.")


def path_function(kind: str, vals: Mapping[str, float], dt: float) -> tuple[tuple[float, float],
                                                                             tuple[float, float]]:
    """The fitting form of a path as piecewise-linear points ``((t_a, t_b), (from, to))``.

    A step at ``a`` is a linear change over ``[a - dt, a]`` (see the module docstring).
    """
    v0, v1 = float(vals["from"]), float(vals["to"])
    if kind == "step":
        a = float(vals["at"])
        return (a - dt, a), (v0, v1)
    s = float(vals["start"])
    e = float(vals["end"]) if "end" in vals else s + float(vals["duration"])
    return (s, max(e, s + 1e-9)), (v0, v1)


def path_table(name: str, kind: str, vals: Mapping[str, float], dt: float) -> dict[str, Any]:
    """One row of the fitted-path table: pieces, and the scenario-ready inline tables."""
    from pvsd.timefunc import Ramp, Step

    def toml(d: Mapping[str, object]) -> str:
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in d.items()) + " }"

    row: dict[str, Any] = {"parameter": name, "path": kind, "from": vals["from"], "to": vals["to"]}
    (ta, tb), (v0, v1) = path_function(kind, vals, dt)
    if kind == "step":
        row["at"] = vals["at"]
        row["scenario"] = toml(Step(float(vals["at"]), v1, v0).to_toml())
    else:
        row["start"], row["end"] = ta, tb
    row["scenario_exact"] = toml(Ramp(ta, tb, v1, v0).to_toml())
    return row


def _toml_value(v: object) -> str:
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(float(v)) if isinstance(v, (float, int, np.floating)) else repr(v)


def fitted_paths(pb: Any, x: np.ndarray) -> Any:
    """One row per (unit, path parameter): the fitted pieces and scenario-ready forms."""
    import pandas as pd

    if not pb.paths:
        return pd.DataFrame()
    s, U = pb.split(x)
    rows = pb.rows(np.tile(s, (pb.n_units, 1)), U, pb.all_units())
    out = []
    for b, vals in rows.paths:
        for i, u in enumerate(pb.units):
            v = {**b.fixed, **{k: float(a[i]) for k, a in vals.items()}}
            v.setdefault("from", float(b.baseline[i]))
            variable = label_for(pb, b.variable, u)
            out.append({"unit": u, "variable": variable, **path_table(b.variable, b.kind, v, pb.dt)})
    cols = ["unit", "parameter", "variable", "path", "from", "at", "start", "end", "to", "scenario",
            "scenario_exact"]
    df = pd.DataFrame(out)
    return df[[c for c in cols if c in df]]


def label_for(pb: Any, variable: str, unit: str) -> str:
    """The model name a unit's value of ``variable`` has (``Var[unit]`` on a unit dimension)."""
    from pvsd.arrays import label

    return label(variable, (unit,)) if pb.dim is not None and variable in pb._arrayed else variable


def scenario_file(pb: Any, shared: Any, estimates: Any, paths: Any) -> str:
    """A scenario file (TOML) reproducing each unit's fitted run: ``pvsd scenarios`` reads it.

    Scalar model: one scenario per unit (its constants and exact paths). Subscripted
    model with a unit dimension: one scenario ``fitted`` setting every unit's element.
    """
    def key(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    model_names = {e.name for e in pb.shared + pb.per_unit if e.kind == "model"}
    sh = {r.parameter: float(r.value) for r in shared.itertuples(index=False)
          if r.parameter in model_names}
    lines = ["# Fitted panel runs as pvsd scenarios (levers: the exact fitted form, a step as a",
             "# linear change over the last time step before its year; see pvsd.calibration.panel"
             ".paths).", ""]

    def block(name: str, settings: dict[str, float], levers: dict[str, str]) -> None:
        lines.append(f"[scenarios.{key(name)}]")
        lines.append("set = { " + ", ".join(f"{key(k)} = {v!r}" for k, v in settings.items()) + " }")
        if levers:
            lines.append(f"[scenarios.{key(name)}.levers]")
            lines.extend(f"{key(k)} = {v}" for k, v in levers.items())
        lines.append("")

    per = estimates[estimates["parameter"].isin(model_names)] if len(estimates) else estimates
    ff = dict(pb.from_first)
    if pb.dim is None:
        for i, u in enumerate(pb.units):
            st = dict(sh)
            if len(per):
                st.update({r.parameter: float(r.value) for r in per[per["unit"] == u]
                           .itertuples(index=False)})
            st.update({k: float(v[i]) for k, v in ff.items()})
            lv = {} if not len(paths) else {r.variable: r.scenario_exact for r in
                                           paths[paths["unit"] == u].itertuples(index=False)}
            block(f"fitted_{u}", st, lv)
    else:
        st = dict(sh)
        if len(per):
            st.update({label_for(pb, r.parameter, r.unit): float(r.value)
                       for r in per.itertuples(index=False)})
        for k, v in ff.items():
            st.update({label_for(pb, k, u): float(v[i]) for i, u in enumerate(pb.units)})
        lv = {} if not len(paths) else {r.variable: r.scenario_exact
                                       for r in paths.itertuples(index=False)}
        block("fitted", st, lv)
    return "\n".join(lines)
