"""Runtime of the vectorised simulator: the helpers its generated code calls.

Expression kernels (power, lookups, pulses, XIDZ/ZIDZ, ...) in an array and a
Python-float variant with PySD's arithmetic, helpers of the stateful functions
(delay orders, pipelines), of the declared-range checks, and
:class:`NeedsFallback`, raised when a model or parameter combination cannot be
run vectorised. ``_RUNTIME`` is the namespace the generated code runs in.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

import numpy as np

from pvsd.engine.ir import SMALL_VENSIM, Unsupported
from pvsd.engine.numpy_params import _minterp

__all__ = ["NeedsFallback"]


class NeedsFallback(Exception):
    """The vectorised engine cannot run this model/parameter combination.

    Attributes
    ----------
    items
        What is unsupported and where.
    """

    def __init__(self, items: Sequence[Unsupported]) -> None:
        self.items = list(items)
        super().__init__("; ".join(str(i) for i in self.items))


# ----------------------------------------------------------------------------
# Runtime helpers used by the generated code
# ----------------------------------------------------------------------------

_opow = np.frompyfunc(operator.pow, 2, 1)


def _pow_exact(a: Any, b: Any) -> Any:
    """``a ** b`` with the C library's pow (as PySD's Python floats), elementwise."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return float(a) ** float(b)
    return _opow(np.asarray(a, dtype=float), np.asarray(b, dtype=float)).astype(float)


def _pow_fast(a: Any, b: Any) -> Any:
    return np.power(a, b)


def _f(x: Any) -> Any:
    """Booleans to floats (so that arithmetic on comparisons works like Python)."""
    return np.asarray(x, dtype=float) if np.ndim(x) else float(x)


def _where(c: Any, a: Any, b: Any) -> Any:
    if np.ndim(c) == 0:
        return a if c else b
    return np.where(c, a, b)


def _xidz(a: Any, b: Any, x: Any) -> Any:
    if np.ndim(b) == 0:
        return x if abs(b) < SMALL_VENSIM else a / b
    return np.where(np.abs(b) < SMALL_VENSIM, x, a / b)


def _zidz(a: Any, b: Any) -> Any:
    if np.ndim(b) == 0:
        return 0.0 if abs(b) < SMALL_VENSIM else a / b
    return np.where(np.abs(b) < SMALL_VENSIM, 0.0, a / b)


def _quantum(a: Any, b: Any) -> Any:
    if np.ndim(b) == 0 and np.ndim(a) == 0:
        return a if b < SMALL_VENSIM else b * math.trunc(a / b)
    return np.where(b < SMALL_VENSIM, a, b * np.trunc(a / b))


def _integer(a: Any) -> Any:
    return float(math.trunc(a)) if np.ndim(a) == 0 else np.trunc(a)


def _pulse(t: float, dt: float, start: Any, repeat: Any, width: Any, magnitude: Any,
           end: Any) -> Any:
    """PySD's ``functions.pulse`` for arrays (``None`` -> default)."""
    width = 0.5 * dt if width is None else width
    out = magnitude / dt if magnitude is not None else 1.0
    single = _where(np.logical_and(start - SMALL_VENSIM <= t, t < start + width), out, 0.0)
    if repeat is None:
        return single
    active = start <= t
    if end is not None:
        active = np.logical_and(active, t < end)
    safe_rep = _where(repeat == 0, 1.0, repeat)
    train = _where(active, _where(np.remainder(t - start + SMALL_VENSIM, safe_rep) < width,
                                  out, 0.0), 0.0)
    return _where(repeat == 0, single, train)


def _lookup(x: Any, xs: np.ndarray, ys: np.ndarray, mode: str) -> Any:
    """Standalone lookup exactly like PySD's ``Lookups._call`` for floats."""
    if mode == "hold_backward":
        xa = np.asarray(x, dtype=float)
        idx = np.clip(np.searchsorted(xs, xa, side="right") - 1, 0, len(xs) - 1)
        r = ys[idx]
        r = np.where(xa > xs[-1], ys[-1], r)
        r = np.where(np.isnan(xa), np.nan, r)
        return r if np.ndim(r) else float(r)
    r = np.interp(x, xs, ys)
    if mode == "extrapolate" and len(xs) > 1:
        khi = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        klo = (ys[1] - ys[0]) / (xs[1] - xs[0])
        r = np.where(x > xs[-1], ys[-1] + khi * (x - xs[-1]), r)
        r = np.where(x < xs[0], ys[0] + klo * (x - xs[0]), r)
        if np.ndim(r) == 0:
            r = float(r)
    return r


def _full(x: Any, n: int) -> np.ndarray:
    """A fresh float array of shape (n,) holding ``x``."""
    out = np.empty(n, dtype=float)
    out[...] = x
    return out


def _uniform_int(value: Any, what: str, owner: str) -> int:
    arr = np.asarray(value, dtype=float)
    if arr.ndim and not np.all(arr == arr.flat[0]):
        raise NeedsFallback([Unsupported(f"{what} differing between members", owner)])
    return int(arr.flat[0] if arr.ndim else arr)


def _delay_order(order: Any, dt: float, delay_time: Any, owner: str) -> int:
    """PySD's order reduction ``while order*dt > min(delay_time): order -= 1``, per member."""
    o = _uniform_int(order, "delay order", owner)
    dts = np.atleast_1d(np.asarray(delay_time, dtype=float))
    orders = set()
    for d in np.unique(dts):
        k = o
        while k * dt > d:
            k -= 1
        orders.add(k)
    if len(orders) > 1:
        raise NeedsFallback([Unsupported("delay order reduced differently between members",
                                         owner, "delay time < order * TIME STEP")])
    return orders.pop()


def _fixed_order(delay_time: Any, dt: float, owner: str) -> int:
    """PySD's DELAY FIXED pipe length ``round(max(delay / dt, 1) + 1e-6)``, same for all members."""
    d = np.atleast_1d(np.asarray(delay_time, dtype=float))
    orders = {round(max(float(x) / dt, 1) + SMALL_VENSIM) for x in np.unique(d)}
    if len(orders) > 1:
        raise NeedsFallback([Unsupported("DELAY FIXED delay time differing between members",
                                         owner)])
    return orders.pop()


def _rstart(v: Any, n: int) -> np.ndarray:
    """A fresh running-extreme array for a tracked bound: ``v`` per member (copied)."""
    a = np.asarray(v, dtype=float)
    return np.array(np.broadcast_to(a, a.shape if a.ndim else (n,)), dtype=float)


def _rcount(rm: np.ndarray, lim: float, below: bool, n: int) -> int:
    """Members whose running extreme crossed ``lim`` (any element of an arrayed variable)."""
    bad = rm < lim if below else rm > lim
    bad = np.asarray(bad)
    if bad.ndim == 0:
        return n if bool(bad) else 0
    return int(np.count_nonzero(bad.reshape(bad.shape[0], -1).any(axis=1)))


def _smin(a: Any, b: Any) -> Any:
    """``np.minimum`` for Python floats (NaN propagates)."""
    return a if (a <= b or a != a) else b


def _smax(a: Any, b: Any) -> Any:
    """``np.maximum`` for Python floats (NaN propagates)."""
    return a if (a >= b or a != a) else b


def _sinterp(x: float, xs: list[float], ys: list[float]) -> float:
    """``np.interp`` for one float, same arithmetic as numpy's C implementation."""
    if x != x:
        return math.nan
    n = len(xs)
    if x > xs[-1]:
        return ys[-1]
    if x < xs[0]:
        return ys[0]
    j = bisect_right(xs, x) - 1
    if j >= n - 1:
        return ys[-1]
    if xs[j] == x:
        return ys[j]
    slope = (ys[j + 1] - ys[j]) / (xs[j + 1] - xs[j])
    r = slope * (x - xs[j]) + ys[j]
    if r != r:
        r = slope * (x - xs[j + 1]) + ys[j + 1]
        if r != r and ys[j] == ys[j + 1]:
            r = ys[j]
    return r


def _slookup(x: Any, xs: np.ndarray, ys: np.ndarray, mode: str, xl: list[float],
             yl: list[float]) -> float:
    if mode == "interpolate":
        return _sinterp(float(x), xl, yl)
    return float(_lookup(x, xs, ys, mode))


def _spulse(t: float, dt: float, start: Any, repeat: Any, width: Any, magnitude: Any,
            end: Any) -> float:
    """PySD's ``functions.pulse`` for floats (verbatim logic)."""
    width = 0.5 * dt if width is None else width
    out = magnitude / dt if magnitude is not None else 1
    if not repeat:
        return out if start - SMALL_VENSIM <= t < start + width else 0
    if start <= t and (end is None or t < end):
        return out if (t - start + SMALL_VENSIM) % repeat < width else 0
    return 0


def _roll_in(s: np.ndarray, first: Any) -> np.ndarray:
    """``np.roll(s, 1, axis=0)`` with ``first`` written into row 0."""
    t = np.empty_like(s)
    t[1:] = s[:-1]
    t[0] = first
    return t


def _nanred(func: Any) -> Any:
    def red(*args: Any) -> Any:
        with np.errstate(all="ignore"):
            r = func(np.stack(np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in args])),
                     axis=0)
        return r if np.ndim(r) else float(r)

    return red


def _pow_real(a: Any, b: Any) -> Any:
    """``a ** b`` on floats keeping the real part of a complex result (PySD in arrays)."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        r = float(a) ** float(b)
        return r.real if isinstance(r, complex) else r
    r = np.power(a, b)
    bad = np.isnan(r) & (np.asarray(a) < 0) & np.isfinite(b)
    return np.where(bad, np.power(np.asarray(a, complex), b).real, r) if np.any(bad) else r


_RUNTIME = {
    "_pow_real": _pow_real,
    "_nansum": _nanred(np.nansum),
    "_nanprod": _nanred(np.nanprod),
    "_nanmin": _nanred(np.nanmin),
    "_nanmax": _nanred(np.nanmax),
    "_roll_in": _roll_in,
    "_smin": _smin,
    "_smax": _smax,
    "_sinterp": _sinterp,
    "_slookup": _slookup,
    "_spulse": _spulse,
    "np": np,
    "math": math,
    "_f": _f,
    "_where": _where,
    "_xidz": _xidz,
    "_zidz": _zidz,
    "_quantum": _quantum,
    "_integer": _integer,
    "_pulse": _pulse,
    "_lookup": _lookup,
    "_minterp": _minterp,
    "_full": _full,
    "_uniform_int": _uniform_int,
    "_delay_order": _delay_order,
    "_fixed_order": _fixed_order,
    "_rstart": _rstart,
    "_rcount": _rcount,
    "_nan": math.nan,
    "_SMALL": SMALL_VENSIM,
}
