"""Vectorised simulator: compiles a :class:`~pvsd.engine.ir.ModelIR` to numpy code.

One simulation pass integrates N ensemble members at once: every variable is a
numpy array of shape ``(N,)`` (or a scalar when it is the same for all
members), stateful builtins hold arrays of shape ``(order, N)``. The generated
code performs, member by member, the same floating-point operations in the same
order as PySD's generated module (Euler integration, ``state + ddt * dt``; time
advanced by repeated addition of TIME STEP; the same save-time test), so each
member equals a separate PySD run.

Parameters
----------
Constants can be overridden by a scalar, an array of shape ``(N,)`` or a
:class:`TimeFunction` (piecewise-linear points evaluated with ``np.interp`` at
each step, exactly what PySD does with a ``pandas.Series`` parameter), shared
by all members or one per member (points of shape ``(N, K)``, evaluated for all
members at once with the same arithmetic as ``np.interp``).
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pvsd.engine.ir import (
    CONTROL_NAMES,
    SMALL_VENSIM,
    BinOp,
    Call,
    Expr,
    InlineLookup,
    LookupCall,
    LookupTable,
    ModelIR,
    Num,
    Ref,
    UnaryOp,
    Unsupported,
)
from pvsd.engine.support import inspect_ir, static_names

__all__ = [
    "METHODS",
    "RPREC",
    "Compiled",
    "NeedsFallback",
    "Simulator",
    "TimeFunction",
    "TimeGrid",
    "check_method",
    "time_grid",
]

#: PySD's relative precision for the final time and the save-time test.
RPREC = 1e-5

#: Integration methods: Vensim's "Euler" and "RK4 Fixed" (classical Runge-Kutta).
METHODS = ("euler", "rk4")

#: State kinds integrated as ODEs (RK4 stages apply to them); others update discretely.
RK4_KINDS = frozenset({"integ", "smooth", "delay", "delayn", "trend", "forecast"})


def check_method(method: str) -> str:
    """Normalise an integration-method name (``"euler"``, ``"rk4"``); ValueError otherwise."""
    m = str(method).strip().lower().replace("-", "").replace(" ", "").replace("_", "")
    m = {"rk4fixed": "rk4", "rungekutta": "rk4", "rungekutta4": "rk4"}.get(m, m)
    if m not in METHODS:
        raise ValueError(f"integration method must be one of {', '.join(METHODS)}, got {method!r}")
    return m


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


@dataclass(frozen=True)
class TimeFunction:
    """A time-varying parameter: piecewise-linear through ``(x[i], y[i])``.

    Evaluated as ``np.interp(time, x, y)`` (constant beyond the ends), the same
    as PySD does for a ``pandas.Series`` indexed by time.
    """

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def from_series(cls, series: Any) -> TimeFunction:
        """Build from a ``pandas.Series`` indexed by time."""
        return cls(np.asarray(series.index, dtype=float), np.asarray(series.values, dtype=float))

    @property
    def per_member(self) -> bool:
        """Each member has its own points: ``x`` of shape ``(n, K)``, ``y`` ``(n, K[, *shape])``.

        Shorter point lists are padded by repeating their last point, which
        ``np.interp`` evaluates the same as the unpadded list.
        """
        return np.ndim(self.x) == 2


# ----------------------------------------------------------------------------
# Time grid (replicates pysd.py_backend.components.Time)
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeGrid:
    """Integration and save times of one run.

    Attributes
    ----------
    times
        Every integration time, initial and final included (``nsteps + 1``).
    save
        Boolean mask over ``times``: save at that time.
    save_times
        Saved times rounded like PySD's output index.
    """

    initial_time: float
    final_time: float
    time_step: float
    times: np.ndarray
    save: np.ndarray
    save_times: np.ndarray

    @property
    def nsteps(self) -> int:
        """Number of Euler steps."""
        return len(self.times) - 1


def time_grid(
    initial_time: float,
    final_time: float,
    time_step: float,
    saveper: float | None = None,
    save_times: Sequence[float] | None = None,
) -> TimeGrid:
    """Integration times and save mask exactly as PySD computes them.

    Parameters
    ----------
    initial_time, final_time, time_step
        Control values.
    saveper
        Save period (default: every step).
    save_times
        Explicit save times (PySD's ``return_timestamps``); overrides ``saveper``.
    """
    t0, tf, dt = float(initial_time), float(final_time), float(time_step)
    if not dt > 0 or not math.isfinite(dt):
        raise ValueError(f"TIME STEP must be positive, got {dt}")
    times = [t0]
    t = t0
    # Time.in_bounds: t + dt*rprec < final_time
    while t + dt * RPREC < tf:
        t = t + dt
        times.append(t)
    tarr = np.array(times, dtype=float)
    prec = dt * RPREC
    save = np.zeros(len(times), dtype=bool)
    if save_times is not None:
        pending = sorted(float(x) for x in save_times)
        k = 0
        for i, ti in enumerate(times):
            if k >= len(pending):
                break
            # np.isclose(ti, pending[k], rtol=prec) as in Time.in_return, in Python floats
            if abs(ti - pending[k]) <= 1e-8 + prec * abs(pending[k]):
                save[i] = True
                k += 1
            else:
                while k < len(pending) and ti > pending[k]:
                    k += 1
    else:
        sp = dt if saveper is None else float(saveper)
        for i, ti in enumerate(times):
            delay = ti - t0
            save[i] = delay % sp < prec or -delay % sp < prec
    digits = -int(np.log10(dt * RPREC))
    return TimeGrid(t0, tf, dt, tarr, save, np.round(tarr[save], digits))


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


class MemberPoints:
    """The points of a per-member time function, prepared once per run for ``_minterp``.

    ``xs`` ``(K, N)``, ``ys`` ``(K, ..., N)`` (member axis last); for scalar
    variables the flat copies and the slope of every interval (the same
    quotient numpy's ``interp`` computes) make one evaluation a few takes
    on ``(N,)`` arrays.
    """

    __slots__ = ("K", "N", "cols", "flat", "last", "slope", "xflat", "xs", "yflat", "ys")

    def __init__(self, xs: np.ndarray, ys: np.ndarray) -> None:
        self.xs, self.ys = xs, ys
        # RK4 asks twice for the midpoint and again for the end of a step at the next step's
        # start: the last value is kept (and handed out as a copy, so nothing can change it)
        self.last: tuple[float, np.ndarray] | None = None
        self.K, self.N = xs.shape
        self.flat = ys.ndim == 2
        self.cols = np.arange(self.N)
        if self.flat:
            self.xflat = xs.ravel()
            self.yflat = ys.ravel()
            sl = np.full(xs.shape, np.nan)
            with np.errstate(all="ignore"):
                sl[:-1] = (ys[1:] - ys[:-1]) / (xs[1:] - xs[:-1])
            self.slope = sl.ravel()

    def at(self, t: float) -> np.ndarray:
        """Every member's value at time ``t`` (exactly ``np.interp``)."""
        last = self.last
        if last is not None and last[0] == t:
            return last[1].copy()
        r = self._at(t)
        self.last = (t, r.copy())
        return r

    def _at(self, t: float) -> np.ndarray:
        if not self.flat or self.K == 1 or t != t:
            return _minterp(t, self.xs, self.ys)
        K, N = self.K, self.N
        j = np.count_nonzero(self.xs <= t, axis=0) - 1
        fi = np.maximum(j, 0) * N + self.cols
        y0 = self.yflat.take(fi)
        inner = (j >= 0) & (j < K - 1)
        if not inner.any():
            return y0
        x0 = self.xflat.take(fi)
        inner &= x0 != t
        if not inner.any():
            return y0
        slope = self.slope.take(fi)
        r = slope * (t - x0) + y0
        bad = np.isnan(r) & inner
        if bad.any():
            fi1 = np.minimum(j + 1, K - 1) * N + self.cols
            x1, y1 = self.xflat.take(fi1), self.yflat.take(fi1)
            r = np.where(bad, slope * (t - x1) + y1, r)
            r = np.where(bad & np.isnan(r) & (y0 == y1), y0, r)
        return np.where(inner, r, y0)


def _minterp(t: float, xs: Any, ys: np.ndarray) -> np.ndarray:
    """``np.interp(t, xs[:, m], ys[:, ..., m])`` for every member ``m`` at once.

    ``xs`` may be a :class:`MemberPoints` (the prepared form the engine passes).

    ``xs`` ``(K, N)`` (each column non-decreasing), ``ys`` ``(K, ..., N)``: the
    points of a per-member time function, member axis last. Same arithmetic as
    numpy's C ``interp`` (the interval is the last ``j`` with ``xs[j] <= t``; a
    breakpoint hit exactly returns its value; constant beyond the ends; the NaN
    fallbacks of an infinite slope).
    """
    if type(xs) is MemberPoints:
        return xs.at(t)
    K = xs.shape[0]
    if K == 1:  # numpy's one-point case (also for a NaN time)
        return ys[0]
    if t != t:
        return np.full(ys.shape[1:], np.nan)
    j = np.count_nonzero(xs <= t, axis=0) - 1
    lo = np.maximum(j, 0)
    hi = np.minimum(lo + 1, K - 1)
    shape = (1,) * (ys.ndim - 1) + (len(lo),)
    y0 = np.take_along_axis(ys, lo.reshape(shape), axis=0)[0]
    cols = np.arange(len(lo))
    x0 = xs[lo, cols]
    hold = (j < 0) | (j >= K - 1) | (x0 == t)
    if hold.all():
        return y0
    x1 = xs[hi, cols]
    y1 = np.take_along_axis(ys, hi.reshape(shape), axis=0)[0]
    with np.errstate(all="ignore"):
        slope = (y1 - y0) / (x1 - x0)
        r = slope * (t - x0) + y0
        bad = np.isnan(r)
        if bad.any():
            r = np.where(bad, slope * (t - x1) + y1, r)
            r = np.where(np.isnan(r) & (y0 == y1), y0, r)
    return np.where(hold, y0, r)


def member_points(v: TimeFunction, shape: tuple[int, ...], name: str
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """A per-member time function in the engine's layout: ``xs (K, N)``, ``ys (K, *shape, N)``."""
    x = np.asarray(v.x, dtype=float)
    y = np.asarray(v.y, dtype=float)
    n, k = x.shape
    if y.shape[:2] != (n, k) or k == 0:
        raise ValueError(f"parameter {name!r}: per-member points x {x.shape} and y {y.shape} "
                         "must both be (members, points[, *shape]) with at least one point")
    if np.isnan(x).any() or (k > 1 and np.any(np.diff(x, axis=1) < 0)):
        raise ValueError(f"parameter {name!r}: each member's times must be non-decreasing "
                         "and not NaN")
    if y.ndim == 2:
        y = y.reshape(n, k, *([1] * len(shape)))
    try:
        y = np.broadcast_to(y, (n, k, *shape))
    except ValueError:
        raise ValueError(f"parameter {name!r}: per-member values of shape {y.shape[2:]} do not "
                         f"fit the variable's shape {shape}") from None
    return np.ascontiguousarray(x.T), np.ascontiguousarray(np.moveaxis(y, 0, -1)), n


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


# ----------------------------------------------------------------------------
# Code generation
# ----------------------------------------------------------------------------

_NP_FUNCS = {
    "abs": "np.abs",
    "exp": "np.exp",
    "ln": "np.log",
    "sqrt": "np.sqrt",
    "sin": "np.sin",
    "cos": "np.cos",
    "tan": "np.tan",
    "arcsin": "np.arcsin",
    "arccos": "np.arccos",
    "arctan": "np.arctan",
    "sinh": "np.sinh",
    "cosh": "np.cosh",
    "tanh": "np.tanh",
    "min": "np.minimum",
    "max": "np.maximum",
    "power": "np.power",
}

_CMP = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _ident(name: str) -> str:
    return "v_" + name


class _Gen:
    """Generates Python source for one compiled configuration."""

    #: dynamic parameters with per-member points (evaluated by ``_minterp``)
    member_params: frozenset[str] = frozenset()

    def __init__(self, ir: ModelIR, static_params: frozenset[str],
                 dynamic_params: frozenset[str], scalar: bool = False,
                 method: str = "euler", dynamic_ctl: bool = False) -> None:
        self.ir = ir
        self.scalar = scalar
        self.method = method
        self.dynamic_ctl = dynamic_ctl
        self.static_params = static_params
        self.dynamic_params = dynamic_params
        self.params = static_params | dynamic_params
        self.lookup_consts: dict[str, str] = {}
        self.consts: dict[str, Any] = {}
        # DELAY N with a time-varying delay time (pvsd.engine.delayn): name -> value rule
        self.dn_rules: dict[str, tuple[bool, bool]] = {}

    # expressions -----------------------------------------------------------------

    def expr(self, e: Expr, initial: bool = False, boolean: bool = False) -> str:
        """Source for ``e``. ``boolean``: the context accepts numpy booleans."""
        g = lambda x, b=False: self.expr(x, initial, b)  # noqa: E731
        if isinstance(e, Num):
            v = e.value
            if math.isnan(v):
                return "_nan"
            if math.isinf(v):
                return "(np.inf)" if v > 0 else "(-np.inf)"
            return f"({v!r})"
        if isinstance(e, Ref):
            if e.name == "time":
                return "time"
            return _ident(e.name)
        if isinstance(e, UnaryOp):
            if e.op == "neg":
                return f"(-{g(e.operand)})"
            if self.scalar:
                s = f"(not {g(e.operand, True)})"
            else:
                s = f"np.logical_not({g(e.operand, True)})"
            return s if boolean else f"_f({s})"
        if isinstance(e, BinOp):
            if e.op in ("and", "or"):
                if self.scalar:
                    s = f"(bool({g(e.left, True)}) {e.op} bool({g(e.right, True)}))"
                else:
                    s = f"np.logical_{e.op}({g(e.left, True)}, {g(e.right, True)})"
                return s if boolean else f"_f({s})"
            if e.op in _CMP:
                s = f"({g(e.left)} {_CMP[e.op]} {g(e.right)})"
                return s if boolean else f"_f{s}"
            if e.op == "^":
                return f"_pow({g(e.left)}, {g(e.right)})"
            return f"({g(e.left)} {e.op} {g(e.right)})"
        if isinstance(e, LookupCall):
            c = self._table(e.lookup, self.ir.variables[e.lookup].lookup)  # type: ignore[arg-type]
            if self.scalar:
                return f"_slookup({g(e.arg)}, {c}_x, {c}_y, {c}_m, {c}_xl, {c}_yl)"
            return f"_lookup({g(e.arg)}, {c}_x, {c}_y, {c}_m)"
        if isinstance(e, InlineLookup):
            c = self._table(None, e.table)
            if self.scalar:
                return f"_sinterp(float({g(e.arg)}), {c}_xl, {c}_yl)"
            return f"np.interp({g(e.arg)}, {c}_x, {c}_y)"
        if isinstance(e, Call):
            f, a = e.func, e.args
            if self.scalar and f in ("min", "max"):
                return f"_s{f}({g(a[0])}, {g(a[1])})"
            if self.scalar and f == "abs":
                return f"abs({g(a[0])})"
            if f in _NP_FUNCS:
                call = f"{_NP_FUNCS[f]}({', '.join(g(x) for x in a)})"
                return f"float({call})" if self.scalar else call
            if f == "pow_real":  # scalarised arrays: PySD's float power stored in an array
                return f"_pow_real({g(a[0])}, {g(a[1])})"
            if f in ("nansum", "nanprod", "nanmin", "nanmax"):  # scalarised arrays
                return f"_{f}({', '.join(g(x) for x in a)})"
            if f == "log":
                return f"(np.log({g(a[0])}) / np.log({g(a[1])}))"
            if f == "pi":
                return "np.pi"
            if f == "integer":
                return f"_integer({g(a[0])})"
            if f == "quantum":
                return f"_quantum({g(a[0])}, {g(a[1])})"
            if f == "modulo":
                return f"_mod({g(a[0])}, {g(a[1])})"
            if f == "xidz":
                return f"_xidz({g(a[0])}, {g(a[1])}, {g(a[2])})"
            if f == "zidz":
                return f"_zidz({g(a[0])}, {g(a[1])})"
            if f == "if_then_else":
                return f"_where({g(a[0], True)}, {g(a[1])}, {g(a[2])})"
            if f == "active_initial":
                return g(a[1]) if initial else g(a[0])
            if f == "step":
                return f"({g(a[0])} * (time + _dt / 2 > {g(a[1])}))"
            if f in ("ramp", "Xramp"):
                mn = "_smin" if self.scalar else "np.minimum"
                final = "time" if len(a) < 3 else f"{mn}({g(a[2])}, time)"
                return f"((time + _SMALL > {g(a[1])}) * {g(a[0])} * ({final} - {g(a[1])}))"
            if f == "pulse":
                return f"{self._p}(time, _dt, {g(a[0])}, None, {g(a[1])}, None, None)"
            if f == "Xpulse":
                return f"{self._p}(time, _dt, {g(a[0])}, None, None, {g(a[1])}, None)"
            if f == "pulse_train":
                return f"{self._p}(time, _dt, {g(a[0])}, {g(a[1])}, {g(a[2])}, None, {g(a[3])})"
            if f == "Xpulse_train":
                return f"{self._p}(time, _dt, {g(a[0])}, {g(a[1])}, None, {g(a[2])}, None)"
            raise NeedsFallback([Unsupported("function", "?", f)])
        raise TypeError(f"unknown node {e!r}")

    @property
    def _p(self) -> str:
        return "_spulse" if self.scalar else "_pulse"

    def _table(self, name: str | None, table: LookupTable) -> str:
        key = name or f"inline{len(self.lookup_consts)}"
        if name is None:
            for k, (t, _c) in list(self.consts.items()):
                if t is table:
                    return k
        elif name in self.lookup_consts:
            # a lookup called several times: one table constant (numbering by the
            # number of names would hand a later lookup's table to this call)
            return self.lookup_consts[name]
        c = f"_L{len(self.consts)}"
        self.lookup_consts[key] = c
        self.consts[c] = (table, c)
        return c

    # states -------------------------------------------------------------------------

    def state_init(self, name: str, lines: list[str], ind: str) -> None:
        st = self.ir.states[name]
        a = st.args
        s = "s_" + name
        owner = repr(self.ir.variables[st.owner].name)
        g = lambda x: self.expr(x, initial=True)  # noqa: E731
        if st.kind in ("integ", "sample_if_true", "initial"):
            if self.scalar:
                lines.append(f"{ind}{s} = float({g(a['initial'])})")
            else:
                lines.append(f"{ind}{s} = _full({g(a['initial'])}, _N)")
        elif st.kind == "smooth":
            lines.append(f"{ind}o_{name} = {g(a['order'])}")
            lines.append(f"{ind}k_{name} = _uniform_int(o_{name}, 'SMOOTH order', {owner})")
            lines.append(f"{ind}{s} = np.tile(_full({g(a['initial'])}, _N), (k_{name}, 1))")
        elif st.kind in ("delay", "delayn"):
            lines.append(f"{ind}_dtm = {g(a['delay_time'])}")
            lines.append(f"{ind}k_{name} = _delay_order({g(a['order'])}, _dt, _dtm, {owner})")
            lines.append(f"{ind}o_{name} = k_{name}")
            lines.append(f"{ind}{s} = np.tile(_full({g(a['initial'])} * _dtm, _N), (k_{name}, 1))")
            if name in self.dn_rules:  # the conveyor of delay times (pvsd.engine.delayn)
                lines.append(f"{ind}T_{name} = np.tile(_full(_dtm, _N), (k_{name}, 1))")
        elif st.kind == "delay_fixed":
            # PySD's DelayFixed: a pipe of round(max(delay / TIME STEP, 1)) values
            lines.append(f"{ind}k_{name} = _fixed_order({g(a['delay_time'])}, _dt, {owner})")
            if self.scalar:
                lines.append(f"{ind}{s} = float({g(a['initial'])})")
            else:
                lines.append(f"{ind}{s} = _full({g(a['initial'])}, _N)")
            lines.append(f"{ind}q_{name} = [{s}] * k_{name}")
            lines.append(f"{ind}p_{name} = 0")
        elif st.kind == "trend":
            lines.append(f"{ind}{s} = _full({g(a['input'])} / ((1.0) + {g(a['initial_trend'])}"
                         f" * {g(a['average_time'])}), _N)")
            if self.scalar:
                lines.append(f"{ind}{s} = float({s}[0])")
        elif st.kind == "forecast":
            lines.append(f"{ind}{s} = _full({g(a['input'])} / ((1.0) + {g(a['initial_trend'])}),"
                         " _N)")
            if self.scalar:
                lines.append(f"{ind}{s} = float({s}[0])")
        else:
            raise NeedsFallback([Unsupported(st.kind.upper().replace("_", " "),
                                             self.ir.variables[st.owner].name)])

    def state_value(self, name: str, initial: bool = False) -> str:
        st = self.ir.states[name]
        a = st.args
        s = "s_" + name
        g = lambda x: self.expr(x, initial=initial)  # noqa: E731
        if st.kind in ("integ", "initial", "delay_fixed"):
            return s
        last = f"float({s}[-1, 0])" if self.scalar else f"{s}[-1]"
        if st.kind == "smooth":
            return last
        if st.kind == "delayn" and name in self.dn_rules:
            return self._dn_value(name, last, g(a['delay_time']), initial)
        if st.kind in ("delay", "delayn"):
            return f"({last} / {g(a['delay_time'])})"
        if st.kind == "trend":
            ab = "abs" if self.scalar else "np.abs"
            return f"_zidz({g(a['input'])} - {s}, {g(a['average_time'])} * {ab}({s}))"
        if st.kind == "forecast":
            return (f"({g(a['input'])} * ((1.0) + _zidz({g(a['input'])} - {s}, "
                    f"{g(a['average_time'])} * {s}) * {g(a['horizon'])}))")
        if st.kind == "sample_if_true":
            return f"_where({self.expr(a['condition'], initial, True)}, {g(a['input'])}, {s})"
        raise NeedsFallback([Unsupported(st.kind, self.ir.variables[st.owner].name)])

    def state_ddt(self, name: str, lines: list[str], ind: str) -> None:
        st = self.ir.states[name]
        a = st.args
        s = "s_" + name
        g = self.expr
        if st.kind == "integ":
            lines.append(f"{ind}d_{name} = {g(a['flow'])}")
        elif st.kind == "smooth":
            lines.append(f"{ind}_tg = _roll_in({s}, {g(a['input'])})")
            lines.append(f"{ind}d_{name} = (_tg - {s}) * o_{name} / {g(a['smooth_time'])}")
        elif st.kind == "delayn" and name in self.dn_rules:
            # PySD's DelayN.ddt: the conveyor moves, slot 0 takes the current delay time
            lines.append(f"{ind}Tn_{name} = _roll_in(T_{name}, {g(a['delay_time'])})")
            lines.append(f"{ind}_of = {s} / Tn_{name}")
            lines.append(f"{ind}_if = _roll_in(_of, {g(a['input'])})")
            lines.append(f"{ind}d_{name} = (_if - _of) * o_{name}")
        elif st.kind in ("delay", "delayn"):
            lines.append(f"{ind}_of = {s} / {g(a['delay_time'])}")
            lines.append(f"{ind}_if = _roll_in(_of, {g(a['input'])})")
            lines.append(f"{ind}d_{name} = (_if - _of) * o_{name}")
        elif st.kind in ("trend", "forecast"):
            lines.append(f"{ind}d_{name} = ({g(a['input'])} - {s}) / {g(a['average_time'])}")
        elif st.kind == "delay_fixed":
            lines.append(f"{ind}d_{name} = {g(a['input'])}")
        elif st.kind == "sample_if_true":
            lines.append(f"{ind}d_{name} = {s} * (0.0) + _where({g(a['condition'], False, True)}, "
                         f"{g(a['input'])}, {s})")

    def state_update(self, name: str, lines: list[str], ind: str) -> None:
        st = self.ir.states[name]
        s = "s_" + name
        if st.kind == "initial":
            return
        if st.kind == "delay_fixed":
            lines.append(f"{ind}q_{name}[p_{name}] = d_{name}")
            lines.append(f"{ind}p_{name} = (p_{name} + 1) % k_{name}")
            lines.append(f"{ind}{s} = q_{name}[p_{name}]")
        elif st.kind == "sample_if_true":
            lines.append(f"{ind}{s} = d_{name}")
        elif st.kind == "integ" and st.non_negative:
            mx = "_smax" if self.scalar else "np.maximum"
            lines.append(f"{ind}{s} = {mx}({s} + d_{name} * _dt, 0)")
        else:
            lines.append(f"{ind}{s} = {s} + d_{name} * _dt")
            if name in self.dn_rules:
                lines.append(f"{ind}T_{name} = Tn_{name}")

    def _dn_value(self, name: str, last: str, delay_time: str, initial: bool) -> str:
        """Value of a time-varying DELAY N: last stage / conveyor slot 0, as PySD reads it."""
        old = f"T_{name}[0, 0]" if self.scalar else f"T_{name}[0]"
        if initial:
            return f"({last} / {old})"
        new_saved, new_other = self.dn_rules[name]
        pick = {True: delay_time, False: old}
        if new_saved == new_other:
            return f"({last} / {pick[new_other]})"
        flag = "_sv" if self.dynamic_ctl else "_save[_i]"
        return f"({last} / ({pick[new_saved]} if {flag} else {pick[new_other]}))"

    # program ----------------------------------------------------------------------

    def node(self, name: str, lines: list[str], ind: str, initial: bool) -> None:
        """Assignment of a variable's or state's value."""
        ir = self.ir
        if name in self.params:
            if name in self.dynamic_params:
                fn = "_minterp" if name in self.member_params else (
                    "_sinterp" if self.scalar else "np.interp")
                lines.append(f"{ind}{_ident(name)} = {fn}(time, px_{name}, py_{name})")
            else:
                lines.append(f"{ind}{_ident(name)} = p_{name}")
            return
        if name in ir.states:
            lines.append(f"{ind}{_ident(name)} = {self.state_value(name, initial)}")
            return
        v = ir.variables[name]
        if v.kind == "lookup":
            return
        if v.kind == "control" and not (self.dynamic_ctl and v.expr is not None):
            lines.append(f"{ind}{_ident(name)} = _ctl_{name}")
            return
        assert v.expr is not None
        lines.append(f"{ind}{_ident(name)} = {self.expr(v.expr, initial=initial)}")

    def program(self, outputs: Sequence[str]) -> str:
        ir = self.ir
        states = list(ir.states)
        dyn_states = [s for s in states if ir.states[s].kind != "initial"]
        # names needed each step: dependencies of derivatives
        step_roots: set[str] = set()
        for s in dyn_states:
            step_roots |= ir.states[s].deps_dynamic
            step_roots |= ir.states[s].deps_value
        static = static_names(ir, self.dynamic_params, self.static_params)
        from pvsd.engine.delayn import value_rule, varying

        self.dn_rules = {n: value_rule(ir, n, outputs, self.params) for n in varying(ir, static)}
        # overridden variables lose their own dependencies
        deps_fn = ir.value_deps

        def closure(roots: set[str]) -> set[str]:
            seen: set[str] = set()
            stack = [r for r in roots if r != "time"]
            while stack:
                n = stack.pop()
                if n in seen or (n not in ir.variables and n not in ir.states):
                    continue
                seen.add(n)
                if n in self.params:
                    continue
                stack.extend(d for d in deps_fn(n) if d != "time")
            return seen

        order_all = _order(ir, self.params, initial=False)
        init_roots: set[str] = set(states)
        init_all = _order(ir, self.params, initial=True)
        if self.dynamic_ctl:
            step_roots |= {c for c in CONTROL_NAMES if c in ir.variables}
        need_step = closure(step_roots)
        # stocks with a declared range are checked every step (tracked_ranges), so their value
        # must be computed every step even when nothing reads them and they are not an output
        need_step |= closure({v.py_name for v in ir.variables.values() if v.kind == "stock"
                              and any(_bound(b) is not None for b in (*tuple(v.limits), None, None)[:2])})
        need_out = closure(set(outputs))
        need_run = need_step | need_out
        init_need = _closure_init(ir, init_roots | (need_run & static), self.params)

        L: list[str] = []
        I1, I2 = "    ", "        "
        L.append("def _simulate(_P, _N, _times, _save, _out, _dt, _ctl, _diag):")
        L.append(f"{I1}nsave = 0")
        for c in ("initial_time", "final_time", "time_step", "saveper"):
            L.append(f"{I1}_ctl_{c} = _ctl[{c!r}]")
        for p in sorted(self.static_params):
            L.append(f"{I1}p_{p} = _P[{p!r}]")
        for p in sorted(self.dynamic_params):
            L.append(f"{I1}px_{p}, py_{p} = _P[{p!r}]")
        L.append(f"{I1}time = _ctl.get('init_clock', _times[0])")
        # initialisation pass
        for n in init_all:
            if n not in init_need:
                continue
            if n in ir.states and n not in self.params:
                self.state_init(n, L, I1)
            self.node(n, L, I1, initial=True)
        # run-phase static values (ACTIVE INITIAL switches to its run argument)
        for n in order_all:
            if n in need_run and n in static and _uses_active_initial(ir, n):
                self.node(n, L, I1, initial=False)
        out_names = list(outputs)
        dyn_order = [n for n in order_all if n in need_run and n not in static]
        step_part = [n for n in dyn_order if n in need_step]
        out_part = [n for n in dyn_order if n not in need_step]
        L.append(f"{I1}_nst = len(_times) - 1")
        if self.dynamic_ctl:
            # PySD's loop with control variables evaluated at every step: TIME STEP,
            # FINAL TIME and SAVEPER may change during the run
            # the control variables and what they depend on (time and constants only,
            # see support.inspect_ir), before everything else of the step
            ctl_need = closure({c for c in CONTROL_NAMES if c in ir.variables})
            ctl_first = [n for n in step_part if n in ctl_need]
            step_part = [n for n in step_part if n not in ctl_need]
            L.append(f"{I1}_tinit = time")
            L.append(f"{I1}_i = 0")
            L.append(f"{I1}while True:")
            L.append(f"{I2}if _i:")
        else:
            L.append(f"{I1}for _i in range(_nst + 1):")
            L.append(f"{I2}time = _times[_i]")
            L.append(f"{I2}if _i:")
        # update after the previous step's derivative (keeps one loop body)
        upd: list[str] = []
        for s in dyn_states:
            self.state_update(s, upd, I2 + "    ")
        if self.dynamic_ctl:
            upd.append(f"{I2}    time = time + _dt")
        L.extend(upd or [f"{I2}    pass"])
        if self.dynamic_ctl:
            for n in ctl_first:
                self.node(n, L, I2, initial=False)
            L.append(f"{I2}_dt = v_time_step")
            L.append(f"{I2}_prec = _dt * {RPREC!r}")
            L.append(f"{I2}_inb = time + _prec < v_final_time")
            L.append(f"{I2}_dl = time - _tinit")
            L.append(f"{I2}_sv = _dl % v_saveper < _prec or -_dl % v_saveper < _prec")
        for n in step_part:
            self.node(n, L, I2, initial=False)
        tracked = self.tracked_ranges(step_part, static)
        at = L.index(f"{I1}_nst = len(_times) - 1")
        for k, (_n, _side, bound, _tol) in enumerate(tracked):
            L.insert(at, f"{I1}_rt{k} = None; _rx{k} = {bound!r}; _rb{k} = False; _rm{k} = None")
        if tracked:
            L.insert(at, f"{I1}_tsv = time")
        L.extend(self.range_lines(tracked, I2))
        L.append(f"{I2}if {'_sv' if self.dynamic_ctl else '_save[_i]'}:")
        body: list[str] = []
        for n in out_part:
            self.node(n, body, I2 + "    ", initial=False)
        for k, n in enumerate(out_names):
            if self.dynamic_ctl:
                body.append(f"{I2}    _out[{k}].append({_ident(n)})")
            else:
                body.append(f"{I2}    _out[{k}][nsave] = {_ident(n)}")
        if self.dynamic_ctl:
            body.append(f"{I2}    _diag.setdefault('times', []).append(time)")
            body.append(f"{I2}    _diag.setdefault('steps', []).append(_dt)")
        body.append(f"{I2}    nsave += 1")
        body.extend(self.range_checks(tracked, I2 + "    "))
        L.extend(body)
        if self.dynamic_ctl:
            L.append(f"{I2}if not _inb:")
            L.append(f"{I2}    break")
            L.append(f"{I2}_i += 1")
            L.append(f"{I2}if _i > _maxsteps:")
            L.append(f"{I2}    raise _TooLong(time, _dt)")
        else:
            L.append(f"{I2}if _i == _nst:")
            L.append(f"{I2}    break")
        ddt: list[str] = []
        for s in dyn_states:
            self.state_ddt(s, ddt, I2)
        L.extend(ddt)
        if self.method == "rk4":
            L.extend(self.rk4_stages(dyn_states, step_part, ddt, I2,
                                     "_t0 + _dt" if self.dynamic_ctl else "_times[_i + 1]"))
        if tracked:
            L.extend(self.range_checks(tracked, I1))  # the last stretch after the last save
            L.append(f"{I1}_diag['ranges'] = [")
            for k, (n, side, bound, tol) in enumerate(tracked):
                if self.scalar:
                    ext, cnt = f"_rx{k}", f"int(_rb{k})"
                else:
                    lim = bound - tol if side == "below" else bound + tol
                    red = "min" if side == "below" else "max"
                    ext = f"float(np.{red}(_rm{k}))"
                    cnt = f"_rcount(_rm{k}, {lim!r}, {side == 'below'}, _N)"
                L.append(f"{I1}    ({n!r}, {side!r}, {bound!r}, {ext} if _rt{k} is not None else "
                         f"None, _rt{k}, {cnt} if _rt{k} is not None else 0),")
            L.append(f"{I1}]")
        L.append(f"{I1}return nsave")
        return "\n".join(L) + "\n"

    def tracked_ranges(self, step_part: Sequence[str],
                       static: set[str]) -> list[tuple[str, str, float, float]]:
        """(name, side, bound, tolerance) of every declared bound checked each step.

        Stocks and the auxiliaries computed every step (not constants, not
        overridden variables), with a finite ``min``/``max`` in their units field.
        """
        out: list[tuple[str, str, float, float]] = []
        every = set(step_part)
        for v in self.ir.variables.values():
            if v.py_name in self.params or v.py_name in static:
                continue
            if v.kind not in ("stock", "aux", "flow"):
                continue
            if v.kind != "stock" and v.py_name not in every:
                continue
            lims = (*tuple(v.limits), None, None)
            lo, hi = _bound(lims[0]), _bound(lims[1])
            scale = max([1.0] + [abs(b) for b in (lo, hi) if b is not None])
            tol = 1e-9 * scale
            if lo is not None:
                out.append((v.py_name, "below", lo, tol))
            if hi is not None:
                out.append((v.py_name, "above", hi, tol))
        return out

    def range_lines(self, tracked: Sequence[tuple[str, str, float, float]],
                    ind: str) -> list[str]:
        """Per-step check of the declared bounds (one reduction per bound while inside)."""
        L: list[str] = []
        for k, (n, side, bound, tol) in enumerate(tracked):
            var = self.ir.variables[n]
            # a stock's value is its state (its variable is only computed when needed)
            v = ("s_" + var.expr.name if var.kind == "stock" and isinstance(var.expr, Ref)
                 else _ident(n))
            if side == "below":
                lim, cmp, better = bound - tol, "<", "<"
            else:
                lim, cmp, better = bound + tol, ">", ">"
            if self.scalar:
                L.append(f"{ind}if {v} {cmp} {lim!r}:")
                L.append(f"{ind}    if _rt{k} is None: _rt{k} = time")
                L.append(f"{ind}    if {v} {better} _rx{k}: _rx{k} = {v}")
                L.append(f"{ind}    _rb{k} = True")
            else:
                # per member running extreme, in place (one ufunc call per bound and step);
                # bounds are tested at saved times (see range_checks)
                fn = "np.minimum" if side == "below" else "np.maximum"
                L.append(f"{ind}if _rm{k} is None: _rm{k} = _rstart({v}, _N)")
                L.append(f"{ind}else: {fn}(_rm{k}, {v}, out=_rm{k})")
        return L

    def range_checks(self, tracked: Sequence[tuple[str, str, float, float]],
                     ind: str) -> list[str]:
        """At a saved time: note the first save interval in which a bound was crossed."""
        if self.scalar or not tracked:
            return []
        L: list[str] = []
        for k, (_n, side, bound, tol) in enumerate(tracked):
            if side == "below":
                L.append(f"{ind}if _rt{k} is None and np.min(_rm{k}) < {bound - tol!r}: "
                         f"_rt{k} = (_tsv, time)")
            else:
                L.append(f"{ind}if _rt{k} is None and np.max(_rm{k}) > {bound + tol!r}: "
                         f"_rt{k} = (_tsv, time)")
        L.append(f"{ind}_tsv = time")
        return L

    def rk4_stages(self, dyn_states: list[str], step_part: list[str], ddt: list[str],
                   ind: str, t_end: str = "_times[_i + 1]") -> list[str]:
        """Stages 2-4 of the classical Runge-Kutta step (Vensim's "RK4 Fixed").

        On entry ``d_<state>`` holds k1 (the Euler derivative at the step's start).
        On exit it holds ``(k1 + 2 k2 + 2 k3 + k4) / 6`` for the continuous states
        and the stage-1 value for discrete ones (SAMPLE IF TRUE, DELAY FIXED), so
        the ordinary update at the top of the next iteration completes the step.
        """
        cont = [s for s in dyn_states if self.ir.states[s].kind in RK4_KINDS]
        if not cont:
            return []
        disc = [s for s in dyn_states if s not in cont]
        L: list[str] = [f"{ind}_t0 = time"]
        for s in cont:
            L.append(f"{ind}s0_{s} = s_{s}")
            L.append(f"{ind}k1_{s} = d_{s}")
        for s in disc:
            L.append(f"{ind}k1_{s} = d_{s}")
        for s in self.dn_rules:  # the conveyor moves once per step (stage 1)
            L.append(f"{ind}Tn1_{s} = Tn_{s}")
        stages = (("k1", "(_dt / 2)", "_t0 + _dt / 2", "k2"),
                  ("k2", "(_dt / 2)", "_t0 + _dt / 2", "k3"),
                  ("k3", "_dt", t_end, "k4"))
        for src, h, t, dst in stages:
            for s in cont:
                L.append(f"{ind}s_{s} = s0_{s} + {src}_{s} * {h}")
            L.append(f"{ind}time = {t}")
            for n in step_part:
                self.node(n, L, ind, initial=False)
            L.extend(ddt)
            for s in cont:
                L.append(f"{ind}{dst}_{s} = d_{s}")
        for s in cont:
            L.append(f"{ind}s_{s} = s0_{s}")
            L.append(f"{ind}d_{s} = (k1_{s} + 2.0 * k2_{s} + 2.0 * k3_{s} + k4_{s}) / 6.0")
        for s in disc:
            L.append(f"{ind}d_{s} = k1_{s}")
        for s in self.dn_rules:
            L.append(f"{ind}Tn_{s} = Tn1_{s}")
        L.append(f"{ind}time = _t0")
        return L


def _bound(v: Any) -> float | None:
    """A declared range bound as a finite float, or None."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _uses_active_initial(ir: ModelIR, name: str) -> bool:
    from pvsd.engine.ir import walk

    v = ir.variables.get(name)
    if v is None or v.expr is None:
        return False
    return any(isinstance(n, Call) and n.func == "active_initial" for n in walk(v.expr))


def _order(ir: ModelIR, params: frozenset[str], initial: bool) -> list[str]:
    """Evaluation order, with overridden variables treated as sources."""
    if not params:
        return ir.order(initial=initial)
    saved = {}
    try:
        for p in params:
            v = ir.variables.get(p)
            if v is not None:
                saved[p] = (v.deps_dynamic, v.deps_initial)
                v.deps_dynamic = frozenset()
                v.deps_initial = frozenset()
        return ir.order(initial=initial)
    finally:
        for p, (dd, di) in saved.items():
            ir.variables[p].deps_dynamic, ir.variables[p].deps_initial = dd, di


def _closure_init(ir: ModelIR, roots: set[str], params: frozenset[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen or n == "time" or (n not in ir.variables and n not in ir.states):
            continue
        seen.add(n)
        if n in params:
            continue
        stack.extend(ir.init_deps(n))
        if n in ir.states:
            # the value of a state at init may need its value dependencies
            stack.extend(ir.states[n].deps_value)
    return seen


# ----------------------------------------------------------------------------
# Compiled simulator
# ----------------------------------------------------------------------------


@dataclass
class Compiled:
    """One compiled configuration (parameters overridden, outputs kept)."""

    source: str
    func: Any
    outputs: tuple[str, ...]


class Simulator:
    """Vectorised simulator of one model.

    Parameters
    ----------
    ir
        The model's IR.
    exact_pow
        Compute ``^`` with the C library's ``pow`` element by element, like
        PySD's Python floats (bit-identical, slower). When False numpy's
        ``power`` is used, which can differ in the last bit.

    Raises
    ------
    NeedsFallback
        If the model uses constructs the engine does not support.
    """

    def __init__(self, ir: ModelIR, exact_pow: bool = True) -> None:
        self.ir = ir
        self.exact_pow = exact_pow
        self.unsupported = inspect_ir(ir)
        if self.unsupported:
            raise NeedsFallback(self.unsupported)
        self._cache: dict[tuple, Compiled] = {}

    # ------------------------------------------------------------------------

    def control_values(self, params: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Model-file control values (with constant overrides applied)."""
        ir = self.ir
        params = dict(params or {})

        def values(start: dict[str, Any]) -> dict[str, Any]:
            env = dict(start)
            for n in ir.order(initial=True):
                if n in params and not isinstance(params[n], TimeFunction):
                    env[n] = params[n]
                    continue
                v = ir.variables.get(n)
                if v is None or v.kind == "lookup":
                    continue
                if v.kind in ("constant", "control") or (
                    v.expr is not None and v.deps_dynamic <= set(env)
                ):
                    try:
                        env[n] = ir.evaluate(v.expr if v.expr is not None else n, env,
                                             time_step=env.get("time_step"), initial=True)
                    except (KeyError, TypeError, ValueError, ZeroDivisionError):
                        pass
            return env

        env = values({})
        if "initial_time" not in env or any(c in ir.variables and c not in env
                                            for c in CONTROL_NAMES):
            # control variables that depend on Time: PySD evaluates them with the clock
            # at 0 to find INITIAL TIME, then at INITIAL TIME
            env0 = values({"time": 0.0})
            if "initial_time" in env0:
                env = values({"time": float(np.asarray(env0["initial_time"]).flat[0])})
            env.pop("time", None)
        out = {}
        for c in ("initial_time", "final_time", "time_step", "saveper"):
            if c in env:
                val = env[c]
                arr = np.asarray(val, dtype=float)
                if arr.ndim and not np.all(arr == arr.flat[0]):
                    raise NeedsFallback([Unsupported(
                        f"per-member {ir.variables[c].name}", ir.variables[c].name)])
                out[c] = float(arr.flat[0]) if arr.ndim else float(arr)
        return out

    def compile(self, static_params: frozenset[str], dynamic_params: frozenset[str],
                outputs: tuple[str, ...], scalar: bool = False,
                method: str = "euler", dynamic_ctl: bool = False,
                member_params: frozenset[str] = frozenset()) -> Compiled:
        """Generate and compile the simulation function of one configuration.

        ``scalar=True`` generates a one-member variant on Python floats (the
        single-run path), with the same arithmetic. ``member_params``: the
        dynamic parameters whose points differ per member.
        """
        key = (static_params, dynamic_params, outputs, scalar, method, dynamic_ctl,
               member_params)
        if key in self._cache:
            return self._cache[key]
        for p in static_params | dynamic_params:
            v = self.ir.variables.get(p)
            if v is not None and v.kind in ("lookup", "data"):
                raise NeedsFallback([Unsupported("parameter on a lookup/data variable", v.name)])
        arrayed = bool(self.ir.subscripts)
        if arrayed:
            from pvsd.engine.numpy_arrays import ARRAY_RUNTIME, make_array_gen

            gen = make_array_gen(_Gen)(self.ir, static_params, dynamic_params, scalar=False,
                                       method=method, dynamic_ctl=dynamic_ctl)
        else:
            gen = _Gen(self.ir, static_params, dynamic_params, scalar=scalar, method=method,
                       dynamic_ctl=dynamic_ctl)
        gen.member_params = member_params
        src = gen.program(outputs)
        ns: dict[str, Any] = dict(_RUNTIME)
        ns["_pow"] = _pow_exact if self.exact_pow else _pow_fast
        ns["_mod"] = lambda a, b: a - _quantum(a, b)
        ns["_TooLong"] = _TooLong
        ns["_maxsteps"] = MAX_DYNAMIC_STEPS
        if arrayed:
            ns.update(ARRAY_RUNTIME)
            ns.update(gen.arrays)
        for c, (table, _c) in gen.consts.items():
            ns[c + "_x"] = np.asarray(table.x, dtype=float)
            ns[c + "_y"] = np.asarray(table.y, dtype=float)
            ns[c + "_m"] = table.mode
            ns[c + "_xl"] = [float(v) for v in table.x]
            ns[c + "_yl"] = [float(v) for v in table.y]
        code = compile(src, f"<pvsd-sim {self.ir.path}>", "exec")
        exec(code, ns)
        comp = Compiled(src, ns["_simulate"], outputs)
        self._cache[key] = comp
        return comp

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        outputs: Sequence[str] | None = None,
        n: int | None = None,
        initial_time: float | None = None,
        final_time: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        save_times: Sequence[float] | None = None,
        out: Mapping[str, np.ndarray] | None = None,
        init_clock: float | None = None,
        method: str = "euler",
        diagnostics: dict[str, Any] | None = None,
    ) -> tuple[TimeGrid, dict[str, np.ndarray]]:
        """Simulate ``n`` members at once.

        Parameters
        ----------
        params
            Python name -> scalar, array of shape ``(n,)`` or :class:`TimeFunction`
            (shared, or per member: points ``x`` ``(n, K)``, ``y`` ``(n, K[, *shape])``).
        outputs
            Python names to keep (default: every non-lookup variable).
        n
            Number of members (default: the length of the array parameters, or 1).
        initial_time, final_time, time_step, saveper, save_times
            Time settings for this call (model values when omitted).
        out
            Preallocated output arrays of shape ``(nsave, n)`` by name (optional).
        init_clock
            Time at which the states are initialised when it differs from the
            start of the integration (PySD initialises at the model's INITIAL
            TIME and then moves the clock when a run starts elsewhere).
        method
            ``"euler"`` (PySD's and Vensim's default) or ``"rk4"`` (Vensim's
            "RK4 Fixed": classical fourth-order Runge-Kutta with a fixed step;
            SAMPLE IF TRUE and DELAY FIXED update once per step at its start).
        diagnostics
            A dict to fill: ``"ranges"`` lists, per declared bound of a stock or of an
            auxiliary computed every step, ``(py_name, side, bound, extreme,
            first_time, n_members)`` (``first_time`` None when never crossed).

        Returns
        -------
        grid, values
            The time grid and, per output, an array of shape ``(nsave, n)``.
        """
        ir = self.ir
        params = dict(params or {})
        static_p: dict[str, Any] = {}
        dyn_p: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        member: set[str] = set()
        sizes = set()
        for k, v in params.items():
            if k not in ir.variables:
                raise KeyError(k)
            shape = ir.variables[k].shape
            if isinstance(v, TimeFunction) and v.per_member:
                xs, ys, m = member_points(v, shape, k)
                dyn_p[k] = (MemberPoints(xs, ys), ys)
                member.add(k)
                sizes.add(m)
                continue
            if shape:
                from pvsd.engine.numpy_arrays import prepare_param

                if isinstance(v, TimeFunction):
                    x = np.asarray(v.x, dtype=float)
                    y = np.asarray(v.y, dtype=float)
                    y = np.broadcast_to(y.reshape(len(x), *([1] * len(shape))) if y.ndim == 1
                                        else y, (len(x), *shape))[..., None]
                    dyn_p[k] = (x, np.ascontiguousarray(y))
                else:
                    static_p[k], m = prepare_param(v, shape, k)
                    if m is not None:
                        sizes.add(m)
                continue
            if isinstance(v, TimeFunction):
                dyn_p[k] = (np.asarray(v.x, dtype=float), np.asarray(v.y, dtype=float))
            else:
                a = np.asarray(v, dtype=float)
                if a.ndim == 0:
                    static_p[k] = float(a)
                elif a.ndim == 1:
                    static_p[k] = a
                    sizes.add(a.shape[0])
                else:
                    raise ValueError(f"parameter {k!r} must be a scalar or 1-d array")
        if len(sizes) > 1:
            raise ValueError(f"parameter arrays have different lengths {sorted(sizes)}")
        N = n if n is not None else (sizes.pop() if sizes else 1)
        if sizes and N not in sizes:
            raise ValueError(f"n={N} but parameter arrays have length {sizes}")
        ctl = self.control_values({k: v for k, v in static_p.items()
                                   if not ir.variables[k].shape})
        if initial_time is not None:
            ctl["initial_time"] = float(initial_time)
        if time_step is not None:
            ctl["time_step"] = float(time_step)
            if saveper is None and _saveper_follows_dt(ir):
                ctl["saveper"] = float(time_step)
        if final_time is not None:
            ctl["final_time"] = float(final_time)
        if saveper is not None:
            ctl["saveper"] = float(saveper)
        if save_times is not None and final_time is None:
            ctl["final_time"] = float(max(save_times))
        grid = time_grid(ctl["initial_time"], ctl["final_time"], ctl["time_step"],
                         ctl.get("saveper"), save_times)
        if outputs is None:
            outputs = [v.py_name for v in ir.variables.values() if v.kind not in ("lookup", "data")]
        outputs = tuple(outputs)
        scalar = N == 1 and not ir.subscripts
        if ir.subscripts:
            static_p = {k: (np.broadcast_to(v, (*ir.variables[k].shape, N))
                            if ir.variables[k].shape else v) for k, v in static_p.items()}
        if scalar:
            static_p = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in static_p.items()}
            # one member: its own points are a shared time function
            dyn_p = {k: ((x.xs[:, 0], y[:, 0]) if k in member else (x, y))
                     for k, (x, y) in dyn_p.items()}
            dyn_p = {k: (x.tolist(), y.tolist()) for k, (x, y) in dyn_p.items()}
            member.clear()
        method = check_method(method)
        comp = self.compile(frozenset(static_p), frozenset(dyn_p), outputs, scalar=scalar,
                            method=method, member_params=frozenset(member))
        nsave = int(grid.save.sum())
        shapes = [ir.variables[o].shape if o in ir.variables else () for o in outputs]
        # arrayed outputs are filled in the internal layout (nsave, *shape, N)
        arrays = [np.empty((nsave, *sh, N), dtype=float) if sh else
                  (out[o] if out is not None else np.empty((nsave, N), dtype=float))
                  for o, sh in zip(outputs, shapes, strict=True)]
        if init_clock is not None:
            ctl["init_clock"] = float(init_clock)
        P: dict[str, Any] = dict(static_p)
        P.update(dyn_p)
        with np.errstate(all="ignore"):
            comp.func(P, N, grid.times.tolist(), grid.save.tolist(), arrays,
                      ctl["time_step"], ctl, diagnostics if diagnostics is not None else {})
        result = {}
        for o, a, sh in zip(outputs, arrays, shapes, strict=True):
            if sh:
                a = np.moveaxis(a, -1, 1)  # public layout (nsave, n, *shape)
                if out is not None and o in out:
                    out[o][...] = a
                    a = out[o]
            result[o] = a
        return grid, result


    @property
    def dynamic_controls(self) -> list[str]:
        """Python names of the control variables that change during a run."""
        from pvsd.engine.support import static_names

        static = static_names(self.ir)
        return [c for c in CONTROL_NAMES if c in self.ir.variables and c not in static]

    def run_dynamic(
        self,
        params: Mapping[str, Any] | None = None,
        outputs: Sequence[str] | None = None,
        n: int = 1,
        method: str = "euler",
        diagnostics: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Simulate with the control variables evaluated at every step, as PySD does.

        For models whose FINAL TIME, TIME STEP or SAVEPER change during the run
        (e.g. ``FINAL TIME = IF THEN ELSE(Time < 5, 10, 50)``): the run goes on
        while ``time + TIME STEP * 1e-5 < FINAL TIME`` (both at the current time),
        each step uses the current TIME STEP, and a time is saved when it is a
        multiple of the current SAVEPER from the initial time.

        Returns
        -------
        times, values
            Saved times (rounded like PySD's index) and, per output, ``(nsave, n)``.
        """
        params = dict(params or {})
        for k, v in params.items():
            if k not in self.ir.variables:
                raise KeyError(k)
            if isinstance(v, TimeFunction) or np.ndim(v) != 0:
                raise NeedsFallback([Unsupported(
                    "time-varying control variables with per-member or time-varying parameters",
                    self.ir.variables[k].name)])
        static_p = {k: float(v) for k, v in params.items()}
        ctl = self.control_values(static_p)
        if outputs is None:
            outputs = [v.py_name for v in self.ir.variables.values()
                       if v.kind not in ("lookup", "data")]
        outputs = tuple(outputs)
        method = check_method(method)
        comp = self.compile(frozenset(static_p), frozenset(), outputs, scalar=n == 1,
                            method=method, dynamic_ctl=True)
        lists: list[list[Any]] = [[] for _ in outputs]
        diag: dict[str, Any] = {}
        with np.errstate(all="ignore"):
            comp.func(dict(static_p), n, [ctl["initial_time"]], [], lists, ctl["time_step"],
                      ctl, diag)
        times = np.array([np.round(t, -int(np.log10(d * RPREC)))
                          for t, d in zip(diag.get("times", []), diag.get("steps", []),
                                          strict=True)], dtype=float)
        values = {o: np.stack([np.broadcast_to(np.asarray(x, float), (n,)) for x in col])
                  if col else np.empty((0, n)) for o, col in zip(outputs, lists, strict=True)}
        if diagnostics is not None:
            diagnostics.update({k: v for k, v in diag.items() if k not in ("times", "steps")})
        return times, values


#: Most steps of a run whose control variables change during the run (a guard
#: against a FINAL TIME that keeps moving away).
MAX_DYNAMIC_STEPS = 50_000_000


class _TooLong(Exception):
    def __init__(self, time: float, dt: float) -> None:
        super().__init__(f"still running at time {time:g} (TIME STEP {dt:g}) after "
                         f"{MAX_DYNAMIC_STEPS:,} steps: FINAL TIME keeps moving away")


def _saveper_follows_dt(ir: ModelIR) -> bool:
    v = ir.variables.get("saveper")
    return v is not None and isinstance(v.expr, Ref) and v.expr.name == "time_step"
