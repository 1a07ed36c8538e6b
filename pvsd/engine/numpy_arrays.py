"""Arrays (subscripts) in the numpy back end.

Layout: an arrayed value of dims ``D`` is an ndarray of shape
``(*shape(D), N)`` -- the member axis LAST, so that a scalar variable (a float
or an ``(N,)`` array) broadcasts against any arrayed value without reshaping,
and an element selection ``x[2]`` is still one slice over all members. Axes
may have size 1 where a value is broadcast (constants have member axis 1).
Outputs are handed back as ``(n_times, n, *shape)`` (a moved-axis view).

The code generator :class:`ArrayGen` extends the scalar/vector generator with
the IR's array nodes; everything else (ordering, states, time loop) is shared.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pvsd.engine.ir import SMALL_VENSIM, BinOp, Call, Expr, ModelIR, Ref, Unsupported
from pvsd.engine.ir_arrays import Align, ARef, ArrayNum, ArrayTable, Reduce, TableCall

__all__ = ["ARRAY_RUNTIME", "make_array_gen", "prepare_param", "tinterp"]


def _bt(x: Any, shape: tuple[int, ...], n: int) -> np.ndarray:
    """``x`` broadcast to ``(*shape, n)`` (a read-only view; ``x`` itself when it has that shape)."""
    full = (*shape, n)
    if type(x) is np.ndarray and x.shape == full:
        return x
    return np.broadcast_to(x, full)


def _al(x: Any, perm: tuple[int, ...] | None, idx: tuple, nsrc: int) -> Any:
    """Transpose/expand a labelled array (scalar-like values pass through)."""
    if np.ndim(x) != nsrc + 1:
        return x
    if perm is not None:
        x = x.transpose(perm)
    return x[idx]


_NANRED = {"sum": np.nansum, "prod": np.nanprod, "vmin": np.nanmin, "vmax": np.nanmax}


def _red(func: str, x: Any, axes: tuple[int, ...], shape: tuple[int, ...]) -> Any:
    """SUM/PROD/VMIN/VMAX over ``axes`` skipping NaN (xarray's default in PySD)."""
    x = np.asarray(x, dtype=float)
    if x.ndim != len(shape) + 1:
        x = np.broadcast_to(x, (*shape, x.shape[-1] if x.ndim else 1))
    return _NANRED[func](x, axis=axes)


def _axidz(a: Any, b: Any, x: Any) -> Any:
    return np.where(np.abs(b) < SMALL_VENSIM, x, np.divide(a, b))


def _azidz(a: Any, b: Any) -> Any:
    return np.where(np.abs(b) < SMALL_VENSIM, 0.0, np.divide(a, b))


def _adelay_order(order: Any, dt: float, delay_time: Any, owner: str) -> int:
    """PySD's ``while order*dt > np.min(delay_time)`` per member (min over the elements)."""
    from pvsd.engine.numpy_backend import NeedsFallback, _uniform_int

    o = _uniform_int(order, "delay order", owner)
    d = np.asarray(delay_time, dtype=float)
    mins = np.unique(d.reshape(-1, d.shape[-1]).min(axis=0)) if d.ndim > 1 else np.unique(d)
    orders = set()
    for m in mins:
        k = o
        while k * dt > m:
            k -= 1
        orders.add(k)
    if len(orders) > 1:
        raise NeedsFallback([Unsupported("delay order reduced differently between members",
                                         owner, "delay time < order * TIME STEP")])
    return orders.pop()


def tinterp(t: float, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(t, xp, fp[:, j])`` for every column ``j`` of ``fp`` at once (same formula)."""
    n = len(xp)
    if t != t:
        return np.full(fp.shape[1:], np.nan)
    if t >= xp[-1]:
        return fp[-1]
    if t < xp[0] or n == 1:
        return fp[0]
    j = int(np.searchsorted(xp, t, side="right")) - 1
    if xp[j] == t:
        return fp[j]
    slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])
    return slope * (t - xp[j]) + fp[j]


def prepare_param(value: Any, shape: tuple[int, ...], name: str) -> tuple[np.ndarray, int | None]:
    """A constant override for a variable of ``shape`` in internal layout ``(*shape, n|1)``.

    ``np.ndim(value) == len(shape)``: the same for every member;
    ``len(shape) + 1``: leading member axis; scalars broadcast.
    Returns the array and the member count it implies (None if none).
    """
    a = np.asarray(value, dtype=float)
    k = len(shape)
    try:
        if a.ndim <= k:
            return np.broadcast_to(a, shape)[..., None], None
        if a.ndim == k + 1:
            out = np.moveaxis(np.broadcast_to(a, (a.shape[0], *shape)), 0, -1)
            return out, a.shape[0]
    except ValueError:
        pass
    raise ValueError(f"parameter {name!r}: value of shape {a.shape} does not fit the variable's "
                     f"shape {shape} (optionally with a leading member axis)")


def _spow(a: Any, b: Any) -> Any:
    """``^`` of values PySD holds as Python floats (no dims), member by member.

    Python's pow of a negative base and a fractional exponent is complex; PySD then
    stores its real part when it fills an array (numpy drops the imaginary part).
    """
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        r = float(a) ** float(b)
        return r.real if isinstance(r, complex) else r
    r = np.power(a, b)
    bad = np.isnan(r) & (np.asarray(a) < 0) & np.isfinite(b)
    if np.any(bad):
        r = np.where(bad, np.power(np.asarray(a, complex), b).real, r)
    return r


def _table(x: Any, xs: np.ndarray, ys: np.ndarray, mode: str, data: bool) -> np.ndarray:
    """PySD's lookup / data evaluation, element by element, vectorised.

    ``ys`` has shape ``(len(xs), *S)`` with the member axis last (size 1) and
    ``x`` broadcasts against ``S``; each element uses its own column.
    """
    x = np.asarray(x, dtype=float)
    shape = np.broadcast_shapes(x.shape, ys.shape[1:])
    xb = np.broadcast_to(x, shape)
    yb = np.broadcast_to(ys, (ys.shape[0], *shape))
    n = len(xs)
    j = np.clip(np.searchsorted(xs, xb, side="right") - 1, 0, n - 1)
    yj = np.take_along_axis(yb, j[None], 0)[0]
    j1 = np.minimum(j + 1, n - 1)
    yj1 = np.take_along_axis(yb, j1[None], 0)[0]
    exact = xb == xs[j]
    if mode in ("interpolate", "extrapolate"):
        with np.errstate(all="ignore"):
            r = (yj1 - yj) / (xs[j1] - xs[j]) * (xb - xs[j]) + yj
        r = np.where(exact | (j1 == j), yj, r)
    elif mode == "hold_backward":
        r = yj
    elif mode == "look_forward":
        r = np.where(exact, yj, yj1)
    else:  # raw data: only at the data's own times
        r = np.where(exact, yj, np.nan)
    lo, hi = xb < xs[0], xb > xs[-1]
    if mode == "extrapolate" and not data and n > 1:
        with np.errstate(all="ignore"):
            r = np.where(hi, yb[-1] + (yb[-1] - yb[-2]) / (xs[-1] - xs[-2]) * (xb - xs[-1]), r)
            r = np.where(lo, yb[0] + (yb[1] - yb[0]) / (xs[1] - xs[0]) * (xb - xs[0]), r)
    elif not (data and mode == "raw"):
        r = np.where(hi, yb[-1], np.where(lo, yb[0], r))
    return np.where(np.isnan(xb), np.nan, r)


ARRAY_RUNTIME = {
    "_table": _table,
    "_bt": _bt,
    "_spow": _spow,
    "_al": _al,
    "_red": _red,
    "_where": np.where,
    "_xidz": _axidz,
    "_zidz": _azidz,
    "_delay_order": _adelay_order,
    "_tinterp": tinterp,
}


def expr_dims(ir: ModelIR, e: Expr) -> tuple[str, ...]:
    """Labelled dims of an expression's value (empty: a number per member)."""
    if isinstance(e, ARef):
        return e.dims
    if isinstance(e, Align):
        return e.dst
    if isinstance(e, Reduce):
        return tuple(d for i, d in enumerate(e.src) if i not in e.axes)
    if isinstance(e, ArrayNum):
        return e.dims
    if isinstance(e, Ref):
        if e.name in ir.states:
            return ir.states[e.name].dims
        v = ir.variables.get(e.name)
        return v.dims if v is not None else ()
    out: dict[str, None] = {}
    for c in e.children():
        for d in expr_dims(ir, c):
            out.setdefault(d, None)
    return tuple(out)


def make_array_gen(base: type) -> type:
    """The array-aware code generator, derived from ``numpy_backend._Gen``."""

    class ArrayGen(base):  # type: ignore[misc, valid-type]
        """Generates the vectorised program of an arrayed model (member axis last)."""

        def __init__(self, ir: ModelIR, *args: Any, **kwargs: Any) -> None:
            super().__init__(ir, *args, **kwargs)
            self.arrays: dict[str, np.ndarray] = {}

        def const(self, value: Any, prefix: str = "_A") -> str:
            name = f"{prefix}{len(self.arrays)}"
            self.arrays[name] = value
            return name

        def expr(self, e: Expr, initial: bool = False, boolean: bool = False) -> str:
            g = lambda x, b=False: self.expr(x, initial, b)  # noqa: E731
            if isinstance(e, ARef):
                return self._aref(e)
            if isinstance(e, Align):
                perm = tuple(e.src.index(d) for d in e.dst if d in e.src)
                tperm = None if perm == tuple(range(len(perm))) else (*perm, len(perm))
                idx = (*(slice(None) if d in e.src else None for d in e.dst), Ellipsis)
                return f"_al({g(e.expr, boolean)}, {tperm!r}, {self.const(idx, '_X')}, " \
                       f"{len(e.src)})"
            if isinstance(e, Reduce):
                shape = tuple(len(self.ir.subscripts[d.rstrip('!')]) for d in e.src)
                return f"_red({e.func!r}, {g(e.expr)}, {e.axes!r}, {shape!r})"
            if isinstance(e, ArrayNum):
                arr = np.asarray(e.values, dtype=float).reshape((*e.shape, 1))
                return self.const(arr)
            if isinstance(e, TableCall):
                return self._table_call(e, g)
            if isinstance(e, BinOp) and e.op == "^":
                # PySD: xarray (numpy) power when an operand has dims, Python floats otherwise
                if expr_dims(self.ir, e.left) or expr_dims(self.ir, e.right):
                    return f"np.power({g(e.left)}, {g(e.right)})"
                return f"_spow({g(e.left)}, {g(e.right)})"
            if isinstance(e, Call) and e.func == "if_then_else":
                a = e.args
                return f"np.where({g(a[0], True)}, {g(a[1])}, {g(a[2])})"
            return super().expr(e, initial, boolean)

        def _table_call(self, e: TableCall, g: Any) -> str:
            table = self.ir.variables[e.name].lookup
            assert isinstance(table, ArrayTable)
            y = np.asarray(table.y, dtype=float).reshape((len(table.x), *table.shape))
            if e.index:
                basic: list[Any] = [slice(None)]
                takes = []
                k = 1
                for ix in e.index:
                    if isinstance(ix, int):
                        basic.append(ix)
                        continue
                    basic.append(slice(None))
                    if ix is not None:
                        takes.append((k, ix))
                    k += 1
                y = y[tuple(basic)]
                for axis, ix in takes:
                    y = np.take(y, np.asarray(ix), axis=axis)
            if e.dims != e.dims_out:
                perm = [e.dims.index(d) + 1 for d in e.dims_out if d in e.dims]
                y = y.transpose([0, *perm])
                y = y[(slice(None), *(slice(None) if d in e.dims else None
                                      for d in e.dims_out))]
            ys = self.const(np.ascontiguousarray(y[..., None]), "_Y")
            xs = self.const(np.asarray(table.x, dtype=float), "_Z")
            arg = g(e.arg)
            if e.arg_dims and e.arg_dims != e.dims_out:
                arg = self.expr(Align(e.arg, e.arg_dims, e.dims_out))
            return f"_table({arg}, {xs}, {ys}, {table.mode!r}, {table.data!r})"

        def _aref(self, e: ARef) -> str:
            parts: list[str] = []
            takes: list[tuple[int, tuple[int, ...]]] = []
            k = 0
            for ix in e.index:
                if isinstance(ix, int):
                    parts.append(str(ix))
                    continue
                if ix is None:
                    parts.append(":")
                elif ix == tuple(range(ix[0], ix[0] + len(ix))):
                    parts.append(f"{ix[0]}:{ix[0] + len(ix)}")
                else:
                    parts.append(":")
                    takes.append((k, ix))
                k += 1
            s = f"v_{e.name}"
            if any(p != ":" for p in parts):
                s = f"{s}[{', '.join(parts)}]"
            for axis, ix in takes:
                s = f"np.take({s}, {self.const(np.asarray(ix), '_T')}, axis={axis})"
            return s

        # -- variables ---------------------------------------------------------------

        def node(self, name: str, lines: list[str], ind: str, initial: bool) -> None:
            ir = self.ir
            v = ir.variables.get(name)
            if v is not None and v.shape and name in self.dynamic_params:
                fn = "_minterp" if name in self.member_params else "_tinterp"
                lines.append(f"{ind}v_{name} = {fn}(time, px_{name}, py_{name})")
                return
            if v is None or not v.components or name in self.params or v.kind == "lookup":
                super().node(name, lines, ind, initial)
                return
            shape = v.shape
            comps = v.components
            full = tuple(tuple(range(n)) for n in shape)
            if len(comps) == 1 and comps[0].index == full and not comps[0].exclude:
                lines.append(f"{ind}v_{name} = _bt({self.expr(comps[0].expr, initial)}, "
                             f"{shape!r}, _N)")
                return
            lines.append(f"{ind}v_{name} = np.full({shape!r} + (_N,), _nan)")
            for c in comps:
                val = self.expr(c.expr, initial)
                if not c.exclude:
                    ix = self.const(np.ix_(*[np.asarray(i) for i in c.index]), "_I")
                    lines.append(f"{ind}v_{name}[{ix}] = {val}")
                    continue
                mask = np.zeros(shape, dtype=bool)
                mask[np.ix_(*[np.asarray(i) for i in c.index])] = True
                for ex in c.exclude:
                    mask[np.ix_(*[np.asarray(i) for i in ex])] = False
                sel = np.nonzero(mask)
                inv = [np.full(n, -1) for n in shape]
                for ax, i in enumerate(c.index):
                    inv[ax][np.asarray(i)] = np.arange(len(i))
                blk = tuple(inv[ax][sel[ax]] for ax in range(len(shape)))
                si, sb = self.const(sel, "_I"), self.const(blk, "_B")
                lines.append(f"{ind}v_{name}[{si}] = _bt({val}, {c.shape!r}, _N)[{sb}]")

        def range_lines(self, tracked: Any, ind: str) -> list[str]:
            # declared bounds of arrayed variables: a member is out of range if any element is
            import re

            lines = super().range_lines(tracked, ind)
            pat = re.compile(r"^(\s*_rb\d+ = np\.logical_or\(_rb\d+, )(.*)\)$")
            return [pat.sub(lambda m: f"{m.group(1)}_anym({m.group(2)}))", ln) for ln in lines]

        # -- states ---------------------------------------------------------------

        def state_init(self, name: str, lines: list[str], ind: str) -> None:
            st = self.ir.states[name]
            a = st.args
            s = "s_" + name
            shape = st.shape
            owner = repr(self.ir.variables[st.owner].name)
            g = lambda x: self.expr(x, initial=True)  # noqa: E731
            if st.kind in ("integ", "sample_if_true", "initial"):
                lines.append(f"{ind}{s} = _bt({g(a['initial'])}, {shape!r}, _N).copy()")
            elif st.kind == "smooth":
                lines.append(f"{ind}o_{name} = {g(a['order'])}")
                lines.append(f"{ind}k_{name} = _uniform_int(o_{name}, 'SMOOTH order', {owner})")
                lines.append(f"{ind}{s} = np.repeat(_bt({g(a['initial'])}, {shape!r}, _N)[None],"
                             f" k_{name}, axis=0)")
            elif st.kind in ("delay", "delayn"):
                lines.append(f"{ind}_dtm = {g(a['delay_time'])}")
                lines.append(f"{ind}k_{name} = _delay_order({g(a['order'])}, _dt, _dtm, {owner})")
                lines.append(f"{ind}o_{name} = k_{name}")
                lines.append(f"{ind}{s} = np.repeat(_bt({g(a['initial'])} * _dtm, {shape!r}, _N)"
                             f"[None], k_{name}, axis=0)")
            elif st.kind == "delay_fixed":
                # a pipe of round(max(delay / TIME STEP, 1)) arrays (one length for all)
                lines.append(f"{ind}k_{name} = _fixed_order({g(a['delay_time'])}, _dt, {owner})")
                lines.append(f"{ind}{s} = _bt({g(a['initial'])}, {shape!r}, _N).copy()")
                lines.append(f"{ind}q_{name} = [{s}] * k_{name}")
                lines.append(f"{ind}p_{name} = 0")
            elif st.kind == "trend":
                lines.append(f"{ind}{s} = _bt({g(a['input'])} / ((1.0) + {g(a['initial_trend'])}"
                             f" * {g(a['average_time'])}), {shape!r}, _N).copy()")
            elif st.kind == "forecast":
                lines.append(f"{ind}{s} = _bt({g(a['input'])} / ((1.0) + "
                             f"{g(a['initial_trend'])}), {shape!r}, _N).copy()")
            else:
                super().state_init(name, lines, ind)

    return ArrayGen


def _anym(x: Any) -> Any:
    """Per member: any element true (a member-axis-last boolean array)."""
    x = np.asarray(x)
    return x if x.ndim <= 1 else x.reshape(-1, x.shape[-1]).any(axis=0)


ARRAY_RUNTIME["_anym"] = _anym
