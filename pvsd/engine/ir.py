"""pvsd's intermediate representation (IR) of a system-dynamics model.

The IR is built from PySD's *abstract model* (the translator output that sits
between a Vensim/XMILE file and PySD's generated Python module). It is small,
typed, independent of numpy, and meant for reuse by several back ends:

* :mod:`pvsd.engine.numpy_backend` compiles it to a vectorised simulator;
* a loop-analysis module evaluates single equations with chosen inputs
  (:meth:`ModelIR.evaluate`) and walks the causal graph (:meth:`ModelIR.graph`);
* a JavaScript compiler walks the expression trees (:mod:`Expr` subclasses).

Expression trees reproduce PySD's evaluation order exactly: PySD generates a
flat Python expression for every arithmetic structure and lets Python's
precedence rules group it; :func:`_fold` does the same grouping here, so a back
end that evaluates the tree node by node performs the same floating-point
operations in the same order as PySD.

Names
-----
Every variable has its model-file name (``Variable.name``, e.g.
``"Public Trust"``) and the Python identifier PySD gives it
(``Variable.py_name``, e.g. ``"public_trust"``). Expression references
(:class:`Ref`) use Python names; ``"time"`` is the simulation time. Internal
states created for stateful builtins (SMOOTH, DELAY, TREND ...) are named like
PySD's objects (``"_smooth_x"``, ``"_delay_x"`` ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "CONTROL_NAMES",
    "SMALL_VENSIM",
    "BinOp",
    "Call",
    "Expr",
    "InlineLookup",
    "LookupCall",
    "LookupTable",
    "ModelIR",
    "Num",
    "Ref",
    "Stateful",
    "UnaryOp",
    "Unsupported",
    "Variable",
    "build_ir",
    "references",
    "walk",
]

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


# ----------------------------------------------------------------------------
# Model structures
# ----------------------------------------------------------------------------


@dataclass
class Stateful:
    """A state-holding object: a stock or the expansion of a stateful builtin.

    Attributes
    ----------
    py_name
        Name of the internal state (``_integ_x``, ``_smooth_x`` ...).
    kind
        ``integ``, ``smooth``, ``delay``, ``delayn``, ``delay_fixed``,
        ``trend``, ``forecast``, ``sample_if_true``, ``initial``.
    owner
        Python name of the variable whose equation contains it.
    args
        Argument expressions. By kind:

        - integ: ``flow``, ``initial``; ``non_negative`` flag in :attr:`non_negative`
        - smooth: ``input``, ``smooth_time``, ``initial``, ``order``. State has
          ``order`` stages; ``ddt_i = (target_i - s_i) * order / smooth_time``,
          ``target_0 = input``, ``target_i = s_{i-1}``; value = last stage.
        - delay / delayn: ``input``, ``delay_time``, ``initial``, ``order``.
          Stages hold ``content``; ``outflow_i = s_i / delay_time``,
          ``ddt_i = (inflow_i - outflow_i) * order``; value = last outflow.
          Initial stage value = ``initial * delay_time``. The order is lowered
          while ``order * TIME STEP > delay_time`` (PySD behaviour).
        - delay_fixed: ``input``, ``delay_time``, ``initial`` (a pipeline of
          ``round(delay_time / TIME STEP)`` values).
        - trend: ``input``, ``average_time``, ``initial_trend``.
        - forecast: ``input``, ``average_time``, ``horizon``, ``initial_trend``.
        - sample_if_true: ``condition``, ``input``, ``initial``.
        - initial: ``initial`` (value frozen at initialisation).
    """

    py_name: str
    kind: str
    owner: str
    args: dict[str, Expr]
    non_negative: bool = False
    #: arrayed models: labelled dims and shape of the state (its definition's block)
    dims: tuple[str, ...] = ()
    shape: tuple[int, ...] = ()

    @property
    def deps_initial(self) -> set[str]:
        """Names needed to initialise the state."""
        a = self.args
        keys = {
            "integ": ("initial",),
            "smooth": ("initial", "order"),
            "delay": ("initial", "delay_time", "order"),
            "delayn": ("initial", "delay_time", "order"),
            "delay_fixed": ("initial", "delay_time"),
            "trend": ("initial_trend", "input", "average_time"),
            "forecast": ("input", "initial_trend"),
            "sample_if_true": ("initial",),
            "initial": ("initial",),
        }[self.kind]
        out: set[str] = set()
        for k in keys:
            out |= references(a.get(k))
        return out

    @property
    def deps_dynamic(self) -> set[str]:
        """Names needed to compute the state's derivative/update in a time step."""
        a = self.args
        keys = {
            "integ": ("flow",),
            "smooth": ("input", "smooth_time"),
            "delay": ("input", "delay_time"),
            "delayn": ("input", "delay_time"),
            "delay_fixed": ("input",),
            "trend": ("input", "average_time"),
            "forecast": ("input", "average_time", "horizon"),
            "sample_if_true": ("condition", "input"),
            "initial": (),
        }[self.kind]
        out: set[str] = set()
        for k in keys:
            out |= references(a.get(k))
        return out

    @property
    def deps_value(self) -> set[str]:
        """Names (besides the state itself) its *value* depends on at a given time."""
        a = self.args
        keys = {
            "delay": ("delay_time",),
            "trend": ("input", "average_time"),
            "forecast": ("input", "average_time", "horizon"),
            "sample_if_true": ("condition", "input"),
        }.get(self.kind, ())
        if self.kind == "delayn":
            keys = ("delay_time",)
        out: set[str] = set()
        for k in keys:
            out |= references(a.get(k))
        return out


@dataclass
class Variable:
    """One model variable.

    Attributes
    ----------
    name
        Name in the model file (``"Public Trust"``).
    py_name
        PySD's Python name (``"public_trust"``).
    kind
        ``stock``, ``flow``, ``aux``, ``constant``, ``lookup``, ``data`` or
        ``control`` (INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER).
    units, limits, comment
        From the model file; ``limits`` is ``(min, max)`` or
        ``(min, max, increment)`` with ``None`` for a missing bound.
    expr
        Equation. For stocks this is ``Ref(<internal integ state>)``; the net
        flow is :attr:`net_flow` and the initial value :attr:`initial`.
    initial, net_flow
        Stocks only.
    inflows, outflows
        Stocks only: flows identified when the net flow is a sum/difference
        of references (empty otherwise).
    lookup
        Lookup variables only.
    statefuls
        Internal states created by this variable's equation.
    deps_dynamic, deps_initial
        Direct dependencies (Python names) while running and at initialisation.
        Stocks depend dynamically on nothing (their value is their state); the
        net flow's references are in :attr:`flow_deps`.
    """

    name: str
    py_name: str
    kind: str
    units: str = ""
    limits: tuple = (None, None)
    comment: str = ""
    expr: Expr | None = None
    initial: Expr | None = None
    net_flow: Expr | None = None
    inflows: tuple[str, ...] = ()
    outflows: tuple[str, ...] = ()
    lookup: LookupTable | None = None
    statefuls: tuple[str, ...] = ()
    deps_dynamic: frozenset[str] = frozenset()
    deps_initial: frozenset[str] = frozenset()
    flow_deps: frozenset[str] = frozenset()
    non_negative: bool = False
    #: subscripts (see :mod:`pvsd.engine.ir_arrays`): dimension names in PySD's order,
    #: the shape, and for arrayed variables the definitions (``expr`` is then None)
    dims: tuple[str, ...] = ()
    shape: tuple[int, ...] = ()
    components: tuple = ()
    #: inlined macros (:mod:`pvsd.engine.macros`): the call site that created this
    #: variable (``"SMOOTH MACRO in Owner"``); "" for the model's own variables
    origin: str = ""


@dataclass(frozen=True)
class Unsupported:
    """One construct the vectorised engine cannot run, and where it occurs."""

    construct: str
    variable: str
    detail: str = ""

    def __str__(self) -> str:
        d = f" ({self.detail})" if self.detail else ""
        return f"{self.construct} in {self.variable!r}{d}"


@dataclass
class ModelIR:
    """The IR of one model.

    Attributes
    ----------
    path
        Original model file.
    variables
        By Python name, in model-file order.
    states
        Internal states by name.
    unsupported
        Constructs found while building that no back end handles yet.
    subscripts
        Subscript ranges and subranges (empty for a model without arrays).
    """

    path: Path | None
    variables: dict[str, Variable]
    states: dict[str, Stateful]
    unsupported: list[Unsupported] = field(default_factory=list)
    #: every subscript range and subrange -> its elements, in PySD's order
    subscripts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: files read while building (GET XLS/DIRECT ...): their content is part of the model
    external_files: tuple[Path, ...] = ()
    #: inlined macro calls (pvsd.engine.macros): output variable -> (MACRO NAME, argument variables)
    macro_calls: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    # -- lookups --------------------------------------------------------------

    def by_name(self) -> dict[str, str]:
        """Model-file name -> Python name."""
        return {v.name: v.py_name for v in self.variables.values()}

    @property
    def stocks(self) -> list[Variable]:
        """Stock variables, model-file order."""
        return [v for v in self.variables.values() if v.kind == "stock"]

    @property
    def constants(self) -> list[Variable]:
        """Constant (parameter) variables, model-file order."""
        return [v for v in self.variables.values() if v.kind == "constant"]

    def value_deps(self, name: str) -> set[str]:
        """What the *value* of ``name`` depends on during a run (one time step)."""
        if name in self.states:
            st = self.states[name]
            return set(st.deps_value)
        if name == "time":
            return set()
        return set(self.variables[name].deps_dynamic)

    def init_deps(self, name: str) -> set[str]:
        """What ``name`` depends on at initialisation."""
        if name in self.states:
            # the state's value at initialisation may need its value inputs (SAMPLE IF TRUE)
            return self.states[name].deps_initial | self.states[name].deps_value
        if name == "time":
            return set()
        return set(self.variables[name].deps_initial)

    # -- graph and ordering ----------------------------------------------------

    def graph(self) -> dict[str, set[str]]:
        """Causal graph between variables: ``{cause: {effects}}``.

        Internal states are folded into their owner variable; stocks are
        effects of their net-flow references (so feedback loops close).
        """
        g: dict[str, set[str]] = {n: set() for n in self.variables}

        def real(n: str) -> str | None:
            if n in self.variables:
                return n
            if n in self.states:
                return self.states[n].owner
            return None

        for v in self.variables.values():
            causes: set[str] = set()
            if v.kind == "stock":
                causes |= set(v.flow_deps)
            else:
                for d in v.deps_dynamic:
                    if d in self.states:
                        st = self.states[d]
                        causes |= st.deps_dynamic | st.deps_value
                    else:
                        causes.add(d)
            for c in causes:
                rc = real(c)
                if rc is not None and rc != v.py_name:
                    g[rc].add(v.py_name)
        return g

    def order(self, names: set[str] | None = None, initial: bool = False) -> list[str]:
        """Evaluation order (dependencies first) of variables/states.

        Parameters
        ----------
        names
            The names wanted (default: all variables and states); their
            dependencies are included.
        initial
            Order for the initialisation pass instead of a running time step.

        Raises
        ------
        ValueError
            On an algebraic loop (simultaneous equations).
        """
        deps = self.init_deps if initial else self.value_deps
        wanted = set(self.variables) | set(self.states) if names is None else set(names)
        out: list[str] = []
        mark: dict[str, int] = {}
        # deterministic: model-file order for the roots
        all_order = list(self.variables) + list(self.states)
        roots = [n for n in all_order if n in wanted] + sorted(wanted - set(all_order))
        for root in roots:
            if mark.get(root) == 2:
                continue
            stack: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(deps(root))))]
            mark[root] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    stack.pop()
                    mark[node] = 2
                    out.append(node)
                    continue
                if nxt == "time" or (nxt not in self.variables and nxt not in self.states):
                    continue
                m = mark.get(nxt)
                if m == 2:
                    continue
                if m == 1:
                    cyc = [s[0] for s in stack] + [nxt]
                    cyc = cyc[cyc.index(nxt):]
                    raise ValueError(
                        "algebraic loop (simultaneous equations) through "
                        + " -> ".join(self._label(c) for c in cyc)
                    )
                mark[nxt] = 1
                stack.append((nxt, iter(sorted(deps(nxt)))))
        return out

    def _label(self, name: str) -> str:
        if name in self.variables:
            return self.variables[name].name
        if name in self.states:
            return f"{self.states[name].kind} in {self.variables[self.states[name].owner].name}"
        return name

    # -- evaluation ------------------------------------------------------------

    def evaluate(
        self,
        var: str | Expr,
        env: Mapping[str, Any],
        time_step: float | None = None,
        initial: bool = False,
    ) -> float:
        """Evaluate one equation with chosen input values (scalar, pure Python).

        Parameters
        ----------
        var
            Python name of a variable (its equation is evaluated; for a stock
            its net flow) or an expression.
        env
            Values of every name the equation references (``time`` included
            when used). Lookup variables are evaluated from the IR.
        time_step
            Needed by STEP/PULSE; taken from ``env["time_step"]`` if omitted.
        initial
            Evaluate ACTIVE INITIAL with its initial argument.

        Returns
        -------
        float
        """
        if isinstance(var, Expr):
            expr = var
        else:
            v = self.variables[var]
            expr = v.net_flow if v.kind == "stock" else v.expr
            if expr is None:
                raise ValueError(f"{v.name!r} has no equation to evaluate")
        dt = time_step if time_step is not None else env.get("time_step")
        return _eval(expr, env, self, dt, initial)


# ----------------------------------------------------------------------------
# Scalar evaluation (pure Python, PySD semantics)
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


def _eval(e: Expr, env: Mapping[str, Any], ir: ModelIR, dt: Any, initial: bool) -> Any:
    ev = lambda x: _eval(x, env, ir, dt, initial)  # noqa: E731
    if getattr(e, "dims", None) or type(e).__module__.endswith("ir_arrays"):
        raise TypeError("arrayed expressions cannot be evaluated as scalars")
    if isinstance(e, Num):
        return e.value
    if isinstance(e, Ref):
        return env[e.name]
    if isinstance(e, BinOp):
        if e.op == "and":
            return float(bool(ev(e.left)) and bool(ev(e.right)))
        if e.op == "or":
            return float(bool(ev(e.left)) or bool(ev(e.right)))
        a, b = ev(e.left), ev(e.right)
        return _BINOPS[e.op](a, b)
    if isinstance(e, UnaryOp):
        a = ev(e.operand)
        return -a if e.op == "neg" else float(not a)
    if isinstance(e, LookupCall):
        return lookup_scalar(ir.variables[e.lookup].lookup, ev(e.arg))  # type: ignore[arg-type]
    if isinstance(e, InlineLookup):
        return lookup_scalar(e.table, ev(e.arg), inline=True)
    if isinstance(e, Call):
        f = e.func
        if f == "if_then_else":
            return ev(e.args[1]) if _truthy(ev(e.args[0])) else ev(e.args[2])
        if f == "active_initial":
            return ev(e.args[1]) if initial else ev(e.args[0])
        args = [ev(a) for a in e.args]
        t = env.get("time")
        if f in ("step",):
            return args[0] * (t + dt / 2 > args[1])
        if f in ("ramp", "Xramp"):
            final = t if len(args) < 3 else min(args[2], t)
            return (t + SMALL_VENSIM > args[1]) * args[0] * (final - args[1])
        if f in ("pulse", "Xpulse", "pulse_train", "Xpulse_train"):
            return _pulse_scalar(f, args, t, dt)
        return _SCALAR_FUNCS[f](*args)
    raise TypeError(f"unknown expression node {e!r}")


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


# ----------------------------------------------------------------------------
# Building the IR from PySD's abstract model
# ----------------------------------------------------------------------------

# Python precedence levels of the operators PySD writes infix (lower binds
# tighter); "^" is right-associative like Python's "**".
_PREC = {"^": 1, "*": 2, "/": 2, "+": 3, "-": 3, "=": 4, "<>": 4, "<": 4, "<=": 4, ">": 4, ">=": 4}


def _fold(ops: list[str], args: list[Expr]) -> Expr:
    """Group a flat ``a op b op c ...`` exactly as Python parses PySD's string."""
    # precedence climbing; args[i] is followed by ops[i]
    pos = 0

    def parse_expr(max_prec: int) -> Expr:
        nonlocal pos
        left = args[pos]
        if isinstance(left, Num) and left.value < 0 and pos < len(ops) and ops[pos] == "^":
            # PySD writes a negative literal as "-2", and Python reads "-2**2" as -(2**2)
            pos_left = Num(-left.value)
            pos += 1
            left = UnaryOp("neg", BinOp("^", pos_left, parse_expr(_PREC["^"])))
        while pos < len(ops) and _PREC[ops[pos]] <= max_prec:
            op = ops[pos]
            p = _PREC[op]
            pos += 1
            right = parse_expr(p if op == "^" else p - 1)
            left = BinOp(op, left, right)
        return left

    result = parse_expr(99)
    if pos != len(ops):  # pragma: no cover - defensive
        raise ValueError("could not group arithmetic expression")
    return result


_FUNC_ALIASES = {"vmax_xmile": "max", "vmin_xmile": "min"}


class _Builder:
    """Converts one abstract section to a :class:`ModelIR`."""

    def __init__(self, section: Any, path: Path | None) -> None:
        from pysd.builders.python.namespace import NamespaceManager

        self.section = section
        self.path = path
        self.ns = NamespaceManager()
        for el in section.elements:
            self.ns.add_to_namespace(el.name)
        self.cleanspace: dict[str, str] = dict(self.ns.cleanspace)
        self.states: dict[str, Stateful] = {}
        self.unsupported: list[Unsupported] = []
        self.lookup_names: set[str] = set()
        for el in section.elements:
            if any(type(c).__name__ == "AbstractLookup" for c in el.components):
                self.lookup_names.add(self.ns.namespace[el.name])
        self._current = ""
        self._current_py = ""
        self.macros: set[str] = set()
        # macro inlining (pvsd.engine.macros): sections by name, the copied variables,
        # the call counter and call sites per label
        self.macro_sections: dict[str, Any] = {}
        self.extra_vars: dict[str, Variable] = {}
        self.macro_calls = [0]
        self.macro_labels: dict[str, int] = {}
        self.macro_info: dict[str, tuple[str, tuple[str, ...]]] = {}

    def py_of(self, name: str) -> str:
        """Python name of the element ``name`` of this section."""
        return self.ns.namespace[name]

    def display(self, name: str) -> str:
        """Name shown for the element ``name`` (the model-file name)."""
        return name

    def unsupported_here(self, construct: str, detail: str = "") -> Expr:
        self.unsupported.append(Unsupported(construct, self._current, detail))
        return Num(math.nan)

    # -- expression conversion -------------------------------------------------

    def conv(self, node: Any) -> Expr:
        from pysd.translators.structures import abstract_expressions as ae

        if isinstance(node, bool):
            return Num(float(node))
        if isinstance(node, (int, float)):
            return Num(float(node))
        if type(node).__name__ == "ndarray" or isinstance(node, (list, tuple)):
            return self.unsupported_here("array constant")
        if isinstance(node, str):
            return self.unsupported_here("string argument", node)
        if isinstance(node, (ae.ArithmeticStructure, ae.LogicStructure)):
            ops = list(node.operators)
            args = [self.conv(a) for a in node.arguments]
            if len(args) == 1:
                op = ops[0]
                if op == "negative":
                    return UnaryOp("neg", args[0])
                if op.upper() == ":NOT:":
                    return UnaryOp("not", args[0])
                raise ValueError(f"unknown unary operator {op}")
            if all(o.upper() in (":AND:", ":OR:") for o in ops):
                # PySD nests np.logical_and/or calls from the right
                right = args[-1]
                for o, a in zip(reversed(ops), reversed(args[:-1]), strict=False):
                    right = BinOp("and" if o.upper() == ":AND:" else "or", a, right)
                return right
            if any(o.upper() in (":AND:", ":OR:", ":NOT:") for o in ops):
                return self.unsupported_here("mixed logical operators")
            if any(o == "negative" for o in ops):
                return self.unsupported_here("negative in operator chain")
            return _fold(ops, args)
        if isinstance(node, ae.ReferenceStructure):
            if node.subscripts:
                return self.unsupported_here("subscripts", node.reference)
            ref = node.reference
            if ref in self.cleanspace:
                return Ref(self.cleanspace[ref])
            return self.unsupported_here("unknown reference", ref)
        if isinstance(node, ae.CallStructure):
            fname = node.function.reference
            fname = _FUNC_ALIASES.get(fname, fname)
            if fname in self.cleanspace and self.cleanspace[fname] in self.lookup_names:
                if len(node.arguments) != 1:
                    return self.unsupported_here("lookup call with several arguments", fname)
                return LookupCall(self.cleanspace[fname], self.conv(node.arguments[0]))
            if fname in self.cleanspace:
                return self.unsupported_here("call of a non-lookup variable", fname)
            if fname in self.macros:
                from pvsd.engine.macros import inline_call

                return inline_call(self, fname, tuple(node.arguments))
            if fname in ("random_0_1", "random_uniform", "random_normal", "random_exponential"):
                return self.unsupported_here("random function", fname.upper())
            if fname not in SUPPORTED_FUNCS:
                return self.unsupported_here("function", fname.upper().replace("_", " "))
            args = tuple(self.conv(a) for a in node.arguments)
            if fname in ("min", "max") and len(args) != 2:
                return self.unsupported_here("MIN/MAX with one argument", fname.upper())
            return Call(fname, args)
        if isinstance(node, ae.GameStructure):
            return self.conv(node.expression)
        if isinstance(node, ae.InlineLookupsStructure):
            lk = node.lookups
            return InlineLookup(self.conv(node.argument), self._table(lk, inline=True))
        if isinstance(node, ae.IntegStructure):
            return self._state("integ", {"flow": node.flow, "initial": node.initial},
                               non_negative=bool(node.non_negative))
        if isinstance(node, ae.SmoothStructure | ae.SmoothNStructure):
            return self._state("smooth", {"input": node.input, "smooth_time": node.smooth_time,
                                          "initial": node.initial, "order": node.order})
        if isinstance(node, ae.DelayStructure):
            return self._state("delay", {"input": node.input, "delay_time": node.delay_time,
                                         "initial": node.initial, "order": node.order})
        if isinstance(node, ae.DelayNStructure):
            return self._state("delayn", {"input": node.input, "delay_time": node.delay_time,
                                          "initial": node.initial, "order": node.order})
        if isinstance(node, ae.DelayFixedStructure):
            return self._state("delay_fixed", {"input": node.input, "delay_time": node.delay_time,
                                               "initial": node.initial})
        if isinstance(node, ae.TrendStructure):
            return self._state("trend", {"input": node.input, "average_time": node.average_time,
                                         "initial_trend": node.initial_trend})
        if isinstance(node, ae.ForecastStructure):
            return self._state("forecast", {"input": node.input, "average_time": node.average_time,
                                            "horizon": node.horizon,
                                            "initial_trend": node.initial_trend})
        if isinstance(node, ae.SampleIfTrueStructure):
            return self._state("sample_if_true", {"condition": node.condition, "input": node.input,
                                                  "initial": node.initial})
        if isinstance(node, ae.InitialStructure):
            return self._state("initial", {"initial": node.initial})
        name = type(node).__name__.replace("Structure", "")
        label = {
            "GetConstants": "GET XLS/DIRECT CONSTANTS",
            "GetData": "GET XLS/DIRECT DATA",
            "GetLookups": "GET XLS/DIRECT LOOKUPS",
            "Data": "data variable",
            "AllocateAvailable": "ALLOCATE AVAILABLE",
            "AllocateByPriority": "ALLOCATE BY PRIORITY",
        }.get(name, name)
        return self.unsupported_here(label)

    _PREFIX: ClassVar[dict[str, str]] = {
        "integ": "_integ",
        "smooth": "_smooth",
        "delay": "_delay",
        "delayn": "_delayn",
        "delay_fixed": "_delayfixed",
        "trend": "_trend",
        "forecast": "_forecast",
        "sample_if_true": "_sampleiftrue",
        "initial": "_initial",
    }

    def _state(self, kind: str, args: dict[str, Any], non_negative: bool = False) -> Expr:
        conv = {k: self.conv(v) for k, v in args.items()}
        name = self.ns.make_python_identifier(self._current_py, prefix=self._PREFIX[kind])
        self.states[name] = Stateful(name, kind, self._current_py, conv, non_negative)
        return Ref(name)

    def _table(self, lk: Any, inline: bool = False) -> LookupTable:
        xs = tuple(float(v) for v in lk.x)
        ys = tuple(float(v) for v in lk.y)
        # PySD sorts by x
        pairs = sorted(zip(xs, ys, strict=False), key=lambda p: p[0])
        mode = str(lk.type or "interpolate")
        if mode not in ("interpolate", "extrapolate", "hold_backward"):
            self.unsupported.append(Unsupported(f"lookup mode {mode}", self._current))
            mode = "interpolate"
        return LookupTable(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), mode)

    # -- elements ----------------------------------------------------------------

    def build(self) -> ModelIR:
        section = self.section
        if section.subscripts:
            self.unsupported.append(Unsupported(
                "subscripts", "(model)", ", ".join(s.name for s in section.subscripts)))
        variables = self.build_section()
        for name in CONTROL_NAMES:
            if name not in variables:
                self.unsupported.append(Unsupported("missing control variable", name))
        # inlined macro variables after the model's own (pvsd.engine.macros)
        for py, v in self.extra_vars.items():
            variables.setdefault(py, v)
        return ModelIR(self.path, variables, self.states, self.unsupported,
                       macro_calls=dict(self.macro_info))

    def build_section(self) -> dict[str, Variable]:
        """The variables of this builder's section, by Python name."""
        from pysd.translators.structures import abstract_expressions as ae
        from pysd.translators.structures import abstract_model as am

        section = self.section
        origin = getattr(self, "label", "")
        variables: dict[str, Variable] = {}
        for el in section.elements:
            py = self.py_of(el.name)
            self._current, self._current_py = self.display(el.name), py
            limits = tuple(el.limits) if el.limits else (None, None)
            comps = el.components
            if len(comps) != 1:
                self.unsupported.append(Unsupported("multiple definitions", self.display(el.name)))
            comp = comps[0]
            if comp.subscripts and comp.subscripts[0]:
                self.unsupported.append(Unsupported("subscripts", self.display(el.name)))
            control = isinstance(el, am.AbstractControlElement)
            common = dict(name=self.display(el.name), py_name=py, units=el.units or "",
                          limits=limits, comment=el.documentation or "", origin=origin)
            if isinstance(comp, am.AbstractLookup):
                if isinstance(comp.ast, ae.LookupsStructure):
                    table = self._table(comp.ast)
                else:
                    self.conv(comp.ast)  # records unsupported (GET XLS LOOKUPS ...)
                    table = LookupTable((0.0,), (math.nan,))
                variables[py] = Variable(kind="lookup", lookup=table, **common)
                continue
            if isinstance(comp, am.AbstractData):
                self.unsupported.append(Unsupported("data variable", self.display(el.name)))
                variables[py] = Variable(kind="data", expr=Num(math.nan), **common)
                continue
            ast = comp.ast
            is_stock = isinstance(ast, ae.IntegStructure)
            expr = self.conv(ast)
            own_states = tuple(n for n, s in self.states.items() if s.owner == py)
            if is_stock:
                st = self.states[expr.name]  # type: ignore[attr-defined]
                flow = st.args["flow"]
                inflows, outflows = _split_flows(flow)
                variables[py] = Variable(
                    kind="stock", expr=expr, initial=st.args["initial"], net_flow=flow,
                    inflows=inflows, outflows=outflows, statefuls=own_states,
                    deps_initial=frozenset({expr.name}),  # type: ignore[attr-defined]
                    deps_dynamic=frozenset({expr.name}),  # type: ignore[attr-defined]
                    flow_deps=frozenset(references(flow)), non_negative=st.non_negative,
                    **common)
                continue
            deps = references(expr)
            init_deps = _init_refs(expr)
            if control:
                kind = "control"
            elif not deps and not own_states:
                kind = "constant"
            else:
                kind = "aux"
            variables[py] = Variable(kind=kind, expr=expr, statefuls=own_states,
                                     deps_dynamic=frozenset(deps),
                                     deps_initial=frozenset(init_deps), **common)
        # flows: auxiliaries named as inflow/outflow of some stock
        flows = {f for v in variables.values() if v.kind == "stock"
                 for f in v.inflows + v.outflows}
        for f in flows:
            if f in variables and variables[f].kind in ("aux", "constant"):
                variables[f].kind = "flow"
        return variables


def _init_refs(expr: Expr) -> set[str]:
    """References needed at initialisation (ACTIVE INITIAL uses its 2nd argument)."""
    out: set[str] = set()
    stack = [expr]
    while stack:
        n = stack.pop()
        if isinstance(n, Call) and n.func == "active_initial":
            stack.append(n.args[1])
            continue
        if isinstance(n, Ref):
            out.add(n.name)
        elif isinstance(n, LookupCall):
            out.add(n.lookup)
        elif isinstance(n, Call) and n.func in TIME_FUNCS:
            out.add("time")
        stack.extend(n.children())
    return out


def _split_flows(flow: Expr) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Inflows/outflows when the net flow is a sum/difference of references."""
    ins: list[str] = []
    outs: list[str] = []

    def visit(e: Expr, sign: int) -> bool:
        if isinstance(e, Ref):
            (ins if sign > 0 else outs).append(e.name)
            return True
        if isinstance(e, UnaryOp) and e.op == "neg":
            return visit(e.operand, -sign)
        if isinstance(e, BinOp) and e.op in "+-":
            return visit(e.left, sign) and visit(e.right, sign if e.op == "+" else -sign)
        return False

    if visit(flow, 1):
        return tuple(ins), tuple(outs)
    return (), ()


def build_ir(abstract_model: Any, path: str | Path | None = None) -> ModelIR:
    """Build the IR of a model from PySD's abstract model.

    Parameters
    ----------
    abstract_model
        ``pysd.translators.structures.abstract_model.AbstractModel``.
    path
        Original model file (informational).

    Returns
    -------
    ModelIR
        Macro calls are inlined (:mod:`pvsd.engine.macros`: each call site gets its
        own copy of the macro's variables and states); in arrayed models macros are
        reported in :attr:`ModelIR.unsupported`.
    """
    sections = list(abstract_model.sections)
    main = [s for s in sections if s.type == "main"] or sections[:1]
    cls = _Builder
    if main[0].subscripts:
        from pvsd.engine.ir_arrays import make_array_builder

        cls = make_array_builder(_Builder)
    b = cls(main[0], Path(path) if path else getattr(abstract_model, "original_path", None))
    for s in sections:
        if s is not main[0]:
            for key in (str(s.name).lower().replace(" ", "_"), str(s.name)):
                b.macros.add(key)
                b.macro_sections[key] = s
    ir = b.build()
    if cls is not _Builder:  # arrayed models: macros are not inlined (the builder says where)
        for s in sections:
            if s is not main[0]:
                ir.unsupported.append(Unsupported("macro", s.name))
    return ir


def ir_from_file(path: str | Path) -> ModelIR:
    """Parse a model file and build its IR."""
    from pvsd.loading import parse_model_file

    return build_ir(parse_model_file(Path(path)), path)


ExprLike = Expr | float
