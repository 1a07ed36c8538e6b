"""An arrayed model's IR as an equivalent IR of scalar, per-element variables.

``scalarise(ir)`` expands every arrayed variable into one scalar variable per
element (``py_name`` ``"<py>__e<k>"`` with ``k`` the row-major element index;
model name ``"Var[e1,e2]"``) and every arrayed state into one state per element,
resolving the array nodes of :mod:`pvsd.engine.ir_arrays` element by element
(selections, mappings, transposition, up-dimensioning, SUM/PROD/VMIN/VMAX as
variadic NaN-skipping calls, tables as one lookup per element). The result is
an ordinary scalar IR: back ends that are scalar by nature (the JavaScript
simulator) and element-level analyses (loops) read it unchanged.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace
from typing import Any

from pvsd.engine.ir import (
    BinOp,
    Call,
    Expr,
    InlineLookup,
    LookupCall,
    LookupTable,
    ModelIR,
    Num,
    Ref,
    Stateful,
    UnaryOp,
    Unsupported,
    Variable,
    _init_refs,
    _split_flows,
    references,
)
from pvsd.engine.ir_arrays import Align, ARef, ArrayNum, ArrayTable, Reduce, TableCall
from pvsd.engine.numpy_arrays import expr_dims

__all__ = ["element_name", "element_py", "scalarise"]

_NAN_FUNCS = {"sum": "nansum", "prod": "nanprod", "vmin": "nanmin", "vmax": "nanmax"}


def element_py(py: str, k: int) -> str:
    """Python-style name of element ``k`` (row-major) of variable ``py``."""
    return f"{py}__e{k}"


def element_name(ir: ModelIR, var: Variable, pos: tuple[int, ...]) -> str:
    """Vensim-style name ``Var[e1,e2]`` of an element."""
    return f"{var.name}[{','.join(ir.subscripts[d][i] for d, i in zip(var.dims, pos, strict=True))}]"


def _ravel(pos: tuple[int, ...], shape: tuple[int, ...]) -> int:
    k = 0
    for p, n in zip(pos, shape, strict=True):
        k = k * n + p
    return k


class _Scalariser:
    def __init__(self, ir: ModelIR) -> None:
        self.ir = ir
        self.state_ctx: dict[str, tuple[str, Any]] = {}  # state -> (owner py, component)
        self.new_vars: dict[str, Variable] = {}
        self.unsupported: list[Unsupported] = list(ir.unsupported)
        self._current = ""
        self.in_array = False

    def size(self, dim: str) -> int:
        return len(self.ir.subscripts[dim.rstrip("!")])

    def conv(self, e: Expr, env: dict[str, int]) -> Expr:
        c = lambda x: self.conv(x, env)  # noqa: E731
        if isinstance(e, ARef):
            var = self.ir.variables[e.name]
            pos = []
            k = 0
            for ix in e.index:
                if isinstance(ix, int):
                    pos.append(ix)
                    continue
                j = env[e.dims[k]]
                pos.append(j if ix is None else ix[j])
                k += 1
            return Ref(element_py(e.name, _ravel(tuple(pos), var.shape)))
        if isinstance(e, Ref):
            if e.name in self.ir.states and self.ir.states[e.name].shape:
                st = self.ir.states[e.name]
                pos = tuple(env[d] for d in st.dims)
                return Ref(element_py(e.name, _ravel(pos, st.shape)))
            return e
        if isinstance(e, Align):
            return c(e.expr)
        if isinstance(e, Reduce):
            red = [e.src[i] for i in e.axes]
            terms = []
            for combo in itertools.product(*(range(self.size(d)) for d in red)):
                terms.append(self.conv(e.expr, {**env, **dict(zip(red, combo, strict=True))}))
            return Call(_NAN_FUNCS[e.func], tuple(terms))
        if isinstance(e, ArrayNum):
            pos = tuple(env[d] if n > 1 else 0 for d, n in zip(e.dims, e.shape, strict=True))
            return Num(e.values[_ravel(pos, e.shape)])
        if isinstance(e, TableCall):
            return LookupCall(self.table_column(e, env), c(e.arg))
        if isinstance(e, BinOp):
            if e.op == "^" and self.in_array and not (expr_dims(self.ir, e.left)
                                                       or expr_dims(self.ir, e.right)):
                # PySD computes this on Python floats and stores it in an array: a complex
                # power (negative base, fractional exponent) keeps its real part
                return Call("pow_real", (c(e.left), c(e.right)))
            return BinOp(e.op, c(e.left), c(e.right))
        if isinstance(e, UnaryOp):
            return UnaryOp(e.op, c(e.operand))
        if isinstance(e, Call):
            return Call(e.func, tuple(c(a) for a in e.args))
        if isinstance(e, LookupCall):
            return LookupCall(e.lookup, c(e.arg))
        if isinstance(e, InlineLookup):
            return InlineLookup(c(e.arg), e.table)
        if isinstance(e, Num):
            return e
        raise TypeError(f"cannot scalarise {type(e).__name__}")

    def table_column(self, e: TableCall, env: dict[str, int]) -> str:
        var = self.ir.variables[e.name]
        table = var.lookup
        assert isinstance(table, ArrayTable)
        pos = []
        k = 0
        for ix in (e.index or (None,) * len(table.shape)):
            if isinstance(ix, int):
                pos.append(ix)
                continue
            j = env[e.dims[k]]
            pos.append(j if ix is None else ix[j])
            k += 1
        flat = _ravel(tuple(pos), table.shape)
        name = f"{e.name}__t{flat}"  # the table of one element (data: not the element itself)
        if name not in self.new_vars:
            n = math.prod(table.shape)
            ys = tuple(table.y[i * n + flat] for i in range(len(table.x)))
            mode = table.mode
            if table.data and mode not in ("interpolate", "hold_backward"):
                self.unsupported.append(Unsupported(f"data mode {mode}", var.name))
                mode = "interpolate"
            lk = LookupTable(table.x, ys, mode)
            label = element_name(self.ir, var, _unravel(flat, table.shape)) if var.dims else \
                var.name
            self.new_vars[name] = Variable(name=label, py_name=name, kind="lookup", lookup=lk,
                                           units=var.units)
        return name

    def run(self) -> ModelIR:
        ir = self.ir
        # which component each arrayed state belongs to
        for v in ir.variables.values():
            for comp in v.components:
                for n in references(comp.expr):
                    if n in ir.states:
                        self.state_ctx[n] = (v.py_name, comp)
        states: dict[str, Stateful] = {}
        self.states = states
        for name, st in ir.states.items():
            if not st.shape:
                states[name] = replace(st, args={k: self.conv(a, {}) for k, a in st.args.items()})
                continue
            owner, comp = self.state_ctx.get(name, (st.owner, None))
            ovar = ir.variables[owner]
            for pos in itertools.product(*(range(n) for n in st.shape)):
                env = dict(zip(st.dims, pos, strict=True))
                k = _ravel(pos, st.shape)
                epos = tuple(comp.index[i][p] for i, p in enumerate(pos)) if comp is not None \
                    else pos
                states[element_py(name, k)] = Stateful(
                    element_py(name, k), st.kind, element_py(owner, _ravel(epos, ovar.shape)),
                    {a: (self.conv(x, env) if a != "order" else self.conv(x, {}))
                     for a, x in st.args.items()},
                    st.non_negative)
        variables: dict[str, Variable] = {}
        for py, v in ir.variables.items():
            self._current = v.name
            if isinstance(v.lookup, ArrayTable) and v.kind == "lookup":
                continue  # replaced by per-element columns where called
            if not v.shape:
                if v.kind == "data":
                    call = v.expr
                    assert isinstance(call, TableCall)
                    variables[py] = replace(v, expr=LookupCall(self.table_column(call, {}),
                                                               Ref("time")), lookup=None)
                    continue
                if v.expr is None or v.kind == "lookup":
                    variables[py] = v
                    continue
                variables[py] = self._scalar(v, py, self.conv(v.expr, {}))
                continue
            exprs: dict[int, Expr] = {}
            if v.kind == "data":
                for pos in itertools.product(*(range(n) for n in v.shape)):
                    env = dict(zip(v.dims, pos, strict=True))
                    assert isinstance(v.expr, TableCall)
                    exprs[_ravel(pos, v.shape)] = LookupCall(self.table_column(v.expr, env),
                                                             Ref("time"))
            for comp in v.components:
                excluded = set()
                for ex in comp.exclude:
                    excluded |= set(itertools.product(*ex))
                for bpos in itertools.product(*(range(n) for n in comp.shape)):
                    epos = tuple(comp.index[i][p] for i, p in enumerate(bpos))
                    if epos in excluded:
                        continue
                    env = dict(zip(comp.dims, bpos, strict=True))
                    self.in_array = True
                    try:
                        exprs[_ravel(epos, v.shape)] = self.conv(comp.expr, env)
                    finally:
                        self.in_array = False
            for pos in itertools.product(*(range(n) for n in v.shape)):
                k = _ravel(pos, v.shape)
                name = element_py(py, k)
                e = exprs.get(k, Num(math.nan))
                ev = replace(v, name=element_name(ir, v, pos), py_name=name, dims=(), shape=(),
                             components=(), lookup=None)
                variables[name] = self._scalar(ev, name, e)
        variables.update(self.new_vars)
        out = ModelIR(ir.path, variables, states, self.unsupported)
        return out

    def _scalar(self, v: Variable, py: str, expr: Expr) -> Variable:
        states = self.states
        if v.kind == "stock" and isinstance(expr, Ref) and expr.name in states:
            st = states[expr.name]
            flow = st.args["flow"]
            ins, outs = _split_flows(flow)
            return replace(v, expr=expr, initial=st.args["initial"], net_flow=flow,
                           inflows=ins, outflows=outs, statefuls=(expr.name,),
                           deps_dynamic=frozenset({expr.name}),
                           deps_initial=frozenset({expr.name}),
                           flow_deps=frozenset(references(flow)))
        owned = tuple(n for n in references(expr) if n in states and states[n].owner == py)
        return replace(v, expr=expr, statefuls=owned or v.statefuls,
                       deps_dynamic=frozenset(references(expr)),
                       deps_initial=frozenset(_init_refs(expr)))


def _unravel(k: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = []
    for n in reversed(shape):
        out.append(k % n)
        k //= n
    return tuple(reversed(out))


def scalarise(ir: ModelIR) -> ModelIR:
    """The per-element scalar IR of an arrayed model (``ir`` itself when unsubscripted).

    Element variables keep the kind, units and limits of their variable; the
    names of a variable's elements are ``element_py(py, k)`` for ``k`` in
    row-major order. Constructs a scalar back end cannot express are listed in
    the result's ``unsupported``.
    """
    if not ir.subscripts:
        return ir
    return _Scalariser(ir).run()
