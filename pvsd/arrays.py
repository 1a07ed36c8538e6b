"""Subscripted (arrayed) variables: element names, full arrays and their conversions.

Elements are addressed as in Vensim: ``Population[Town A]``, ``Population[Town A, Young]``;
the whole array is ``Population``. A *label* is the canonical spelling of such a
name: the variable's model-file name, then ``[e1,e2]`` with the elements as written
in the model file, separated by a comma without space (PySD's flattened convention).

Dimension names and element order come from PySD's translation (the module's
``_subscript_dict`` and each variable's subscripts), the same source the engine uses.

Setting values. Every value given for an arrayed constant is turned into one full
array in the variable's dims order, starting from the model's own values: a scalar
broadcasts, a mapping sets elements by name, a list/array gives the elements in order
(shape of the variable), an ``xarray.DataArray`` is aligned by its dims. A time-varying
setting of any element makes the whole variable an :class:`ArrayPiecewise`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from pvsd.errors import ParameterError, UnknownVariableError
from pvsd.naming import normalize

__all__ = [
    "ArrayPiecewise",
    "Dims",
    "element_labels",
    "label",
    "pysd_cell",
    "split_label",
    "split_list",
]

_LABEL = re.compile(r"^\s*(?P<name>[^\[\]]+?)\s*\[(?P<elems>[^\[\]]*)\]\s*$")


def split_label(text: str) -> tuple[str, tuple[str, ...] | None]:
    """``"Pop[Town A, Young]"`` -> ``("Pop", ("Town A", "Young"))``; ``"Pop"`` -> ``("Pop", None)``."""
    m = _LABEL.match(str(text))
    if not m:
        return str(text), None
    return m.group("name"), tuple(e.strip().strip('"') for e in m.group("elems").split(","))


def label(name: str, elements: Sequence[str] | None) -> str:
    """The canonical label of a variable or of one of its elements."""
    return name if elements is None else f"{name}[{','.join(elements)}]"


def split_list(text: str) -> list[str]:
    """Split a comma-separated list of names, keeping commas inside brackets."""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [s.strip() for s in out if s.strip()]


@lru_cache(maxsize=4096)
def _element_table(elems: tuple[str, ...]) -> dict[str, str]:
    # built once per dimension: a panel on a unit dimension names thousands of element columns
    return {normalize(e): e for e in elems}


@dataclass(frozen=True)
class Dims:
    """Dimensions of one variable: names (PySD order) and the elements along each."""

    dims: tuple[str, ...]
    coords: tuple[tuple[str, ...], ...]
    #: The element tuples the model defines, when its equations cover only part of the full
    #: array (``var2[dim, female]`` of a ``var2[dim, dim2]``); None = every element. The others
    #: have no equation: they are NaN in the full array and are neither listed nor addressable.
    defined: frozenset[tuple[str, ...]] | None = field(default=None, compare=False)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.coords)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.dims else 1

    def elements(self) -> list[tuple[str, ...]]:
        """Every element tuple, in C (row-major) order of the full array."""
        return list(itertools.product(*self.coords))

    def defined_elements(self) -> list[tuple[str, ...]]:
        """The element tuples the model defines, in C order (all of them unless ``defined``)."""
        every = self.elements()
        return every if self.defined is None else [e for e in every if e in self.defined]

    def index(self, name: str, given: Sequence[str], where: str = "", model: str = ""
              ) -> tuple[str, ...]:
        """Canonical element tuple for the user's spelling (ignoring case/spaces/underscores)."""
        if len(given) != len(self.dims):
            raise UnknownVariableError(
                f"{name}[{', '.join(given)}]", where=where, model=model,
                hint=f"{name!r} has {len(self.dims)} dimension(s) "
                f"({', '.join(self.dims) or 'none'}): give one element per dimension, e.g. "
                f"{label(name, tuple(c[0] for c in self.coords))!r}." if self.dims else
                f"{name!r} is not subscripted: name it without brackets.",
            )
        out = []
        for dim, elems, g in zip(self.dims, self.coords, given, strict=True):
            hit = _element_table(tuple(elems)).get(normalize(g))
            if hit is None:
                raise UnknownVariableError(
                    f"{name}[{', '.join(given)}]", where=where, model=model,
                    hint=f"{g!r} is not an element of dimension {dim!r} of {name!r}; its "
                    f"elements are: {', '.join(elems)}.",
                )
            out.append(hit)
        if self.defined is not None and tuple(out) not in self.defined:
            some = ", ".join(label(name, e) for e in self.defined_elements()[:4])
            raise UnknownVariableError(
                label(name, tuple(out)), where=where, model=model,
                hint=f"the model has no equation for this element: {name!r} is defined only "
                f"for {len(self.defined)} of its {self.size} elements ({some}"
                f"{', ...' if len(self.defined) > 4 else ''}).",
            )
        return tuple(out)

    def position(self, elements: Sequence[str]) -> tuple[int, ...]:
        return tuple(c.index(e) for c, e in zip(self.coords, elements, strict=True))

    def full(self, value: Any, base: np.ndarray, name: str, where: str = "") -> np.ndarray:
        """A whole-array value (scalar, mapping, list/array, DataArray) as a full array."""
        try:
            import xarray as xr
        except ImportError:  # pragma: no cover - xarray is a dependency
            xr = None
        if xr is not None and isinstance(value, xr.DataArray):
            extra = [d for d in value.dims if d not in self.dims]
            if extra:
                raise ParameterError(
                    f"{name!r} in {where}: the DataArray has dims {list(value.dims)}, but the "
                    f"variable's dims are {list(self.dims)}."
                )
            coords = {d: list(c) for d, c in zip(self.dims, self.coords, strict=True)}
            try:
                arr = value.reindex({d: coords[d] for d in value.dims})
                arr = arr.broadcast_like(xr.DataArray(np.zeros(self.shape), coords, self.dims))
                out = arr.transpose(*self.dims).to_numpy().astype(float)
            except Exception as exc:
                raise ParameterError(f"{name!r} in {where}: cannot align the DataArray ({exc}).") \
                    from None
            if np.isnan(out).any():
                raise ParameterError(
                    f"{name!r} in {where}: the DataArray lacks some elements ({coords})."
                )
            return out
        if isinstance(value, Mapping):
            out = np.array(base, dtype=float, copy=True)
            for key, v in value.items():
                given = tuple(split_list(str(key))) if not isinstance(key, tuple) else key
                elems = self.index(name, given, where=where)
                out[self.position(elems)] = _number(v, label(name, elems), where)
            return out
        if isinstance(value, (list, tuple, np.ndarray)):
            arr = np.asarray(value, dtype=float)
            if arr.shape != self.shape:
                if arr.size == self.size and arr.ndim == 1:
                    arr = arr.reshape(self.shape)
                else:
                    raise ParameterError(
                        f"{name!r} in {where}: expected {self.size} values in element order "
                        f"({', '.join(label(name, e) for e in self.elements()[:4])}"
                        f"{', ...' if self.size > 4 else ''}), shape {self.shape}, got shape "
                        f"{arr.shape}."
                    )
            return arr.copy()
        return np.full(self.shape, _number(value, name, where), dtype=float)

    def to_xarray(self, values: np.ndarray) -> Any:
        import xarray as xr

        return xr.DataArray(np.asarray(values, dtype=float),
                            coords={d: list(c) for d, c in zip(self.dims, self.coords, strict=True)},
                            dims=list(self.dims))


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise ParameterError(
            f"{name!r} in {where}: an element value must be a number, got "
            f"{type(value).__name__} {value!r}."
        )
    v = float(value)
    if not math.isfinite(v):
        raise ParameterError(f"{name!r} in {where} must be finite, got {value!r}.")
    return v


@dataclass(frozen=True, eq=False)
class ArrayPiecewise:
    """A time-varying setting of an arrayed constant: ``y`` has shape ``(len(x), *shape)``.

    Each element is linearly interpolated between the points and held constant beyond
    the ends (the arrayed form of :class:`pvsd.timefunc.PiecewiseLinear`).
    """

    x: tuple[float, ...]
    y: np.ndarray

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.x, float), np.asarray(self.y, float)

    def __call__(self, t: float) -> np.ndarray:
        x = np.asarray(self.x, float)
        flat = self.y.reshape(len(x), -1)
        return np.array([np.interp(t, x, flat[:, j]) for j in range(flat.shape[1])]
                        ).reshape(self.y.shape[1:])

    @classmethod
    def combine(cls, base: np.ndarray, per_element: Mapping[tuple[int, ...], Any]
                ) -> ArrayPiecewise:
        """Constant ``base`` with some elements replaced by piecewise-linear functions.

        Evaluated on the union of the breakpoints, which reproduces each element's
        piecewise-linear function exactly.
        """
        xs = sorted({float(v) for f in per_element.values() if hasattr(f, "x") for v in f.x})
        x = np.asarray(xs, float)
        y = np.repeat(np.asarray(base, float)[None, ...], len(x), axis=0)
        for pos, f in per_element.items():
            sl = (slice(None), *pos)
            if hasattr(f, "x"):
                fx, fy = np.asarray(f.x, float), np.asarray(f.y, float)
                y[sl] = np.interp(x, fx, fy)
            else:
                y[sl] = float(f)
        return cls(tuple(xs), y)

    def describe(self) -> dict[str, Any]:
        return {"time": list(self.x), "value": np.asarray(self.y).tolist()}


def element_labels(name: str, dims: Dims) -> list[str]:
    """Labels of every defined element of an arrayed variable, in array order."""
    return [label(name, e) for e in dims.defined_elements()]


def pysd_cell(cell: Any, dims: Sequence[str], coords: Mapping[str, Sequence[str]],
              shape: tuple[int, ...]) -> np.ndarray:
    """One saved value of a PySD run as a full array in ``dims`` order.

    PySD returns a variable defined on part of a dimension (``var2[dim, female]``) with
    only those coordinates; they are put at their own positions, NaN elsewhere, never
    broadcast over the missing elements. A number, or a value lacking a dimension, is the
    same along it.
    """
    if not hasattr(cell, "transpose"):
        return np.broadcast_to(np.asarray(cell, float), shape)
    present = [d for d in dims if d in cell.dims]
    want = {d: list(coords[d]) for d in present if d in coords}
    if any(len(cell.coords[d]) != len(c) or list(cell.coords[d].values) != c
           for d, c in want.items()):
        cell = cell.reindex(want)
    arr = np.asarray(cell.transpose(*present, ...).values, float)
    # a dimension PySD left out: insert it (length 1) at its place, then broadcast
    for k, d in enumerate(dims):
        if d not in cell.dims:
            arr = np.expand_dims(arr, k)
    return np.broadcast_to(arr, shape)
