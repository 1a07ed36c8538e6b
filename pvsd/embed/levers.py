"""Policy levers: the constants a reader may move, with their ranges."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pvsd.errors import ParameterError

__all__ = ["Lever", "levers"]


@dataclass(frozen=True)
class Lever:
    """One constant offered as a slider.

    Attributes
    ----------
    name, py_name
        Model-file and Python name.
    default, lo, hi, step
        Model value, range and slider step.
    units, comment
        From the model file.
    primary
        A policy lever (shown first); False for other parameters with a range.
    declared
        The range is declared in the model file (``[min,max]`` in the units
        field); False when pvsd derived it from the model value.
    """

    name: str
    py_name: str
    default: float
    lo: float
    hi: float
    step: float
    units: str
    comment: str
    primary: bool
    declared: bool


def _step(lo: float, hi: float, incr: Any) -> float:
    if isinstance(incr, (int, float)) and math.isfinite(incr) and incr > 0:
        return float(incr)
    if hi - lo <= 0:
        return 1.0
    from pvsd.lever_tags import grid_step  # the explorer's grid, so both sliders reach their ends

    return grid_step(lo, hi)


def _derived_range(default: float, lo: float, hi: float) -> tuple[float, float]:
    if default > 0:
        a, b = 0.0, 2 * default
    elif default < 0:
        a, b = 2 * default, 0.0
    else:
        a, b = 0.0, 1.0
    if math.isfinite(lo):
        a = max(a, lo)
    if math.isfinite(hi):
        b = min(b, hi)
    if b <= a:
        b = a + (abs(default) or 1.0)
    return a, b


def levers(model: Any, names: Sequence[str] | None = None) -> list[Lever]:
    """The sliders of a model.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`.
    names
        Constants to offer (default: every constant with a declared ``[min, max]``
        range; the policy levers of :mod:`pvsd.lever_tags` are marked ``primary``). When the model
        declares no range at all, every constant is offered with a range of 0 to
        twice its value (``declared=False``).

    Returns
    -------
    list of Lever
        Primary levers first, each group in model-name order.

    Raises
    ------
    ParameterError
        A name in ``names`` is not a constant of the model.
    """
    from pvsd.embed.sketch import vensim_groups

    table = model.variables.set_index("name")
    incr: dict[str, Any] = {}
    try:
        from pvsd.embed.js_backend import ir_of

        for v in ir_of(model).variables.values():
            if len(v.limits) > 2:
                incr[v.name] = v.limits[2]
    except Exception:  # no IR (.py model): no increments
        incr = {}
    groups = vensim_groups(model.path)
    consts = [n for n in table.index if table.loc[n, "kind"] == "constant"
              and math.isfinite(float(table.loc[n, "default"]))]
    if names:
        chosen = []
        for n in names:
            canon = model.resolve(n, where="levers")
            if canon not in consts:
                raise ParameterError(f"{canon!r} is a {model.kind(canon)}, not a constant; only constants "
                                     "can be levers.")
            chosen.append(canon)
        explicit = True
    else:
        chosen = [n for n in consts if math.isfinite(table.loc[n, "min"]) and math.isfinite(table.loc[n, "max"])]
        explicit = False
        if not chosen:
            chosen = consts
    from pvsd.lever_tags import policy_levers

    policy = policy_levers(chosen, {n: str(table.loc[n, "comment"]) for n in chosen}, groups)
    out = []
    for n in chosen:
        row = table.loc[n]
        lo, hi, default = float(row["min"]), float(row["max"]), float(row["default"])
        declared = math.isfinite(lo) and math.isfinite(hi)
        if not declared:
            lo, hi = _derived_range(default, lo, hi)
        lo, hi = min(lo, default), max(hi, default)
        comment = str(row["comment"])
        primary = explicit or n in policy
        out.append(Lever(n, str(row["py_name"]), default, lo, hi, _step(lo, hi, incr.get(n)),
                         str(row["units"]), comment, primary, declared))
    if out and not any(lv.primary for lv in out):
        out = [Lever(**{**lv.__dict__, "primary": True}) for lv in out]
    return sorted(out, key=lambda lv: (not lv.primary, lv.name.lower()))
