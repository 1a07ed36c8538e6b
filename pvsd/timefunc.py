"""Time-varying parameter values: steps, ramps and tables of (time, value).

A lever that changes during a run is represented as a piecewise-linear function
of model time. Each simulation engine evaluates it inside the simulation, at
every time step (PySD through a time-indexed series, pvsd's engine through
``numpy.interp``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pvsd.errors import ParameterError

__all__ = ["MemberPiecewise", "PiecewiseLinear", "Ramp", "Step", "Table", "TimeFunction"]

# Width of the jump of a step, relative to the magnitude of its time; small enough
# that no time step a model uses can fall inside it.
_STEP_EPS = 1e-9


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ParameterError(f"{what} must be a number, got {value!r}.")
    out = float(value)
    if not math.isfinite(out):
        raise ParameterError(f"{what} must be finite, got {value!r}.")
    return out


@dataclass(frozen=True)
class PiecewiseLinear:
    """Values at time points, linearly interpolated and held constant beyond the ends."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, t: float | np.ndarray) -> float | np.ndarray:
        return np.interp(t, self.x, self.y)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The points as two float arrays."""
        return np.asarray(self.x, float), np.asarray(self.y, float)


@dataclass(frozen=True, eq=False)
class MemberPiecewise:
    """One piecewise-linear function of time per ensemble member.

    ``x`` has shape ``(n, K)``, ``y`` ``(n, K)`` (or ``(n, K, *shape)`` for an
    arrayed constant); member ``i`` uses its first ``k[i]`` points, the rest
    repeat its last point (which ``numpy.interp`` evaluates the same). Indexing
    with an integer gives that member's :class:`PiecewiseLinear` (or
    :class:`pvsd.arrays.ArrayPiecewise`), with a slice or an index array those members.
    """

    x: np.ndarray
    y: np.ndarray
    k: np.ndarray

    @classmethod
    def stack(cls, points: Sequence[tuple[np.ndarray, np.ndarray]],
              index: Sequence[int] | np.ndarray | None = None) -> MemberPiecewise:
        """Stack ``(x, y)`` point sets; ``index`` picks one set per member (default: each once)."""
        if not points:
            raise ParameterError("no time functions to stack")
        kk = np.array([len(x) for x, _ in points], dtype=int)
        K = int(kk.max())
        tail = np.shape(points[0][1])[1:]
        X = np.empty((len(points), K))
        Y = np.empty((len(points), K, *tail))
        for j, (x, y) in enumerate(points):
            x = np.asarray(x, float)
            y = np.asarray(y, float)
            if y.shape[1:] != tail:
                raise ParameterError("time functions of one column must all have the same shape")
            X[j, : len(x)] = x
            X[j, len(x):] = x[-1]
            Y[j, : len(x)] = y
            Y[j, len(x):] = y[-1]
        idx = np.arange(len(points)) if index is None else np.asarray(index, dtype=int)
        return cls(X[idx], Y[idx], kk[idx])

    def __len__(self) -> int:
        return len(self.k)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, (slice, np.ndarray, list)):  # a subset of members
            return MemberPiecewise(self.x[i], self.y[i], self.k[i])
        k = int(self.k[i])
        x = self.x[i, :k]
        if self.y.ndim > 2:
            from pvsd.arrays import ArrayPiecewise

            return ArrayPiecewise(tuple(map(float, x)), np.array(self.y[i, :k]))
        return PiecewiseLinear(tuple(map(float, x)), tuple(map(float, self.y[i, :k])))


class TimeFunction:
    """Base class of time-varying lever settings."""

    def points(self, baseline: float, start: float, end: float) -> PiecewiseLinear:
        """Piecewise-linear points over ``[start, end]`` given the lever's baseline value."""
        raise NotImplementedError

    def describe(self) -> str:
        """A short human-readable description."""
        raise NotImplementedError

    def to_toml(self) -> dict[str, object]:
        """The inline-table form used in scenario files."""
        raise NotImplementedError


@dataclass(frozen=True)
class Step(TimeFunction):
    """Jump from ``before`` (default: the model's value) to ``to`` at time ``at``."""

    at: float
    to: float
    before: float | None = None

    def __post_init__(self) -> None:
        _finite(self.at, "step year")
        _finite(self.to, "step value 'to'")
        if self.before is not None:
            _finite(self.before, "step value 'from'")

    def points(self, baseline: float, start: float, end: float) -> PiecewiseLinear:
        v0 = baseline if self.before is None else float(self.before)
        eps = _STEP_EPS * max(1.0, abs(self.at))
        return PiecewiseLinear((self.at - eps, float(self.at)), (v0, float(self.to)))

    def describe(self) -> str:
        frm = "" if self.before is None else f" from {self.before:g}"
        return f"step{frm} to {self.to:g} in {self.at:g}"

    def to_toml(self) -> dict[str, object]:
        out: dict[str, object] = {"step": self.at, "to": self.to}
        if self.before is not None:
            out["from"] = self.before
        return out


@dataclass(frozen=True)
class Ramp(TimeFunction):
    """Linear change from ``start_value`` (default: the model's value) to ``to``."""

    start: float
    end: float
    to: float
    start_value: float | None = None

    def __post_init__(self) -> None:
        _finite(self.start, "ramp start year")
        _finite(self.end, "ramp end year")
        _finite(self.to, "ramp value 'to'")
        if self.start_value is not None:
            _finite(self.start_value, "ramp value 'from'")
        if self.end <= self.start:
            raise ParameterError(
                f"A ramp must end after it starts: got [{self.start:g}, {self.end:g}]. "
                "Write ramp = [start_year, end_year] with start_year < end_year."
            )

    def points(self, baseline: float, start: float, end: float) -> PiecewiseLinear:
        v0 = baseline if self.start_value is None else float(self.start_value)
        return PiecewiseLinear((float(self.start), float(self.end)), (v0, float(self.to)))

    def describe(self) -> str:
        frm = "" if self.start_value is None else f" from {self.start_value:g}"
        return f"ramp{frm} to {self.to:g} over {self.start:g}-{self.end:g}"

    def to_toml(self) -> dict[str, object]:
        out: dict[str, object] = {"ramp": [self.start, self.end], "to": self.to}
        if self.start_value is not None:
            out["from"] = self.start_value
        return out


@dataclass(frozen=True)
class Table(TimeFunction):
    """Values at given times, linearly interpolated, held constant outside."""

    times: tuple[float, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.times) == 0 or len(self.times) != len(self.values):
            raise ParameterError(
                "A table lever needs one or more [year, value] pairs, "
                f"got {len(self.times)} years and {len(self.values)} values."
            )
        for t in self.times:
            _finite(t, "table year")
        for v in self.values:
            _finite(v, "table value")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ParameterError(
                f"Table lever years must increase strictly, got {list(self.times)}."
            )

    @classmethod
    def from_pairs(cls, pairs: Sequence[Sequence[float]]) -> Table:
        """Build from ``[[year, value], ...]``."""
        try:
            times, values = zip(*[(p[0], p[1]) for p in pairs], strict=True)
        except (TypeError, IndexError, ValueError):
            raise ParameterError(
                f"A table lever is a list of [year, value] pairs, got {pairs!r}."
            ) from None
        return cls(tuple(times), tuple(values))

    def points(self, baseline: float, start: float, end: float) -> PiecewiseLinear:
        return PiecewiseLinear(tuple(map(float, self.times)), tuple(map(float, self.values)))

    def describe(self) -> str:
        return "table " + ", ".join(f"{t:g}: {v:g}" for t, v in zip(self.times, self.values, strict=True))

    def to_toml(self) -> dict[str, object]:
        return {"table": [[t, v] for t, v in zip(self.times, self.values, strict=True)]}
