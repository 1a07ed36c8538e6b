"""Dimensions in model cards: subscript ranges and readable text of arrayed equations.

Kept apart from :mod:`pvsd.embed.card` so that module stays small.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pvsd.engine.ir import Expr, ModelIR, Ref
from pvsd.engine.ir_arrays import Align, ARef, ArrayNum, Reduce, TableCall

__all__ = ["array_text", "arrayed_equation", "arrayed_table_text", "subscript_rows"]

_REDUCE = {"sum": "SUM", "prod": "PROD", "vmin": "VMIN", "vmax": "VMAX"}


def _fmt(v: float) -> str:
    from pvsd.embed.card import _fmt as fmt

    return fmt(v)


def _index_text(ir: ModelIR, var_dims: tuple[str, ...], index: tuple, dims: tuple[str, ...]) -> str:
    """``[Region]``, ``[A]`` or ``[Region, Young]`` for a reference's subscripts."""
    parts = []
    k = 0
    for i, ix in enumerate(index):
        if isinstance(ix, int):
            d = var_dims[i] if i < len(var_dims) else ""
            elems = ir.subscripts.get(d, ())
            parts.append(elems[ix] if ix < len(elems) else str(ix))
            continue
        lab = dims[k] if k < len(dims) else (var_dims[i] if i < len(var_dims) else "?")
        k += 1
        if ix is not None:  # a selection: the label only when it names exactly these elements
            elems = ir.subscripts.get(var_dims[i] if i < len(var_dims) else "", ())
            picked = tuple(elems[j] for j in ix if j < len(elems))
            if picked != tuple(ir.subscripts.get(lab.rstrip("!"), ())):
                lab = "{" + ", ".join(picked) + "}"
        parts.append(lab)
    return f"[{', '.join(parts)}]" if parts else ""


def array_text(e: Expr, ir: ModelIR, prec: int, sub: Callable[[Expr, int], str]) -> str | None:
    """Text of an array node of :mod:`pvsd.engine.ir_arrays` (None: not one)."""
    if isinstance(e, ARef):
        var = ir.variables.get(e.name)
        if var is None:
            return e.name
        return var.name + _index_text(ir, var.dims, e.index, e.dims)
    if isinstance(e, Align):
        return sub(e.expr, prec)
    if isinstance(e, Reduce):
        return f"{_REDUCE.get(e.func, e.func.upper())}({sub(e.expr, 0)})"
    if isinstance(e, ArrayNum):
        vals = [_fmt(v) for v in e.values]
        return vals[0] if len(set(vals)) == 1 else ", ".join(vals)
    if isinstance(e, TableCall):
        var = ir.variables.get(e.name)
        name = var.name if var is not None else e.name
        if isinstance(e.arg, Ref) and e.arg.name == "time" and var is not None and var.kind == "data":
            return name
        idx = _index_text(ir, var.dims if var is not None else (), e.index or (), e.dims) \
            if e.index else ""
        return f"{name}{idx}({sub(e.arg, 0)})"
    return None


def _block_label(ir: ModelIR, v: Any, comp: Any) -> str:
    parts = []
    for i, ix in enumerate(comp.index):
        d = v.dims[i] if i < len(v.dims) else ""
        elems = ir.subscripts.get(d, ())
        if len(ix) == 1 and len(elems) > 1:
            parts.append(elems[ix[0]])
        else:
            parts.append(comp.dims[i] if i < len(comp.dims) else d)
    return f"[{', '.join(parts)}]"


def arrayed_equation(v: Any, ir: ModelIR, text: Callable[[Expr | None], str]) -> str:
    """The equation(s) of an arrayed variable, one ``[block] = ...`` per definition."""
    comps = list(v.components)
    out = []
    for comp in comps:
        e = comp.expr
        if isinstance(e, Ref) and e.name in ir.states and ir.states[e.name].kind == "integ" \
                and v.kind == "stock":
            a = ir.states[e.name].args
            body = f"INTEG({text(a.get('flow'))}, {text(a.get('initial'))})"
        else:
            body = text(e)
        out.append(body if len(comps) == 1 else f"{_block_label(ir, v, comp)}: {body}")
    return "; ".join(out)


def arrayed_table_text(v: Any, ir: ModelIR, table_text: Callable[[Any], str]) -> str:
    """``[e1]: (table); [e2]: (table)`` for an arrayed lookup (an ArrayTable, y row-major)."""
    import itertools

    from pvsd.engine.ir_nodes import LookupTable

    t = v.lookup
    y = np.asarray(t.y, float).reshape(len(t.x), *t.shape)
    coords = [ir.subscripts.get(d, tuple(str(i) for i in range(n)))
              for d, n in zip(v.dims, t.shape, strict=False)]
    out = []
    for idx in itertools.product(*(range(n) for n in t.shape)):
        col = y[(slice(None), *idx)]
        if np.isnan(col).all():  # an element without a table
            continue
        elems = ",".join(str(coords[k][i]) if k < len(coords) else str(i) for k, i in enumerate(idx))
        x, yy = np.asarray(t.x, float), col
        if t.mode == "interpolate":  # PySD put every element on the union of their x points
            x, yy = _drop_redundant_points(x, yy)
        out.append(f"[{elems}]: {table_text(LookupTable(tuple(map(float, x)), tuple(map(float, yy))))}")
    return "; ".join(out)


def _drop_redundant_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same interpolated (end values held) function with the fewest points: drops the flat
    run before the first and after the last change and the points on a straight segment."""
    ok = np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) <= 2:
        return x, y
    tol = 1e-12 * max(1.0, float(np.abs(y).max()))
    lo, hi = 0, len(x) - 1
    while lo < hi and abs(y[lo + 1] - y[lo]) <= tol:
        lo += 1
    while hi > lo and abs(y[hi - 1] - y[hi]) <= tol:
        hi -= 1
    keep = [lo]
    for k in range(lo + 1, hi):
        a = keep[-1]
        on_line = y[a] + (y[k + 1] - y[a]) * (x[k] - x[a]) / (x[k + 1] - x[a])
        if abs(on_line - y[k]) > tol:
            keep.append(k)
    if hi != lo:
        keep.append(hi)
    return x[keep], y[keep]


def subscript_rows(subscripts: Any) -> list[tuple[str, str, int]]:
    """``(dimension, elements, count)`` rows of a model's subscript ranges."""
    return [(str(d), ", ".join(str(x) for x in elems), len(elems)) for d, elems in subscripts.items()]


def arrayed_stock(v: Any, ir: ModelIR, text: Callable[[Expr | None], str]) -> tuple[str, str]:
    """``(initial value, net flow)`` texts of an arrayed stock, per definition when several."""
    comps = list(v.components)
    inits, nets = [], []
    for comp in comps:
        e = comp.expr
        lab = f"{_block_label(ir, v, comp)}: " if len(comps) > 1 else ""
        if isinstance(e, Ref) and e.name in ir.states:
            a = ir.states[e.name].args
            inits.append(lab + text(a.get("initial")))
            nets.append(lab + text(a.get("flow")))
        else:
            inits.append(lab + text(e))
    return "; ".join(inits), "; ".join(nets)
