"""Model structures of pvsd's IR (see :mod:`pvsd.engine.ir`).

:class:`ModelIR` (variables, states, dependency graph, evaluation order, scalar
evaluation of one equation with :func:`_eval`), :class:`Variable`, :class:`Stateful`
(stocks and the expansions of stateful builtins) and :class:`Unsupported`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pvsd.engine.ir_nodes import (
    SMALL_VENSIM,
    BinOp,
    Call,
    Expr,
    InlineLookup,
    LookupCall,
    LookupTable,
    Num,
    Ref,
    UnaryOp,
    references,
)
from pvsd.engine.ir_scalar import _BINOPS, _SCALAR_FUNCS, _pulse_scalar, _truthy, lookup_scalar

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
