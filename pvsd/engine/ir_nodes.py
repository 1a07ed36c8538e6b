"""Expression nodes of pvsd's IR (see :mod:`pvsd.engine.ir`).

Immutable, hashable trees (:class:`Num`, :class:`Ref`, :class:`BinOp`, ...), lookup
tables, the walkers :func:`walk` and :func:`references`, and the constants every
back end shares (:data:`SMALL_VENSIM`, :data:`CONTROL_NAMES`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: What Vensim (and PySD) consider zero in XIDZ/ZIDZ/QUANTUM/PULSE.
SMALL_VENSIM = 1e-6

#: Python names of the control variables.
CONTROL_NAMES = ("initial_time", "final_time", "time_step", "saveper")


# ----------------------------------------------------------------------------
# Expression nodes
# ----------------------------------------------------------------------------


class Expr:
    """Base class of expression nodes (immutable, hashable)."""

    __slots__ = ()

    def children(self) -> tuple[Expr, ...]:
        """Direct sub-expressions."""
        return ()


@dataclass(frozen=True)
class Num(Expr):
    """A numeric literal (``nan`` allowed)."""

    value: float


@dataclass(frozen=True)
class Ref(Expr):
    """Reference to a variable, an internal state or ``time`` (by Python name)."""

    name: str


@dataclass(frozen=True)
class BinOp(Expr):
    """Binary operation.

    ``op`` is one of ``+ - * / ^`` (arithmetic), ``= <> < <= > >=``
    (comparisons, result 1.0/0.0 semantics of Python booleans) and
    ``and``/``or`` (logical, numpy ``logical_and``/``logical_or``).
    """

    op: str
    left: Expr
    right: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class UnaryOp(Expr):
    """Unary operation: ``"neg"`` (arithmetic negation) or ``"not"`` (logical)."""

    op: str
    operand: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.operand,)


@dataclass(frozen=True)
class Call(Expr):
    """Call to a builtin function, by PySD's function name.

    Supported names: ``abs, min, max, exp, ln, log, sqrt, sin, cos, tan,
    arcsin, arccos, arctan, sinh, cosh, tanh, power, pi, integer, modulo,
    quantum, xidz, zidz, if_then_else, step, ramp, Xramp, pulse, Xpulse,
    pulse_train, Xpulse_train, active_initial``. Anything else is reported as
    unsupported by :mod:`pvsd.engine.support`.
    """

    func: str
    args: tuple[Expr, ...]

    def children(self) -> tuple[Expr, ...]:
        return self.args


@dataclass(frozen=True)
class LookupTable:
    """A graphical function (lookup table).

    Attributes
    ----------
    x, y
        Points, ``x`` strictly increasing.
    mode
        ``"interpolate"`` (hold the end values outside the range, PySD's
        default), ``"extrapolate"`` (linear extrapolation from the two end
        points) or ``"hold_backward"`` (step function).
    """

    x: tuple[float, ...]
    y: tuple[float, ...]
    mode: str = "interpolate"


@dataclass(frozen=True)
class LookupCall(Expr):
    """Call of a lookup variable (by Python name) with one argument."""

    lookup: str
    arg: Expr

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


@dataclass(frozen=True)
class InlineLookup(Expr):
    """``WITH LOOKUP`` / inline graphical function: always hold-ends interpolation."""

    arg: Expr
    table: LookupTable

    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)


def walk(expr: Expr) -> Iterator[Expr]:
    """Yield ``expr`` and all its sub-expressions (pre-order)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children()))


def references(expr: Expr | None) -> set[str]:
    """Python names referenced by ``expr`` (variables, lookups, states, time)."""
    out: set[str] = set()
    if expr is None:
        return out
    for node in walk(expr):
        if isinstance(node, Ref):
            out.add(node.name)
        elif isinstance(node, LookupCall):
            out.add(node.lookup)
        elif isinstance(node, Call) and node.func in TIME_FUNCS:
            out.add("time")
    return out


#: Builtins whose value depends on the simulation time (and TIME STEP).
TIME_FUNCS = frozenset({"step", "ramp", "Xramp", "pulse", "Xpulse", "pulse_train", "Xpulse_train"})


ExprLike = Expr | float
