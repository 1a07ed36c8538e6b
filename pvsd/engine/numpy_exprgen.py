"""Code generation of the vectorised simulator, part 1: expressions.

:class:`_ExprGen` holds one configuration (overridden parameters, scalar or
vectorised, integration method) and turns IR expressions into Python source
calling numpy and the helpers of :mod:`pvsd.engine.numpy_runtime`. The state
and program parts build on it (:mod:`pvsd.engine.numpy_stategen`,
:mod:`pvsd.engine.numpy_codegen`).
"""

from __future__ import annotations

import math
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
    UnaryOp,
    Unsupported,
)
from pvsd.engine.numpy_runtime import NeedsFallback

# ----------------------------------------------------------------------------
# Code generation
# ----------------------------------------------------------------------------

_NP_FUNCS = {
    "abs": "np.abs",
    "exp": "np.exp",
    "ln": "np.log",
    "sqrt": "np.sqrt",
    "sin": "np.sin",
    "cos": "np.cos",
    "tan": "np.tan",
    "arcsin": "np.arcsin",
    "arccos": "np.arccos",
    "arctan": "np.arctan",
    "sinh": "np.sinh",
    "cosh": "np.cosh",
    "tanh": "np.tanh",
    "min": "np.minimum",
    "max": "np.maximum",
    "power": "np.power",
}

_CMP = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _ident(name: str) -> str:
    return "v_" + name


class _ExprGen:
    """Expressions of the generated code for one compiled configuration."""

    def __init__(self, ir: ModelIR, static_params: frozenset[str],
                 dynamic_params: frozenset[str], scalar: bool = False,
                 method: str = "euler", dynamic_ctl: bool = False) -> None:
        self.ir = ir
        self.scalar = scalar
        self.method = method
        self.dynamic_ctl = dynamic_ctl
        self.static_params = static_params
        self.dynamic_params = dynamic_params
        self.params = static_params | dynamic_params
        self.lookup_consts: dict[str, str] = {}
        self.consts: dict[str, Any] = {}
        # DELAY N with a time-varying delay time (pvsd.engine.delayn): name -> value rule
        self.dn_rules: dict[str, tuple[bool, bool]] = {}

    # expressions -----------------------------------------------------------------

    def expr(self, e: Expr, initial: bool = False, boolean: bool = False) -> str:
        """Source for ``e``. ``boolean``: the context accepts numpy booleans."""
        g = lambda x, b=False: self.expr(x, initial, b)  # noqa: E731
        if isinstance(e, Num):
            v = e.value
            if math.isnan(v):
                return "_nan"
            if math.isinf(v):
                return "(np.inf)" if v > 0 else "(-np.inf)"
            return f"({v!r})"
        if isinstance(e, Ref):
            if e.name == "time":
                return "time"
            return _ident(e.name)
        if isinstance(e, UnaryOp):
            if e.op == "neg":
                return f"(-{g(e.operand)})"
            if self.scalar:
                s = f"(not {g(e.operand, True)})"
            else:
                s = f"np.logical_not({g(e.operand, True)})"
            return s if boolean else f"_f({s})"
        if isinstance(e, BinOp):
            if e.op in ("and", "or"):
                if self.scalar:
                    s = f"(bool({g(e.left, True)}) {e.op} bool({g(e.right, True)}))"
                else:
                    s = f"np.logical_{e.op}({g(e.left, True)}, {g(e.right, True)})"
                return s if boolean else f"_f({s})"
            if e.op in _CMP:
                s = f"({g(e.left)} {_CMP[e.op]} {g(e.right)})"
                return s if boolean else f"_f{s}"
            if e.op == "^":
                return f"_pow({g(e.left)}, {g(e.right)})"
            return f"({g(e.left)} {e.op} {g(e.right)})"
        if isinstance(e, LookupCall):
            c = self._table(e.lookup, self.ir.variables[e.lookup].lookup)  # type: ignore[arg-type]
            if self.scalar:
                return f"_slookup({g(e.arg)}, {c}_x, {c}_y, {c}_m, {c}_xl, {c}_yl)"
            return f"_lookup({g(e.arg)}, {c}_x, {c}_y, {c}_m)"
        if isinstance(e, InlineLookup):
            c = self._table(None, e.table)
            if self.scalar:
                return f"_sinterp(float({g(e.arg)}), {c}_xl, {c}_yl)"
            return f"np.interp({g(e.arg)}, {c}_x, {c}_y)"
        if isinstance(e, Call):
            f, a = e.func, e.args
            if self.scalar and f in ("min", "max"):
                return f"_s{f}({g(a[0])}, {g(a[1])})"
            if self.scalar and f == "abs":
                return f"abs({g(a[0])})"
            if f in _NP_FUNCS:
                call = f"{_NP_FUNCS[f]}({', '.join(g(x) for x in a)})"
                return f"float({call})" if self.scalar else call
            if f == "pow_real":  # scalarised arrays: PySD's float power stored in an array
                return f"_pow_real({g(a[0])}, {g(a[1])})"
            if f in ("nansum", "nanprod", "nanmin", "nanmax"):  # scalarised arrays
                return f"_{f}({', '.join(g(x) for x in a)})"
            if f == "log":
                return f"(np.log({g(a[0])}) / np.log({g(a[1])}))"
            if f == "pi":
                return "np.pi"
            if f == "integer":
                return f"_integer({g(a[0])})"
            if f == "quantum":
                return f"_quantum({g(a[0])}, {g(a[1])})"
            if f == "modulo":
                return f"_mod({g(a[0])}, {g(a[1])})"
            if f == "xidz":
                return f"_xidz({g(a[0])}, {g(a[1])}, {g(a[2])})"
            if f == "zidz":
                return f"_zidz({g(a[0])}, {g(a[1])})"
            if f == "if_then_else":
                return f"_where({g(a[0], True)}, {g(a[1])}, {g(a[2])})"
            if f == "active_initial":
                return g(a[1]) if initial else g(a[0])
            if f == "step":
                return f"({g(a[0])} * (time + _dt / 2 > {g(a[1])}))"
            if f in ("ramp", "Xramp"):
                mn = "_smin" if self.scalar else "np.minimum"
                final = "time" if len(a) < 3 else f"{mn}({g(a[2])}, time)"
                return f"((time + _SMALL > {g(a[1])}) * {g(a[0])} * ({final} - {g(a[1])}))"
            if f == "pulse":
                return f"{self._p}(time, _dt, {g(a[0])}, None, {g(a[1])}, None, None)"
            if f == "Xpulse":
                return f"{self._p}(time, _dt, {g(a[0])}, None, None, {g(a[1])}, None)"
            if f == "pulse_train":
                return f"{self._p}(time, _dt, {g(a[0])}, {g(a[1])}, {g(a[2])}, None, {g(a[3])})"
            if f == "Xpulse_train":
                return f"{self._p}(time, _dt, {g(a[0])}, {g(a[1])}, None, {g(a[2])}, None)"
            raise NeedsFallback([Unsupported("function", "?", f)])
        raise TypeError(f"unknown node {e!r}")

    @property
    def _p(self) -> str:
        return "_spulse" if self.scalar else "_pulse"

    def _table(self, name: str | None, table: LookupTable) -> str:
        key = name or f"inline{len(self.lookup_consts)}"
        if name is None:
            for k, (t, _c) in list(self.consts.items()):
                if t is table:
                    return k
        elif name in self.lookup_consts:
            # a lookup called several times: one table constant (numbering by the
            # number of names would hand a later lookup's table to this call)
            return self.lookup_consts[name]
        c = f"_L{len(self.consts)}"
        self.lookup_consts[key] = c
        self.consts[c] = (table, c)
        return c
