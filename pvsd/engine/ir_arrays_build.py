"""Building an arrayed model's IR (see :mod:`pvsd.engine.ir_arrays`).

:func:`make_array_builder` derives the array-aware builder from the IR's builder:
PySD's builder rules (``pysd.builders.python``) for subscripts, subranges,
mappings, reductions and arrayed lookups/data, resolved into the nodes of
:mod:`pvsd.engine.ir_arrays` without xarray.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from pvsd.engine.ir import (
    CONTROL_NAMES,
    SUPPORTED_FUNCS,
    BinOp,
    Call,
    Expr,
    InlineLookup,
    LookupCall,
    ModelIR,
    Num,
    Ref,
    Stateful,
    UnaryOp,
    Unsupported,
    Variable,
    _fold,
    _init_refs,
    _split_flows,
    references,
)
from pvsd.engine.ir_arrays import Align, ARef, ArrayNum, ArrayTable, Component, Reduce, TableCall

# ----------------------------------------------------------------------------
# Building an arrayed model's IR (PySD's builder rules, without xarray)
# ----------------------------------------------------------------------------

_REDUCE = {"sum": "sum", "prod": "prod", "vmin": "vmin", "vmax": "vmax",
           "vmin_xmile": "vmin", "vmax_xmile": "vmax"}

#: Elementwise builtins that combine array arguments by dimension name.
_ELEMENTWISE_EXTRA = frozenset({"if_then_else", "xidz", "zidz"})


def union_dims(*dims_list: tuple[str, ...]) -> tuple[str, ...]:
    """Dims of a combination, in PySD's order (first appearance, left to right)."""
    out: dict[str, None] = {}
    for d in dims_list:
        for x in d:
            out.setdefault(x, None)
    return tuple(out)


def align(e: Expr, src: tuple[str, ...], dst: tuple[str, ...]) -> Expr:
    """``e`` (dims ``src``) as an array with dims ``dst`` (no-op when equal or scalar)."""
    if not src or src == dst:
        return e
    return Align(e, src, dst)


class _Fallback(Exception):
    """Internal: a construct the array builder does not handle (becomes Unsupported)."""


def make_array_builder(base: type) -> type:
    """The array-aware builder class, derived from ``ir._Builder`` (passed to avoid a cycle)."""

    class ArrayBuilder(base):  # type: ignore[misc, valid-type]
        """Converts one abstract section with subscripts to a :class:`ModelIR`."""

        def __init__(self, section: Any, path: Path | None) -> None:
            from pysd.builders.python.subscripts import SubscriptManager

            super().__init__(section, path)
            root = Path(path).parent if path else Path(".")
            self.sm = SubscriptManager(section.subscripts, root)
            self.el_dims: dict[str, list[str]] = {}
            self.el_coords: dict[str, dict[str, list[str]]] = {}
            for el in section.elements:
                py = self.ns.namespace[el.name]
                dims = self.sm.make_merge_list([c.subscripts[0] for c in el.components], el.name)
                self.el_dims[py] = list(dims)
                self.el_coords[py] = self.sm.make_coord_dict(list(dims))
                self.sm.elements[py] = list(dims)
            self.def_subs: dict[str, list[str]] = {}
            self.external_files: set[Path] = set()
            # arrayed or external lookups and data: tables read with PySD's loaders
            self.tables: set[str] = set()
            from pysd.translators.structures import abstract_expressions as ae
            from pysd.translators.structures import abstract_model as am

            for el in section.elements:
                py = self.ns.namespace[el.name]
                comps = el.components
                if any(isinstance(c, am.AbstractLookup) for c in comps) and (
                        self.el_dims[py] or not isinstance(comps[0].ast, ae.LookupsStructure)):
                    self.tables.add(py)

        # -- expressions with dims ------------------------------------------------

        def fail(self, construct: str, detail: str = "") -> None:
            raise _Fallback(construct, detail)

        def aconv(self, node: Any) -> tuple[Expr, tuple[str, ...]]:
            from pysd.translators.structures import abstract_expressions as ae

            if isinstance(node, bool | int | float):
                return Num(float(node)), ()
            if type(node).__name__ == "ndarray":
                return self._array_literal(node)
            if isinstance(node, str | list | tuple):
                self.fail("string or list argument", str(node)[:40])
            if isinstance(node, ae.ArithmeticStructure | ae.LogicStructure):
                ops = list(node.operators)
                conv = [self.aconv(a) for a in node.arguments]
                dims = union_dims(*(d for _, d in conv))
                args = [align(e, d, dims) for e, d in conv]
                if len(args) == 1:
                    op = ops[0]
                    if op == "negative":
                        return UnaryOp("neg", args[0]), dims
                    if op.upper() == ":NOT:":
                        return UnaryOp("not", args[0]), dims
                    self.fail("unary operator", op)
                if all(o.upper() in (":AND:", ":OR:") for o in ops):
                    right = args[-1]
                    for o, a in zip(reversed(ops), reversed(args[:-1]), strict=False):
                        right = BinOp("and" if o.upper() == ":AND:" else "or", a, right)
                    return right, dims
                if any(o.upper() in (":AND:", ":OR:", ":NOT:") or o == "negative" for o in ops):
                    self.fail("mixed logical operators")
                return _fold(ops, args), dims
            if isinstance(node, ae.ReferenceStructure):
                return self._reference(node)
            if isinstance(node, ae.CallStructure):
                return self._call(node)
            if isinstance(node, ae.GameStructure):
                return self.aconv(node.expression)
            if isinstance(node, ae.InlineLookupsStructure):
                arg, d = self.aconv(node.argument)
                return InlineLookup(arg, self._table(node.lookups, inline=True)), d
            stateful = {
                ae.IntegStructure: ("integ", ("flow", "initial")),
                ae.SmoothStructure: ("smooth", ("input", "smooth_time", "initial", "order")),
                ae.SmoothNStructure: ("smooth", ("input", "smooth_time", "initial", "order")),
                ae.DelayStructure: ("delay", ("input", "delay_time", "initial", "order")),
                ae.DelayNStructure: ("delayn", ("input", "delay_time", "initial", "order")),
                ae.TrendStructure: ("trend", ("input", "average_time", "initial_trend")),
                ae.ForecastStructure: ("forecast", ("input", "average_time", "horizon",
                                                    "initial_trend")),
                ae.SampleIfTrueStructure: ("sample_if_true", ("condition", "input", "initial")),
                ae.InitialStructure: ("initial", ("initial",)),
                ae.DelayFixedStructure: ("delay_fixed", ("input", "delay_time", "initial")),
            }.get(type(node))
            if stateful is not None:
                kind, keys = stateful
                return self._astate(kind, {k: getattr(node, k) for k in keys},
                                    bool(getattr(node, "non_negative", False)))
            if isinstance(node, ae.GetConstantsStructure):
                return self._ext_constant(node)
            name = type(node).__name__.replace("Structure", "")
            label = {
                "GetConstants": "GET XLS/DIRECT CONSTANTS",
                "GetData": "GET XLS/DIRECT DATA",
                "GetLookups": "GET XLS/DIRECT LOOKUPS",
                "Data": "data variable",
                "AllocateAvailable": "ALLOCATE AVAILABLE",
                "AllocateByPriority": "ALLOCATE BY PRIORITY",
                "DelayFixed": "DELAY FIXED",
            }.get(name, name)
            self.fail(label)
            raise AssertionError  # pragma: no cover

        def _array_literal(self, node: Any) -> tuple[Expr, tuple[str, ...]]:
            from pysd.py_backend.utils import compute_shape

            shape = tuple(compute_shape(self.def_subs))
            vals = node.reshape(shape)
            return ArrayNum(tuple(float(v) for v in vals.ravel()), shape,
                            tuple(self.def_subs)), tuple(self.def_subs)

        def _reference(self, node: Any, table: bool = False) -> tuple[Expr, tuple[str, ...]]:
            ref = node.reference
            sm = self.sm
            if ref not in self.cleanspace:
                key = ref.replace(" ", "_").lower()
                if key in sm.subscript2num:
                    _src, subs = sm.subscript2num[key]
                    if not subs:
                        return Num(float(_src)), ()
                    (dim, coords), = subs.items()
                    main = next(r for r, s in sm.subranges.items()
                                if r == dim or dim in s)
                    pos = [sm.subscripts[main].index(c) + 1.0 for c in coords]
                    return ArrayNum(tuple(pos), (len(pos),), (dim,)), (dim,)
                self.fail("unknown reference", ref)
            py = self.cleanspace[ref]
            if py in self.lookup_names and not table:
                self.fail("lookup used as a variable", ref)
            ref_subs = list(getattr(node.subscripts, "subscripts", []) or [])
            vdims = self.el_dims.get(py, [])
            if not ref_subs:
                if vdims:
                    self.fail("arrayed variable referenced without subscripts", ref)
                return Ref(py), ()
            current = sm.make_coord_dict(ref_subs)
            if len(current) != len(ref_subs):
                self.fail("repeated subscript range in a reference", ref)
            original = self.el_coords.get(py, {})
            if len(current) != len(original):
                self.fail("reference with a different number of subscripts", ref)
            index: list[Any] = []
            kept: list[str] = []
            for (dim, coord), (_odim, ocoord) in zip(current.items(), original.items(),
                                                       strict=True):
                try:
                    pos = tuple(ocoord.index(c) for c in coord)
                except ValueError:
                    self.fail("subscript outside the variable's range", ref)
                if len(coord) == 1:
                    index.append(pos[0])
                    continue
                if len(coord) > len(ocoord):
                    self.fail("subscript larger than the variable's range", ref)
                index.append(None if pos == tuple(range(len(ocoord))) else pos)
                kept.append(dim)
            # mapping between ranges (PySD relabels positionally)
            out_dims: list[str] = []
            for dim in kept:
                new = dim
                if dim not in self.def_subs and not dim.endswith("!"):
                    for mapped in sm.mapping.get(dim, []):
                        if mapped in self.def_subs and mapped not in current:
                            if len(sm.subscripts[mapped]) != len(current[dim]):
                                self.fail("mapping between ranges of different lengths", ref)
                            new = mapped
                            break
                out_dims.append(new)
            if len(set(out_dims)) != len(out_dims):
                self.fail("repeated dimension after mapping", ref)
            return ARef(py, tuple(index), tuple(out_dims)), tuple(out_dims)

        def _call(self, node: Any) -> tuple[Expr, tuple[str, ...]]:
            fname = node.function.reference
            if fname in self.cleanspace and self.cleanspace[fname] in self.lookup_names:
                py = self.cleanspace[fname]
                if len(node.arguments) != 1:
                    self.fail("lookup call with several arguments", fname)
                arg, d = self.aconv(node.arguments[0])
                if py not in self.tables:
                    return LookupCall(py, arg), d
                return self._table_call(py, node.function, arg, d)
            if fname in self.cleanspace:
                self.fail("call of a non-lookup variable", fname)
            if fname in self.macros:
                self.fail("macro", fname)
            if fname == "elmcount":
                a = node.arguments[0]
                key = getattr(a, "reference", str(a))
                for name, elems in self.sm.subscripts.items():
                    if name.replace(" ", "_").lower() == str(key).replace(" ", "_").lower():
                        return Num(float(len(elems))), ()
                self.fail("ELMCOUNT of an unknown range", str(key))
            if fname in _REDUCE:
                if len(node.arguments) != 1:
                    self.fail(f"{fname.upper()} with several arguments", fname)
                arg, d = self.aconv(node.arguments[0])
                if fname.endswith("_xmile"):
                    axes = tuple(range(len(d)))
                else:
                    axes = tuple(i for i, x in enumerate(d) if x.endswith("!"))
                if not axes:
                    self.fail(f"{fname.upper()} without a dimension to reduce", fname)
                rest = tuple(x for i, x in enumerate(d) if i not in axes)
                return Reduce(_REDUCE[fname], arg, d, axes), rest
            if fname in ("random_0_1", "random_uniform", "random_normal", "random_exponential"):
                self.fail("random function", fname.upper())
            if fname not in SUPPORTED_FUNCS:
                self.fail("function", fname.upper().replace("_", " "))
            conv = [self.aconv(a) for a in node.arguments]
            dims = union_dims(*(d for _, d in conv))
            args = tuple(align(e, d, dims) for e, d in conv)
            if fname in ("min", "max") and len(args) != 2:
                self.fail("MIN/MAX with one argument", fname.upper())
            if fname == "active_initial" and dims:
                self.fail("arrayed ACTIVE INITIAL")
            return Call(fname, args), dims

        def _table_call(self, py: str, ref: Any, arg: Expr,
                        arg_dims: tuple[str, ...]) -> tuple[Expr, tuple[str, ...]]:
            if self.el_dims.get(py):
                sel, _sdims = self._reference(ref, table=True)
                if not isinstance(sel, ARef):
                    self.fail("arrayed lookup called without subscripts", ref.reference)
                index, dims = sel.index, sel.dims
            else:
                index, dims = (), ()
            out = union_dims(dims, arg_dims)
            return TableCall(py, index, dims, arg, arg_dims, out), out

        def _externals_root(self) -> Path:
            return Path(self.path).parent if self.path else Path(".")

        def _final_subs(self, py: str) -> dict[str, list[str]]:
            final, _src = self.sm.simplify_subscript_input(self.def_subs, self.el_dims[py])
            return final

        def _ext_constant(self, node: Any) -> tuple[Expr, tuple[str, ...]]:
            from pysd.py_backend.external import ExtConstant

            py = self._current_py
            final = self._final_subs(py)
            obj = ExtConstant(node.file, node.tab, node.cell, final, self._externals_root(),
                              self.el_coords[py], "_ext_constant_" + py)
            with _quiet():
                obj.initialize()
            self._record_file(obj)
            if not final:
                return Num(float(obj.data)), ()
            block = obj.data.loc[final].values if hasattr(obj.data, "loc") else obj.data
            vals = np.asarray(block, dtype=float).reshape(tuple(len(c) for c in final.values()))
            cdims = tuple(self.def_subs)
            return ArrayNum(tuple(float(v) for v in vals.ravel()), vals.shape, cdims), cdims

        def _record_file(self, obj: Any) -> None:
            for f in getattr(obj, "files", []):
                path = (self._externals_root() / str(f)).resolve()
                if path.exists():
                    self.external_files.add(path)

        def _astate(self, kind: str, args: dict[str, Any],
                    non_negative: bool) -> tuple[Expr, tuple[str, ...]]:
            dst = tuple(self.def_subs)
            conv: dict[str, Expr] = {}
            for k, v in args.items():
                e, d = self.aconv(v)
                if k == "order":
                    if d:
                        self.fail("arrayed delay/smooth order")
                    conv[k] = e
                    continue
                if not set(d) <= set(dst):
                    self.fail(f"{kind} argument with dims beyond the definition", ",".join(d))
                conv[k] = align(e, d, dst)
            name = self.ns.make_python_identifier(self._current_py, prefix=self._PREFIX[kind])
            st = Stateful(name, kind, self._current_py, conv, non_negative)
            st.dims = dst
            st.shape = tuple(len(c) for c in self.def_subs.values())
            self.states[name] = st
            return Ref(name), dst

        # -- elements ----------------------------------------------------------------

        def build(self) -> ModelIR:
            from pysd.translators.structures import abstract_model as am

            variables: dict[str, Variable] = {}
            for el in self.section.elements:
                py = self.ns.namespace[el.name]
                self._current, self._current_py = el.name, py
                limits = tuple(el.limits) if el.limits else (None, None)
                dims = tuple(self.el_dims[py])
                coords = self.el_coords[py]
                shape = tuple(len(c) for c in coords.values())
                common = dict(name=el.name, py_name=py, units=el.units or "", limits=limits,
                              comment=el.documentation or "", dims=dims, shape=shape)
                control = isinstance(el, am.AbstractControlElement)
                comps = el.components
                try:
                    if any(isinstance(c, am.AbstractLookup) for c in comps):
                        variables[py] = self._lookup_var(el, comps, coords, common)
                        continue
                    if any(isinstance(c, am.AbstractData) for c in comps):
                        table = self._pysd_table(el, comps, "data")
                        call = TableCall(py, (), dims, Ref("time"), (), dims)
                        variables[py] = Variable(kind="data", lookup=table, expr=call,
                                                 deps_dynamic=frozenset({"time"}),
                                                 deps_initial=frozenset({"time"}), **common)
                        continue
                    if not dims:
                        if len(comps) != 1:
                            self.fail("multiple definitions")
                        self.def_subs = {}
                        expr, d = self.aconv(comps[0].ast)
                        variables[py] = self._scalar_var(py, expr, comps[0].ast, control, common)
                        continue
                    components = []
                    for c in comps:
                        self.def_subs = self.sm.make_coord_dict(list(c.subscripts[0]))
                        cdims = tuple(self.def_subs)
                        if len(cdims) != len(dims):
                            self.fail("definition with a different number of subscripts")
                        index = self._positions(self.def_subs, coords)
                        exclude = tuple(self._positions(self.sm.make_coord_dict(list(ex)),
                                                        coords)
                                        for ex in c.subscripts[1])
                        expr, d = self.aconv(c.ast)
                        if not set(d) <= set(cdims):
                            self.fail("dimension not in the definition's subscripts",
                                      ", ".join(x for x in d if x not in cdims))
                        components.append(Component(index, exclude, align(expr, d, cdims),
                                                    cdims))
                    variables[py] = self._array_var(py, components, comps, common)
                except _Fallback as fb:
                    construct, detail = fb.args[0], (fb.args[1] if len(fb.args) > 1 else "")
                    self.unsupported.append(Unsupported(construct, el.name, detail))
                    variables[py] = Variable(kind="aux", expr=Num(math.nan), **common)
            flows = {f for v in variables.values() if v.kind == "stock"
                     for f in v.inflows + v.outflows}
            for f in flows:
                if f in variables and variables[f].kind in ("aux", "constant"):
                    variables[f].kind = "flow"
            for name in CONTROL_NAMES:
                if name not in variables:
                    self.unsupported.append(Unsupported("missing control variable", name))
            subs = {k: tuple(v) for k, v in self.sm.subscripts.items()}
            ir = ModelIR(self.path, variables, self.states, self.unsupported, subscripts=subs)
            ir.external_files = tuple(sorted(self.external_files))
            return ir

        def _positions(self, sub: dict[str, list[str]],
                       coords: dict[str, list[str]]) -> tuple[tuple[int, ...], ...]:
            out = []
            for (_d, c), (_od, oc) in zip(sub.items(), coords.items(), strict=False):
                try:
                    out.append(tuple(oc.index(x) for x in c))
                except ValueError:
                    self.fail("definition outside the variable's range")
            if len(out) != len(coords):
                self.fail("definition with a different number of subscripts")
            return tuple(out)

        def _scalar_var(self, py: str, expr: Expr, ast: Any, control: bool,
                        common: dict) -> Variable:
            from pysd.translators.structures import abstract_expressions as ae

            own_states = tuple(n for n, s in self.states.items() if s.owner == py)
            if isinstance(ast, ae.IntegStructure):
                st = self.states[expr.name]  # type: ignore[attr-defined]
                flow = st.args["flow"]
                inflows, outflows = _split_flows(flow)
                return Variable(kind="stock", expr=expr, initial=st.args["initial"],
                                net_flow=flow, inflows=inflows, outflows=outflows,
                                statefuls=own_states, deps_initial=frozenset({expr.name}),
                                deps_dynamic=frozenset({expr.name}),
                                flow_deps=frozenset(references(flow)),
                                non_negative=st.non_negative, **common)
            deps = references(expr)
            kind = "control" if control else ("constant" if not deps and not own_states
                                              else "aux")
            return Variable(kind=kind, expr=expr, statefuls=own_states,
                            deps_dynamic=frozenset(deps),
                            deps_initial=frozenset(_init_refs(expr)), **common)

        def _array_var(self, py: str, components: list[Component], comps: Any,
                       common: dict) -> Variable:
            from pysd.translators.structures import abstract_expressions as ae

            own_states = tuple(n for n, s in self.states.items() if s.owner == py)
            deps: set[str] = set()
            init: set[str] = set()
            for c in components:
                deps |= references(c.expr)
                init |= _init_refs(c.expr)
            stocks = [isinstance(c.ast, ae.IntegStructure) for c in comps]
            if all(stocks):
                flows = [self.states[c.expr.expr.name if isinstance(c.expr, Align)  # type: ignore
                                     else c.expr.name].args["flow"]  # type: ignore
                         for c in components]
                inflows, outflows = (_split_flows(flows[0]) if len(flows) == 1 else ((), ()))
                fdeps: set[str] = set()
                for f in flows:
                    fdeps |= references(f)
                nonneg = any(self.states[s].non_negative for s in own_states)
                return Variable(kind="stock", components=tuple(components),
                                statefuls=own_states, deps_initial=frozenset(init),
                                deps_dynamic=frozenset(deps), flow_deps=frozenset(fdeps),
                                inflows=inflows, outflows=outflows, non_negative=nonneg,
                                **common)
            if any(stocks):
                self.fail("stock defined by INTEG for some elements only")
            kind = "constant" if not deps and not own_states else "aux"
            return Variable(kind=kind, components=tuple(components), statefuls=own_states,
                            deps_dynamic=frozenset(deps), deps_initial=frozenset(init),
                            **common)

        def _lookup_var(self, el: Any, comps: Any, coords: dict, common: dict) -> Variable:
            from pysd.translators.structures import abstract_model as am

            if not all(isinstance(c, am.AbstractLookup) for c in comps):
                self.fail("lookup mixed with other definitions")
            py = common["py_name"]
            if py not in self.tables:
                if len(comps) != 1:
                    self.fail("multiple definitions")
                return Variable(kind="lookup", lookup=self._table(comps[0].ast), **common)
            table = self._pysd_table(el, comps, "lookup")
            return Variable(kind="lookup", lookup=table, **common)

        def _pysd_table(self, el: Any, comps: Any, what: str) -> ArrayTable:
            """Build PySD's own lookup/data object for the element, and read its table."""
            from pysd.py_backend.external import ExtData, ExtLookup
            from pysd.py_backend.lookups import HardcodedLookups
            from pysd.translators.structures import abstract_expressions as ae

            py = self.ns.namespace[el.name]
            obj = None
            final_coords = self.el_coords[py]
            mode = "interpolate"
            for c in comps:
                self.def_subs = self.sm.make_coord_dict(list(c.subscripts[0]))
                if c.subscripts[1]:
                    self.fail(f"EXCEPT in a {what} definition")
                ast = c.ast
                final = self._final_subs(py)
                if what == "lookup" and isinstance(ast, ae.LookupsStructure):
                    m = str(ast.type or "interpolate")
                    args = (list(ast.x), list(ast.y), self.def_subs)
                    if obj is None:
                        obj = HardcodedLookups(*args, m, final_coords, "_lk_" + py)
                    elif isinstance(obj, HardcodedLookups):
                        obj.add(*args)
                    else:
                        self.fail("lookup defined in several ways")
                    mode = m
                elif what == "lookup" and isinstance(ast, ae.GetLookupsStructure):
                    args = (ast.file, ast.tab, ast.x_row_or_col, ast.cell)
                    if obj is None:
                        obj = ExtLookup(*args, final, self._externals_root(), final_coords,
                                        "_ext_lookup_" + py)
                    elif isinstance(obj, ExtLookup):
                        obj.add(*args, final)
                    else:
                        self.fail("lookup defined in several ways")
                elif what == "data" and isinstance(ast, ae.GetDataStructure):
                    kw = getattr(c, "keyword", None)
                    args = (ast.file, ast.tab, ast.time_row_or_col, ast.cell)
                    if obj is None:
                        obj = ExtData(*args, kw, final, self._externals_root(), final_coords,
                                      "_ext_data_" + py)
                    elif isinstance(obj, ExtData):
                        obj.add(*args, kw, final)
                    else:
                        self.fail("data defined in several ways")
                    mode = obj.interp
                else:
                    self.fail("data variable" if what == "data" else "lookup definition",
                              type(ast).__name__.replace("Structure", ""))
            assert obj is not None
            with _quiet():
                obj.initialize()
            self._record_file(obj)
            data = obj.data
            axis = "time" if what == "data" else "lookup_dim"
            dims = list(self.el_dims[py])
            x = np.asarray(data.coords[axis].values, dtype=float)
            y = np.asarray(data.transpose(axis, *dims).values, dtype=float)
            if mode not in ("interpolate", "extrapolate", "hold_backward", "raw", "look_forward"):
                self.fail(f"{what} mode {mode}")
            if len(x) > 1 and not np.all(np.diff(x) > 0):
                self.fail(f"{what} with a non-increasing axis")
            shape = tuple(len(c) for c in final_coords.values())
            return ArrayTable(tuple(float(v) for v in x), tuple(float(v) for v in y.ravel()),
                              shape, mode, data=what == "data")

    return ArrayBuilder


def _quiet() -> Any:
    import contextlib

    @contextlib.contextmanager
    def cm():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield

    return cm()
