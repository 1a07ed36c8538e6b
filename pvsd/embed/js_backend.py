"""Compile a model's IR to JavaScript: the simulator inside static HTML pages.

This is a second back end over the IR of :mod:`pvsd.engine.ir` (the first is
:mod:`pvsd.engine.numpy_backend`); it never reads model files. The generated
code performs, for one run, the same floating-point operations in the same order
as the numpy back end and PySD: Euler integration (``state + ddt * dt``), time
advanced by repeated addition of TIME STEP, PySD's save-time test, SMOOTH/DELAY
stage arrays, numpy's ``interp`` for lookups (with the extrapolation modes),
PySD's PULSE/STEP/RAMP/XIDZ/ZIDZ. Results agree with ``Model.run`` to the last
bits, except where a transcendental function (``exp``, ``ln``, ``^`` ...) of the
browser's maths library rounds differently from the C library (a few ulp).

Arrayed models are compiled element by element from
:func:`pvsd.engine.scalarise.scalarise`; an arrayed output reads as the flat,
row-major list of its elements and an arrayed parameter takes a number, a
(nested) list in element order or a time function whose ``y`` rows are such
lists (``meta["arrays"]`` gives dims, shape and element names).

Supported: the subset the numpy back end runs (INTEG, SMOOTH,
SMOOTHI, SMOOTH3(I), SMOOTH N, DELAY1(I), DELAY3(I), DELAY N, TREND, FORECAST,
SAMPLE IF TRUE, INITIAL, ACTIVE INITIAL, lookups with their extrapolation modes,
WITH LOOKUP, IF THEN ELSE, logical operators, MIN/MAX, ABS, EXP, LN, LOG, SQRT,
trigonometric functions, POWER, INTEGER, MODULO, QUANTUM, XIDZ/ZIDZ, STEP,
RAMP, PULSE, PULSE TRAIN). Anything else raises
:class:`~pvsd.errors.UnsupportedModelError` naming the construct and variable.

The compiled program is a JavaScript *expression* evaluating to an object::

    {simulate(P, opts) -> {time: [...], values: {py_name: [...]}}, meta: {...}}

``P`` maps Python names of constants (or auxiliaries) to a number or to a time
function ``{x: [...], y: [...]}`` (piecewise linear, constant beyond the ends, as
pvsd's Step/Ramp/Table levers); ``opts`` may give ``outputs`` (Python names) and
``save_times`` (explicit saved times, like ``Model.run(return_times=...)``) and
``final_time``.

The runtime and the Node.js runner live in :mod:`pvsd.embed.js_runtime`, the code
of the state variables in :mod:`pvsd.embed.js_states`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pvsd.embed.js_runtime import _RUNTIME, node_available, run_in_node
from pvsd.embed.js_states import _state_ddt, _state_init, _state_update, _state_value
from pvsd.engine.ir import (
    CONTROL_NAMES,
    BinOp,
    Call,
    Expr,
    InlineLookup,
    LookupCall,
    LookupTable,
    ModelIR,
    Num,
    Ref,
    UnaryOp,
    Unsupported,
    walk,
)
from pvsd.errors import PvsdError, UnsupportedModelError

__all__ = ["SUPPORTED", "JSModel", "compile_js", "ir_of", "node_available", "run_in_node", "with_values"]

#: Human description of the supported subset (used in error messages).
SUPPORTED = (
    "INTEG, SMOOTH/SMOOTHI/SMOOTH3/SMOOTH3I/SMOOTH N, DELAY1/DELAY1I/DELAY3/DELAY3I/DELAY N "
    "(also with a time-varying delay time), DELAY FIXED, macros (inlined), control variables that "
    "change during the run, "
    "TREND, FORECAST, SAMPLE IF TRUE, INITIAL, ACTIVE INITIAL, lookups (with extrapolation "
    "modes), WITH LOOKUP, IF THEN ELSE, :AND:/:OR:/:NOT:, MIN, MAX, ABS, EXP, LN, LOG, SQRT, "
    "SIN/COS/TAN and inverses, POWER, INTEGER, MODULO, QUANTUM, XIDZ, ZIDZ, STEP, RAMP, PULSE, "
    "PULSE TRAIN, subscripts (ranges, subranges, mappings, per-element definitions, SUM/PROD/"
    "VMIN/VMAX, arrayed lookups and GET XLS/DIRECT constants and lookups); no data "
    "variables or random functions"
)

_MATH = {
    "abs": "Math.abs", "exp": "Math.exp", "ln": "Math.log", "sqrt": "Math.sqrt",
    "sin": "Math.sin", "cos": "Math.cos", "tan": "Math.tan", "arcsin": "Math.asin",
    "arccos": "Math.acos", "arctan": "Math.atan", "sinh": "Math.sinh", "cosh": "Math.cosh",
    "tanh": "Math.tanh", "min": "Math.min", "max": "Math.max", "power": "Math.pow",
}
_CMP = {"=": "===", "<>": "!==", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_RK4_KINDS = {"integ", "smooth", "delay", "delayn", "trend", "forecast"}
_STATE_KINDS = {"integ", "smooth", "delay", "delayn", "trend", "forecast", "sample_if_true", "initial",
                "delay_fixed"}
_OTHER_FUNCS = {"log", "pi", "integer", "quantum", "modulo", "xidz", "zidz", "if_then_else",
                "active_initial", "step", "ramp", "Xramp", "pulse", "Xpulse", "pulse_train",
                "Xpulse_train", "nansum", "nanprod", "nanmin", "nanmax", "pow_real"}



@dataclass
class JSModel:
    """A model compiled to JavaScript.

    Attributes
    ----------
    source
        A JavaScript expression evaluating to ``{simulate, meta}``.
    names
        Python name -> model-file name of every variable.
    outputs
        Python names the simulator can return (every non-lookup variable).
    """

    source: str
    names: dict[str, str]
    outputs: list[str]
    meta: dict[str, Any] = field(default_factory=dict)


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "(-Infinity)"
    text = repr(float(v))
    return f"({text})" if text.startswith("-") else text


def ir_of(model: Any) -> ModelIR:
    """The IR of a :class:`pvsd.Model` (raises :class:`UnsupportedModelError` without one)."""
    from pvsd.engine.ir import build_ir

    try:
        am = model.abstract_model()
    except Exception as exc:  # a broken cache: say so
        raise UnsupportedModelError(
            f"{model.path.name}: PySD's abstract model is unavailable ({type(exc).__name__}: {exc})."
        ) from None
    if am is None:
        raise UnsupportedModelError(
            f"{model.path.name} is a translated PySD .py file, which keeps no abstract model; "
            "give the original Vensim .mdl or XMILE file to compile the model to JavaScript."
        )
    return build_ir(am, model.path)


def check_supported(ir: ModelIR, what: str = "compile the model to JavaScript") -> None:
    """Raise :class:`UnsupportedModelError` naming every construct outside the subset."""
    from pvsd.engine.support import inspect_ir

    items: list[Unsupported] = list(inspect_ir(ir))
    for st in ir.states.values():
        if st.kind not in _STATE_KINDS and not any(u.variable == ir.variables[st.owner].name for u in items):
            items.append(Unsupported(st.kind.upper().replace("_", " "), ir.variables[st.owner].name))
    for v in ir.variables.values():
        for e in (v.expr, v.initial, v.net_flow):
            if e is None:
                continue
            for n in walk(e):
                if isinstance(n, Call) and n.func not in _MATH and n.func not in _OTHER_FUNCS:
                    items.append(Unsupported("function", v.name, n.func.upper()))
    if items:
        seen: list[str] = []
        for u in items:
            if str(u) not in seen:
                seen.append(str(u))
        more = f" (and {len(seen) - 6} more)" if len(seen) > 6 else ""
        path = ir.path.name if ir.path else "the model"
        raise UnsupportedModelError(
            f"Cannot {what}: {path} uses " + "; ".join(seen[:6]) + more
            + f". The live simulator supports: {SUPPORTED}."
        )


class _Gen:
    def __init__(self, ir: ModelIR) -> None:
        self.ir = ir
        self.tables: dict[int, tuple[str, LookupTable]] = {}
        self.table_names: dict[str, str] = {}

    def table(self, table: LookupTable, name: str | None = None) -> str:
        if name is not None and name in self.table_names:
            return self.table_names[name]
        key = id(table)
        if key not in self.tables:
            self.tables[key] = (f"L{len(self.tables)}", table)
        c = self.tables[key][0]
        if name is not None:
            self.table_names[name] = c
        return c

    def expr(self, e: Expr, initial: bool = False, boolean: bool = False) -> str:
        """JavaScript for ``e``: a number, or a JS boolean when ``boolean``."""
        def g(x: Expr, b: bool = False) -> str:
            return self.expr(x, initial, b)

        def num(s: str) -> str:  # a JS boolean expression as 1/0 where a number is needed
            return s if not boolean else f"T({s})"

        if isinstance(e, Num):
            return num(_num(e.value))
        if isinstance(e, Ref):
            return num("time" if e.name == "time" else "v_" + e.name)
        if isinstance(e, UnaryOp):
            if e.op == "neg":
                return num(f"(-{g(e.operand)})")
            s = f"(!{g(e.operand, True)})"
            return s if boolean else f"({s} ? 1 : 0)"
        if isinstance(e, BinOp):
            if e.op in ("and", "or"):
                js = "&&" if e.op == "and" else "||"
                s = f"({g(e.left, True)} {js} {g(e.right, True)})"
                return s if boolean else f"({s} ? 1 : 0)"
            if e.op in _CMP:
                s = f"({g(e.left)} {_CMP[e.op]} {g(e.right)})"
                return s if boolean else f"({s} ? 1 : 0)"
            if e.op == "^":
                return num(f"Math.pow({g(e.left)}, {g(e.right)})")
            return num(f"({g(e.left)} {e.op} {g(e.right)})")
        if isinstance(e, LookupCall):
            lk = self.ir.variables[e.lookup].lookup
            assert lk is not None
            c = self.table(lk, e.lookup)
            mode = {"interpolate": 0, "extrapolate": 1, "hold_backward": 2}[lk.mode]
            return num(f"lookup({g(e.arg)}, {c}x, {c}y, {mode})")
        if isinstance(e, InlineLookup):
            c = self.table(e.table)
            return num(f"interp({g(e.arg)}, {c}x, {c}y)")
        if isinstance(e, Call):
            return num(self.call(e, g))
        raise TypeError(f"unknown expression node {e!r}")

    def call(self, e: Call, g: Any) -> str:
        f, a = e.func, e.args
        if f in _MATH:
            return f"{_MATH[f]}({', '.join(g(x) for x in a)})"
        if f == "pow_real":
            return f"powReal({g(a[0])}, {g(a[1])})"
        if f in ("nansum", "nanprod", "nanmin", "nanmax"):  # SUM/PROD/VMIN/VMAX of arrays
            return f"{f}({', '.join(g(x) for x in a)})"
        if f == "log":
            return f"(Math.log({g(a[0])}) / Math.log({g(a[1])}))"
        if f == "pi":
            return "Math.PI"
        if f == "integer":
            return f"Math.trunc({g(a[0])})"
        if f == "quantum":
            return f"quantum({g(a[0])}, {g(a[1])})"
        if f == "modulo":
            return f"(({g(a[0])}) - quantum({g(a[0])}, {g(a[1])}))"
        if f == "xidz":
            return f"xidz({g(a[0])}, {g(a[1])}, {g(a[2])})"
        if f == "zidz":
            return f"zidz({g(a[0])}, {g(a[1])})"
        if f == "if_then_else":
            return f"({g(a[0], True)} ? {g(a[1])} : {g(a[2])})"
        if f == "active_initial":
            # the caller decides the phase: self.expr(..., initial)
            return "__AI__"
        if f == "step":
            return f"({g(a[0])} * ((time + dt / 2 > {g(a[1])}) ? 1 : 0))"
        if f in ("ramp", "Xramp"):
            final = "time" if len(a) < 3 else f"Math.min({g(a[2])}, time)"
            return f"((((time + SMALL > {g(a[1])}) ? 1 : 0) * {g(a[0])}) * ({final} - {g(a[1])}))"
        if f == "pulse":
            return f"pulse(time, dt, {g(a[0])}, null, {g(a[1])}, null, null)"
        if f == "Xpulse":
            return f"pulse(time, dt, {g(a[0])}, null, null, {g(a[1])}, null)"
        if f == "pulse_train":
            return f"pulse(time, dt, {g(a[0])}, {g(a[1])}, {g(a[2])}, null, {g(a[3])})"
        if f == "Xpulse_train":
            return f"pulse(time, dt, {g(a[0])}, {g(a[1])}, null, {g(a[2])}, null)"
        raise UnsupportedModelError(f"function {f.upper()} is not supported in JavaScript")


class _ActiveGen(_Gen):
    """Expression generation that resolves ACTIVE INITIAL by phase."""

    def expr(self, e: Expr, initial: bool = False, boolean: bool = False) -> str:
        if isinstance(e, Call) and e.func == "active_initial":
            inner = self.expr(e.args[1] if initial else e.args[0], initial, boolean)
            return inner
        return super().expr(e, initial, boolean)


def compile_js(ir: ModelIR) -> JSModel:
    """Compile an IR to JavaScript.

    Parameters
    ----------
    ir
        The model's IR (:func:`pvsd.engine.ir.build_ir` or :func:`ir_of`).

    Returns
    -------
    JSModel

    Raises
    ------
    UnsupportedModelError
        The model uses a construct outside the supported subset (named, with the
        variable where it occurs).
    """
    arrays: dict[str, list[str]] = {}
    array_meta: dict[str, Any] = {}
    if ir.subscripts:
        # arrays run element by element: the per-element scalar IR of the model
        from pvsd.engine.scalarise import element_py, scalarise

        for v in ir.variables.values():
            if v.shape and v.kind != "lookup":
                n = math.prod(v.shape)
                arrays[v.py_name] = [element_py(v.py_name, k) for k in range(n)]
                array_meta[v.py_name] = {"dims": list(v.dims), "shape": list(v.shape),
                                         "elements": arrays[v.py_name]}
        array_names = {v.py_name: v.name for v in ir.variables.values() if v.py_name in arrays}
        subscripts = {k: list(x) for k, x in ir.subscripts.items()}
        ir = scalarise(ir)
    check_supported(ir)
    gen = _ActiveGen(ir)
    g = gen.expr
    from pvsd.embed.js_dynamic import delayn_setup, dynamic_controls

    gen.dn = delayn_setup(ir)  # DELAY N with a time-varying delay time: name -> (rule, users)
    dyn_ctl = dynamic_controls(ir)
    variables = ir.variables
    states = ir.states
    lookups = {n for n, v in variables.items() if v.kind == "lookup"}
    controls = [c for c in CONTROL_NAMES if c in variables]
    overridable = [n for n, v in variables.items() if v.kind in ("constant", "aux", "flow")]
    init_order = ir.order(initial=True)
    run_order = ir.order(initial=False)
    ctl_order = ir.order(set(controls), initial=True)
    dyn_states = [s for s in states if states[s].kind != "initial"]
    L: list[str] = []
    A = L.append

    def value_line(n: str, initial: bool, ind: str) -> None:
        v = variables[n]
        if v.kind == "lookup":
            return
        if v.kind == "control":
            A(f"{ind}v_{n} = {g(v.expr, initial)};")  # type: ignore[arg-type]
            return
        assert v.expr is not None
        if n in over_set:
            A(f"{ind}v_{n} = pd_{n} ? interp(time, pd_{n}.x, pd_{n}.y) : "
              f"(po_{n} !== undefined ? po_{n} : {g(v.expr, initial)});")
        else:
            A(f"{ind}v_{n} = {g(v.expr, initial)};")

    over_set = set(overridable)
    A("function simulate(P, opts) {")
    A("  P = expandP(P || {}, ARRAYS); opts = opts || {};")
    for n in overridable:
        A(f"  const po_{n} = typeof P.{n} === 'number' ? P.{n} : undefined, "
          f"pd_{n} = (P.{n} && typeof P.{n} === 'object') ? P.{n} : null;")
    A("  let time = 0, dt = 0;")
    declared = [n for n in variables if n not in lookups] + list(states)
    for k in range(0, len(declared), 12):
        A("  let " + ", ".join(f"v_{n}" for n in declared[k:k + 12]) + ";")
    for s in states:
        A(f"  let s_{s}, d_{s}, o_{s}, k_{s}, q_{s}, p_{s}, T_{s}, Tn_{s};")
    A("  let curSave = false;")
    # controls first (they define the time grid)
    for n in ctl_order:
        if n in variables:
            value_line(n, True, "  ")
    from pvsd.embed.js_dynamic import control_prologue

    control_prologue(L, dyn_ctl, [n for n in ctl_order if n in variables], value_line)
    A("  time = v_initial_time; dt = v_time_step;")
    A("  const grid = timeGrid(v_initial_time, v_final_time, v_time_step, "
      "v_saveper === undefined ? v_time_step : v_saveper, opts.save_times || null);")
    A("  const times = grid.times, save = grid.save;")
    # initialisation pass
    done = set(ctl_order)
    for n in init_order:
        if n in done:
            continue
        if n in states:
            _state_init(gen, n, L)
            A(f"  v_{n} = {_state_value(gen, n, True)};")
        else:
            value_line(n, True, "  ")
    A("  const outs = opts.outputs || OUTPUTS;")
    for s, (_rule, users) in gen.dn.items():
        # PySD reads the DELAY N's value before the conveyor moves at saved times when a
        # saved output depends on it (pvsd.engine.delayn)
        A(f"  const dnU_{s} = new Set({json.dumps(sorted(users))}), "
          f"dnS_{s} = {'true' if gen.dn[s][0][0] else 'false'} && !outs.some(o => dnU_{s}.has(o));")
    A("  const res = {}; for (const o of outs) res[o] = [];")
    A("  const get = {};")
    A("  const saved = [];")
    A("  const nst = times.length - 1;")
    # one step's equations and derivatives as inner functions (RK4 calls them per stage)
    A("  function evalNodes() {")
    for n in run_order:
        if n in states:
            if states[n].kind != "initial":
                A(f"    v_{n} = {_state_value(gen, n, False)};")
            continue
        v = variables[n]
        if v.kind in ("lookup", "control"):
            continue
        if v.kind == "constant":
            A(f"    if (pd_{n}) v_{n} = interp(time, pd_{n}.x, pd_{n}.y);")
            continue
        value_line(n, False, "    ")
    A("  }")
    A("  function derivs() {")
    for s in dyn_states:
        _state_ddt(gen, s, L, "    ")
    A("  }")
    cont = [s for s in dyn_states if states[s].kind in _RK4_KINDS]
    disc = [s for s in dyn_states if s not in cont]
    A("  const rk4 = opts.method === 'rk4';")
    A("  if (opts.method !== undefined && opts.method !== 'rk4' && opts.method !== 'euler') "
      "throw new Error('method must be euler or rk4');")
    A("  function update() {")
    for s in dyn_states:
        _state_update(gen, s, L, "    ")
    A("  }")
    A("  function rk4Step(tEnd) {")
    if cont:
        # classical Runge-Kutta, the same operations as pvsd.engine.numpy_backend
        A("    const t0 = time;")
        for st in cont:
            A(f"    const s0_{st} = cp(s_{st}), k1_{st} = cp(d_{st});")
        for st in disc:
            A(f"    const k1_{st} = cp(d_{st});")
        for st in gen.dn:  # the conveyor of delay times moves once per step
            A(f"    const Tn1_{st} = Tn_{st};")
        stages = (("k1", "(dt / 2)", "t0 + dt / 2", "k2"), ("k2", "(dt / 2)", "t0 + dt / 2", "k3"),
                  ("k3", "dt", "tEnd", "k4"))
        for src, h, t, dst in stages:
            for st in cont:
                A(f"    s_{st} = axpy(s0_{st}, {src}_{st}, {h});")
            A(f"    time = {t}; evalNodes(); derivs();")
            for st in cont:
                A(f"    const {dst}_{st} = cp(d_{st});")
        for st in cont:
            A(f"    s_{st} = s0_{st}; d_{st} = comb(k1_{st}, k2_{st}, k3_{st}, k4_{st});")
        for st in disc:
            A(f"    d_{st} = k1_{st};")
        for st in gen.dn:
            A(f"    Tn_{st} = Tn1_{st};")
        A("    time = t0;")
    A("  }")
    from pvsd.embed.js_dynamic import control_nodes, main_loops

    if dyn_ctl:
        control_nodes(L, ir, value_line)
    main_loops(L, dyn_ctl, ir)
    A("  return {time: saved, values: res};")
    A("}")
    outputs = [n for n in variables if n not in lookups]
    # READ closures need access to the locals: define them inside simulate
    body = "\n".join(L)
    readers = [f"{json.dumps(n)}: () => v_{n}" for n in outputs]
    # an arrayed variable reads as the flat (row-major) list of its elements
    readers += [f"{json.dumps(n)}: () => [{', '.join('v_' + e for e in els)}]"
                for n, els in arrays.items()]
    reader = "  const READ = {" + ", ".join(readers) + "};"
    outputs = outputs + list(arrays)
    body = body.replace("  const get = {};", reader)
    consts = []
    for c, table in gen.tables.values():
        consts.append(f"const {c}x = {json.dumps(list(table.x))}, {c}y = {json.dumps(list(table.y))};")
    names = {n: v.name for n, v in variables.items()}
    meta = {
        "names": names,
        "units": {n: v.units for n, v in variables.items()},
        "kinds": {n: v.kind for n, v in variables.items()},
    }
    if arrays:
        names.update(array_names)
        meta["arrays"] = array_meta
        meta["subscripts"] = subscripts
    source = (
        "(function () {\n\"use strict\";\n" + _RUNTIME + "\n".join(consts) + "\n"
        + f"const OUTPUTS = {json.dumps(outputs)};\n"
        + f"const ARRAYS = {json.dumps(arrays)};\n" + body + "\n"
        + f"return {{simulate: simulate, meta: {json.dumps(meta)}}};\n}})()"
    )
    if "__AI__" in source:  # pragma: no cover - ACTIVE INITIAL is resolved by _ActiveGen
        raise PvsdError("internal error: unresolved ACTIVE INITIAL")
    return JSModel(source, names, outputs, meta)


def with_values(js: JSModel, values: Mapping[str, Any]) -> JSModel:
    """``js`` whose constants in ``values`` (Python name -> number or nested list of an
    arrayed constant's elements) have those values: ``simulate(P)`` applies them under
    ``P``, so a run without ``P`` is the model with these values (``--set`` in a page) and
    ``P`` still moves them. ``meta["values"]`` lists them."""
    if not values:
        return js
    bad = [k for k in values if k not in js.outputs]
    if bad:
        raise PvsdError(f"internal error: {bad[0]!r} is not a variable of the compiled model")
    vals = json.dumps(dict(values), allow_nan=False)
    source = ("(function (M0, D) {\n\"use strict\";\n"
              "return {simulate: function (P, opts) { return M0.simulate(Object.assign({}, D, P || {}), opts); },\n"
              "meta: Object.assign({}, M0.meta, {values: D})};\n"
              f"}})({js.source}, {vals})")
    return JSModel(source, dict(js.names), list(js.outputs), {**js.meta, "values": dict(values)})
