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
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

# The runtime shared by every compiled model (numpy / PySD semantics in scalar form).
_RUNTIME = r"""
const SMALL = 1e-6, RPREC = 1e-5;
function pymod(a, b) {  // Python's float modulo (result has the sign of b)
  let m = a % b;
  if (m !== 0) { if ((b < 0) !== (m < 0)) m += b; } else { m = b < 0 ? -0 : 0; }
  return m;
}
function T(x) { return x !== 0; }  // numpy truthiness (NaN is true)
function interp(x, xs, ys) {  // numpy.interp (hold the end values)
  const n = xs.length;
  if (x !== x) return x;
  if (n === 1) return x < xs[0] ? ys[0] : (x > xs[0] ? ys[0] : ys[0]);
  if (x < xs[0]) return ys[0];
  if (x > xs[n - 1]) return ys[n - 1];
  if (x === xs[n - 1]) return ys[n - 1];
  let lo = 0, hi = n - 1;  // xs[lo] <= x < xs[hi]
  while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (xs[mid] <= x) lo = mid; else hi = mid; }
  if (xs[lo] === x) return ys[lo];
  const slope = (ys[lo + 1] - ys[lo]) / (xs[lo + 1] - xs[lo]);
  let r = slope * (x - xs[lo]) + ys[lo];
  if (r !== r) {
    r = slope * (x - xs[lo + 1]) + ys[lo + 1];
    if (r !== r && ys[lo] === ys[lo + 1]) r = ys[lo];
  }
  return r;
}
function lookup(x, xs, ys, mode) {  // PySD's Lookups for floats
  const n = xs.length;
  if (mode === 2) {  // hold_backward
    if (x !== x) return NaN;
    if (x > xs[n - 1]) return ys[n - 1];
    let k = 0;
    while (k < n && xs[k] <= x) k++;
    return ys[Math.min(Math.max(k - 1, 0), n - 1)];
  }
  let r = interp(x, xs, ys);
  if (mode === 1 && n > 1) {  // extrapolate
    if (x > xs[n - 1]) r = ys[n - 1] + ((ys[n - 1] - ys[n - 2]) / (xs[n - 1] - xs[n - 2])) * (x - xs[n - 1]);
    if (x < xs[0]) r = ys[0] + ((ys[1] - ys[0]) / (xs[1] - xs[0])) * (x - xs[0]);
  }
  return r;
}
function powReal(a, b) {  // Python's float power, real part of a complex result (PySD arrays)
  const r = Math.pow(a, b);
  if (r === r || !(a < 0) || !Number.isFinite(b)) return r;
  return Math.pow(-a, b) * Math.cos(Math.PI * b);
}
function nansum() { let s = 0; for (const v of arguments) if (v === v) s += v; return s; }
function nanprod() { let s = 1; for (const v of arguments) if (v === v) s *= v; return s; }
function nanmin() { let s = NaN; for (const v of arguments) if (v === v && !(s <= v)) s = v; return s; }
function nanmax() { let s = NaN; for (const v of arguments) if (v === v && !(s >= v)) s = v; return s; }
function expandP(P, A) {  // arrayed parameters (number, nested array, time function) -> elements
  const out = Object.assign({}, P);
  for (const k in A) {
    if (!(k in P)) continue;
    const v = P[k], el = A[k];
    delete out[k];
    if (typeof v === 'number') { for (const e of el) out[e] = v; }
    else if (Array.isArray(v)) { const f = v.flat(Infinity); for (let i = 0; i < el.length; i++) out[el[i]] = f[i]; }
    else if (v && typeof v === 'object') {
      for (let i = 0; i < el.length; i++)
        out[el[i]] = {x: v.x, y: v.y.map(r => Array.isArray(r) ? r.flat(Infinity)[i] : r)};
    }
  }
  return out;
}
function xidz(a, b, x) { return Math.abs(b) < SMALL ? x : a / b; }
function zidz(a, b) { return Math.abs(b) < SMALL ? 0 : a / b; }
function quantum(a, b) { return b < SMALL ? a : b * Math.trunc(a / b); }
function pulse(t, dt, start, repeat, width, magnitude, end) {  // null = not given
  if (width === null) width = 0.5 * dt;
  const out = magnitude !== null ? magnitude / dt : 1.0;
  const single = (start - SMALL <= t && t < start + width) ? out : 0.0;
  if (repeat === null) return single;
  if (repeat === 0) return single;
  const active = start <= t && (end === null || t < end);
  return active ? (pymod(t - start + SMALL, repeat) < width ? out : 0.0) : 0.0;
}
function cp(a) { return Array.isArray(a) ? a.slice() : a; }
function axpy(s0, k, h) {  // s0 + k * h (RK4 stage state)
  if (!Array.isArray(s0)) return s0 + k * h;
  const r = new Array(s0.length); for (let j = 0; j < s0.length; j++) r[j] = s0[j] + k[j] * h; return r;
}
function comb(k1, k2, k3, k4) {  // (k1 + 2 k2 + 2 k3 + k4) / 6
  if (!Array.isArray(k1)) return (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0;
  const r = new Array(k1.length);
  for (let j = 0; j < k1.length; j++) r[j] = (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]) / 6.0;
  return r;
}
function delayOrder(order, dt, delayTime) {
  let k = Math.trunc(order);
  while (k * dt > delayTime) k -= 1;
  return k;
}
function timeGrid(t0, tf, dt, sp, saveTimes) {  // pvsd.engine.numpy_backend.time_grid
  const times = [t0];
  let t = t0;
  while (t + dt * RPREC < tf) { t = t + dt; times.push(t); }
  const prec = dt * RPREC, save = new Array(times.length).fill(false);
  if (saveTimes) {
    const pend = saveTimes.slice().sort((a, b) => a - b);
    let k = 0;
    for (let i = 0; i < times.length && k < pend.length; i++) {
      if (Math.abs(times[i] - pend[k]) <= 1e-8 + prec * Math.abs(pend[k])) { save[i] = true; k++; }
      else { while (k < pend.length && times[i] > pend[k]) k++; }
    }
  } else {
    for (let i = 0; i < times.length; i++) {
      const d = times[i] - t0;
      save[i] = pymod(d, sp) < prec || pymod(-d, sp) < prec;
    }
  }
  return {times: times, save: save};
}
"""


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


def _state_init(gen: _Gen, name: str, L: list[str]) -> None:
    st = gen.ir.states[name]
    a = st.args
    s = "s_" + name

    def g(x: Expr) -> str:
        return gen.expr(x, True)

    ind = "  "
    if st.kind in ("integ", "sample_if_true", "initial"):
        L.append(f"{ind}{s} = {g(a['initial'])};")
    elif st.kind == "smooth":
        L.append(f"{ind}o_{name} = {g(a['order'])};")
        L.append(f"{ind}k_{name} = Math.trunc(o_{name});")
        L.append(f"{ind}{s} = new Array(k_{name}).fill({g(a['initial'])}); "
                 f"d_{name} = new Array(k_{name}).fill(0);")
    elif st.kind in ("delay", "delayn"):
        L.append(f"{ind}{{ const dtm = {g(a['delay_time'])};")
        L.append(f"{ind}  k_{name} = delayOrder({g(a['order'])}, dt, dtm); o_{name} = k_{name};")
        L.append(f"{ind}  {s} = new Array(k_{name}).fill({g(a['initial'])} * dtm); "
                 f"d_{name} = new Array(k_{name}).fill(0);")
        if name in getattr(gen, "dn", {}):  # the conveyor of delay times (pvsd.engine.delayn)
            L.append(f"{ind}  T_{name} = new Array(k_{name}).fill(dtm);")
        L.append(f"{ind}}}")
    elif st.kind == "delay_fixed":
        # PySD's DelayFixed: a pipe of round(max(delay / TIME STEP, 1)) values
        L.append(f"{ind}k_{name} = Math.round(Math.max({g(a['delay_time'])} / dt, 1) + SMALL);")
        L.append(f"{ind}{s} = {g(a['initial'])}; q_{name} = new Array(k_{name}).fill({s}); "
                 f"p_{name} = 0;")
    elif st.kind == "trend":
        L.append(f"{ind}{s} = {g(a['input'])} / ((1.0) + {g(a['initial_trend'])} * {g(a['average_time'])});")
    elif st.kind == "forecast":
        L.append(f"{ind}{s} = {g(a['input'])} / ((1.0) + {g(a['initial_trend'])});")
    else:  # pragma: no cover - rejected by check_supported
        raise UnsupportedModelError(st.kind)


def _state_value(gen: _Gen, name: str, initial: bool) -> str:
    st = gen.ir.states[name]
    a = st.args
    s = "s_" + name

    def g(x: Expr, b: bool = False) -> str:
        return gen.expr(x, initial, b)

    if st.kind in ("integ", "initial", "delay_fixed"):
        return s
    if st.kind == "smooth":
        return f"{s}[{s}.length - 1]"
    if st.kind == "delayn" and name in getattr(gen, "dn", {}):
        last = f"{s}[{s}.length - 1]"
        if initial:
            return f"({last} / T_{name}[0])"
        new_other = gen.dn[name][0][1]  # type: ignore[attr-defined]
        other = g(a["delay_time"]) if new_other else f"T_{name}[0]"
        if not new_other:
            return f"({last} / {other})"
        return f"({last} / ((curSave ? dnS_{name} : true) ? {g(a['delay_time'])} : T_{name}[0]))"
    if st.kind in ("delay", "delayn"):
        return f"({s}[{s}.length - 1] / {g(a['delay_time'])})"
    if st.kind == "trend":
        return f"zidz({g(a['input'])} - {s}, {g(a['average_time'])} * Math.abs({s}))"
    if st.kind == "forecast":
        return (f"({g(a['input'])} * ((1.0) + zidz({g(a['input'])} - {s}, "
                f"{g(a['average_time'])} * {s}) * {g(a['horizon'])}))")
    if st.kind == "sample_if_true":
        return f"({g(a['condition'], True)} ? {g(a['input'])} : {s})"
    raise UnsupportedModelError(st.kind)  # pragma: no cover


def _state_ddt(gen: _Gen, name: str, L: list[str], ind: str) -> None:
    st = gen.ir.states[name]
    a = st.args
    s = "s_" + name

    def g(x: Expr, b: bool = False) -> str:
        return gen.expr(x, False, b)

    if st.kind == "integ":
        L.append(f"{ind}d_{name} = {g(a['flow'])};")
    elif st.kind == "smooth":
        L.append(f"{ind}{{ const inp = {g(a['input'])}, st = {g(a['smooth_time'])};")
        L.append(f"{ind}  for (let j = 0; j < k_{name}; j++) "
                 f"d_{name}[j] = (((j ? {s}[j - 1] : inp) - {s}[j]) * o_{name}) / st; }}")
    elif st.kind == "delayn" and name in getattr(gen, "dn", {}):
        # PySD's DelayN.ddt: the conveyor moves, slot 0 takes the current delay time
        L.append(f"{ind}{{ const dtm = {g(a['delay_time'])}, inp = {g(a['input'])};")
        L.append(f"{ind}  Tn_{name} = [dtm].concat(T_{name}.slice(0, k_{name} - 1));")
        L.append(f"{ind}  for (let j = 0; j < k_{name}; j++) d_{name}[j] = ((j ? {s}[j - 1] / "
                 f"Tn_{name}[j - 1] : inp) - {s}[j] / Tn_{name}[j]) * o_{name}; }}")
    elif st.kind in ("delay", "delayn"):
        L.append(f"{ind}{{ const inp = {g(a['input'])}, dtm = {g(a['delay_time'])};")
        L.append(f"{ind}  for (let j = 0; j < k_{name}; j++) "
                 f"d_{name}[j] = ((j ? {s}[j - 1] / dtm : inp) - {s}[j] / dtm) * o_{name}; }}")
    elif st.kind == "delay_fixed":
        L.append(f"{ind}d_{name} = {g(a['input'])};")
    elif st.kind in ("trend", "forecast"):
        L.append(f"{ind}d_{name} = ({g(a['input'])} - {s}) / {g(a['average_time'])};")
    elif st.kind == "sample_if_true":
        L.append(f"{ind}d_{name} = {s} * (0.0) + ({g(a['condition'], True)} ? {g(a['input'])} : {s});")


def _state_update(gen: _Gen, name: str, L: list[str], ind: str) -> None:
    st = gen.ir.states[name]
    s = "s_" + name
    if st.kind == "initial":
        return
    if st.kind == "sample_if_true":
        L.append(f"{ind}{s} = d_{name};")
    elif st.kind in ("smooth", "delay", "delayn"):
        L.append(f"{ind}for (let j = 0; j < k_{name}; j++) {s}[j] = {s}[j] + d_{name}[j] * dt;")
        if name in getattr(gen, "dn", {}):
            L.append(f"{ind}T_{name} = Tn_{name};")
    elif st.kind == "delay_fixed":
        L.append(f"{ind}q_{name}[p_{name}] = d_{name}; p_{name} = (p_{name} + 1) % k_{name}; "
                 f"{s} = q_{name}[p_{name}];")
    elif st.kind == "integ" and st.non_negative:
        L.append(f"{ind}{s} = Math.max({s} + d_{name} * dt, 0);")
    else:
        L.append(f"{ind}{s} = {s} + d_{name} * dt;")


# ----------------------------------------------------------------------------
# Running compiled models under Node.js (tests, checks)
# ----------------------------------------------------------------------------

_NODE_MAIN = r"""
const M = %s;
let input = '';
process.stdin.on('data', c => { input += c; });
process.stdin.on('end', () => {
  const jobs = JSON.parse(input);
  const fmt = v => Number.isFinite(v) ? String(v) : (v !== v ? 'NaN' : (v > 0 ? 'Infinity' : '-Infinity'));
  const parts = [];
  for (const job of jobs) {
    const r = M.simulate(job.params, job.opts);
    const f = v => Array.isArray(v) ? '[' + v.map(f).join(',') + ']' : fmt(v);
    const vals = Object.keys(r.values).map(k => JSON.stringify(k) + ':[' + r.values[k].map(f).join(',') + ']');
    parts.push('{"time":[' + r.time.map(fmt).join(',') + '],"values":{' + vals.join(',') + '}}');
  }
  process.stdout.write('[' + parts.join(',') + ']');
});
"""


def node_available() -> str | None:
    """Path of the ``node`` executable, or None."""
    return shutil.which("node") or shutil.which("nodejs")


def run_in_node(
    js: JSModel,
    jobs: Sequence[Mapping[str, Any]],
    timeout: float = 120.0,
) -> list[dict[str, Any]]:
    """Run compiled simulations under Node.js.

    Parameters
    ----------
    js
        The compiled model.
    jobs
        One mapping per run with ``params`` (Python name -> number or
        ``{"x": [...], "y": [...]}``) and ``opts`` (``outputs``, ``save_times``).
    timeout
        Seconds before giving up.

    Returns
    -------
    list of dict
        Per job, ``{"time": [...], "values": {py_name: [...]}}``.
    """
    exe = node_available()
    if exe is None:
        raise PvsdError("Node.js is not installed (Debian package 'nodejs'); it is needed to run "
                        "the compiled JavaScript outside a browser.")
    program = _NODE_MAIN % js.source
    payload = json.dumps([{"params": dict(j.get("params", {})), "opts": dict(j.get("opts", {}))}
                          for j in jobs])
    with tempfile.TemporaryDirectory(prefix="pvsd-node-") as tmp:
        script = Path(tmp) / "run.js"
        script.write_text(program, encoding="utf-8")
        proc = subprocess.run([exe, str(script)], input=payload, capture_output=True, text=True,
                              timeout=timeout, check=False)
    if proc.returncode != 0:
        raise PvsdError(f"Node.js failed running the compiled model: {proc.stderr.strip()[:2000]}")
    return json.loads(proc.stdout)
