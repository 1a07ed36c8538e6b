"""Time-varying parameters of the vectorised simulator.

:class:`TimeFunction` holds piecewise-linear points, shared by all members or
one set per member; :func:`member_points` puts per-member points in the
engine's layout, :class:`MemberPoints` prepares them once per run and
:func:`_minterp` evaluates them for all members at once with the same
arithmetic as ``np.interp``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MemberPoints", "TimeFunction", "member_points"]


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
