"""IR builtins on Python floats, as PySD computes them (see :mod:`pvsd.engine.ir`).

Lookups, pulses, XIDZ/ZIDZ/QUANTUM and the other functions the scalar evaluator
(:meth:`pvsd.engine.ir.ModelIR.evaluate`) calls; :data:`SUPPORTED_FUNCS` lists the
builtin function names the IR (and the numpy back end) know.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pvsd.engine.ir_nodes import SMALL_VENSIM, LookupTable

# ----------------------------------------------------------------------------
# Builtins on floats (PySD semantics)
# ----------------------------------------------------------------------------


def lookup_scalar(table: LookupTable, x: float, inline: bool = False) -> float:
    """Evaluate a lookup table at ``x`` like PySD does for floats."""
    xs, ys = table.x, table.y
    mode = "interpolate" if inline else table.mode
    if x in xs:
        return float(ys[xs.index(x)])
    if x > xs[-1]:
        if mode == "extrapolate" and len(xs) > 1:
            k = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
            return ys[-1] + k * (x - xs[-1])
        return float(ys[-1])
    if x < xs[0]:
        if mode == "extrapolate" and len(xs) > 1:
            k = (ys[1] - ys[0]) / (xs[1] - xs[0])
            return ys[0] + k * (x - xs[0])
        return float(ys[0])
    if x != x:
        return math.nan
    lo = 0
    while lo + 1 < len(xs) and xs[lo + 1] <= x:
        lo += 1
    if mode == "hold_backward":
        return float(ys[lo])
    slope = (ys[lo + 1] - ys[lo]) / (xs[lo + 1] - xs[lo])
    return slope * (x - xs[lo]) + ys[lo]


def _truthy(x: Any) -> bool:
    return bool(x)


def _pulse_scalar(f: str, args: list[Any], t: float, dt: float) -> float:
    start = args[0]
    repeat, width, magnitude, end = 0.0, None, None, None
    if f == "pulse":
        width = args[1]
    elif f == "Xpulse":
        magnitude = args[1]
    elif f == "pulse_train":
        repeat, width, end = args[1], args[2], args[3]
    else:
        repeat, magnitude = args[1], args[2]
    width = 0.5 * dt if width is None else width
    out = magnitude / dt if magnitude is not None else 1
    if repeat == 0:
        return out if start - SMALL_VENSIM <= t < start + width else 0
    if start <= t and (end is None or t < end):
        return out if (t - start + SMALL_VENSIM) % repeat < width else 0
    return 0


def _xidz(a: float, b: float, x: float) -> float:
    return x if abs(b) < SMALL_VENSIM else a / b


def _zidz(a: float, b: float) -> float:
    return 0 if abs(b) < SMALL_VENSIM else a / b


def _quantum(a: float, b: float) -> float:
    return a if b < SMALL_VENSIM else b * int(a / b)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "^": lambda a, b: a**b,
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}

_SCALAR_FUNCS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "exp": math.exp,
    "ln": math.log,
    "log": lambda a, b: math.log(a) / math.log(b),
    "sqrt": math.sqrt,
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "arcsin": math.asin,
    "arccos": math.acos,
    "arctan": math.atan,
    "sinh": math.sinh,
    "cosh": math.cosh,
    "tanh": math.tanh,
    "power": math.pow,
    "pi": lambda: math.pi,
    "integer": lambda a: float(int(a)),
    "quantum": _quantum,
    "modulo": lambda a, b: a - _quantum(a, b),
    "xidz": _xidz,
    "zidz": _zidz,
    # SUM/PROD/VMIN/VMAX of a scalarised arrayed model (NaN skipped, as xarray in PySD)
    "pow_real": lambda a, b: complex(a ** b).real if a < 0 else a ** b,
    "nansum": lambda *a: math.fsum(x for x in a if x == x) if a else 0.0,
    "nanprod": lambda *a: math.prod(x for x in a if x == x),
    "nanmin": lambda *a: min((x for x in a if x == x), default=math.nan),
    "nanmax": lambda *a: max((x for x in a if x == x), default=math.nan),
}

#: Builtin function names the IR (and the numpy back end) know.
SUPPORTED_FUNCS = frozenset(_SCALAR_FUNCS) | {
    "if_then_else",
    "active_initial",
    "step",
    "ramp",
    "Xramp",
    "pulse",
    "Xpulse",
    "pulse_train",
    "Xpulse_train",
}
