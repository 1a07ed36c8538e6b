"""Subscripts (arrays) in pvsd's IR.

An arrayed model's IR keeps PySD's dimension names and element order
(``ModelIR.subscripts``; ``Variable.dims``/``Variable.shape``). Array
semantics are resolved when the IR is built, following PySD's builder
(``pysd.builders.python``) rule for rule, so that a back end only has to
index, transpose/expand and reduce:

* :class:`ARef` -- a reference with subscripts: per source axis an element
  position (the axis disappears), a tuple of positions (a subrange) or None
  (whole axis), and the labelled dims of the result (after subrange renaming
  and mapping between ranges, which PySD applies positionally).
* :class:`Align` -- bring a labelled array from dims ``src`` to ``dst``
  (transposition, and up-dimensioning with broadcast axes).
* :class:`Reduce` -- SUM/PROD/VMIN/VMAX over the ``!`` dims (NaN skipped, as
  xarray does in PySD).
* :class:`ArrayNum` -- an array literal (or a subscript used as a number).
* :class:`Component` -- one definition of an arrayed variable: the block of
  the variable it fills (positions per axis, EXCEPT blocks removed) and its
  expression, already aligned to the block's axes.

Labelled dims are names; dims named ``"X!"`` are the ones a reduction sums over.
Every arrayed value a back end computes has one axis per dim (size = the
dim's length or 1, broadcast) plus the member axis; a value with no dims may
be a plain number.

The builder that resolves PySD's array rules into these nodes is
:mod:`pvsd.engine.ir_arrays_build`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pvsd.engine.ir import Expr, Ref

__all__ = ["ARef", "Align", "ArrayNum", "ArrayTable", "Component", "Reduce", "TableCall"]


@dataclass(frozen=True)
class ARef(Ref):
    """Reference with subscripts (``Ref`` subclass: dependency code sees a Ref).

    Attributes
    ----------
    index
        Per axis of the referenced variable: ``int`` (one element),
        ``tuple[int, ...]`` (a selection, in that order) or ``None`` (all).
    dims
        Labelled dims of the result, one per axis not indexed by an int.
    """

    index: tuple = ()
    dims: tuple[str, ...] = ()


@dataclass(frozen=True)
class Align(Expr):
    """Reorder/expand a labelled array from dims ``src`` to ``dst`` (``src`` subset of ``dst``)."""

    expr: Expr
    src: tuple[str, ...]
    dst: tuple[str, ...]

    def children(self) -> tuple[Expr, ...]:
        return (self.expr,)


@dataclass(frozen=True)
class Reduce(Expr):
    """``func`` (sum, prod, vmin, vmax) of ``expr`` (dims ``src``) over the ``axes`` positions."""

    func: str
    expr: Expr
    src: tuple[str, ...]
    axes: tuple[int, ...]

    def children(self) -> tuple[Expr, ...]:
        return (self.expr,)


@dataclass(frozen=True)
class ArrayNum(Expr):
    """An array of numbers with labelled dims (row-major ``values``)."""

    values: tuple[float, ...]
    shape: tuple[int, ...]
    dims: tuple[str, ...]


@dataclass(frozen=True)
class ArrayTable:
    """A table over a leading axis (lookup x or data time) for every element.

    Built at IR time with PySD's own loaders (hard-coded lookups, GET XLS/DIRECT
    LOOKUPS and DATA), so values and merging of definitions are PySD's.

    Attributes
    ----------
    x
        The leading axis (increasing).
    y
        Row-major values of shape ``(len(x), *shape)``.
    shape
        Element shape (the variable's).
    mode
        ``interpolate``, ``extrapolate``, ``hold_backward`` (lookups) or
        ``interpolate``, ``raw``, ``look_forward``, ``hold_backward`` (data).
    data
        Data semantics (no extrapolation) instead of lookup semantics.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    shape: tuple[int, ...]
    mode: str = "interpolate"
    data: bool = False


@dataclass(frozen=True)
class TableCall(Expr):
    """An :class:`ArrayTable` variable evaluated at ``arg``.

    ``index``/``dims`` select and label the table's element axes as in
    :class:`ARef`; ``arg`` (dims ``arg_dims``) and the selection are both
    aligned to ``dims_out``. A data variable is ``TableCall(name, ..., Ref("time"))``.
    """

    name: str
    index: tuple
    dims: tuple[str, ...]
    arg: Expr
    arg_dims: tuple[str, ...]
    dims_out: tuple[str, ...]

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class Component:
    """One definition (equation) of an arrayed variable.

    Attributes
    ----------
    index
        Per axis of the variable, the element positions the definition covers
        (the block is their outer product).
    exclude
        EXCEPT blocks (same form as ``index``) left out of the block.
    expr
        The value, aligned to the block's axes (may broadcast).
    dims
        Labelled dims of the block (as written on the left-hand side).
    """

    index: tuple[tuple[int, ...], ...]
    exclude: tuple[tuple[tuple[int, ...], ...], ...]
    expr: Expr
    dims: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the block."""
        return tuple(len(i) for i in self.index)
