"""Building pvsd's IR from PySD's abstract model (see :mod:`pvsd.engine.ir`).

:func:`build_ir` converts the main section of an abstract model to a
:class:`~pvsd.engine.ir.ModelIR` (macros inlined, arrayed models through
:mod:`pvsd.engine.ir_arrays`); :func:`_fold` groups PySD's flat arithmetic with
Python's precedence rules; :func:`ir_from_file` parses a model file first.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, ClassVar

from pvsd.engine.ir_model import ModelIR, Stateful, Unsupported, Variable
from pvsd.engine.ir_nodes import (
    CONTROL_NAMES,
    TIME_FUNCS,
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
from pvsd.engine.ir_scalar import SUPPORTED_FUNCS

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
        from pvsd.engine.ir_arrays_build import make_array_builder

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
