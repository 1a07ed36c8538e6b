"""What the vectorised engine can run: inspection of a model's IR.

:func:`inspect_ir` lists the constructs :mod:`pvsd.engine.numpy_backend` does
not support, each with the variable it occurs in, so that callers can fall back
to per-run PySD execution and say once why.
"""

from __future__ import annotations

from pvsd.engine.ir import CONTROL_NAMES, ModelIR, Unsupported

__all__ = ["describe", "inspect_ir", "static_names"]


def static_names(ir: ModelIR, dynamic_params: frozenset[str] = frozenset(),
                 static_params: frozenset[str] = frozenset()) -> set[str]:
    """Names whose value does not change during a run (no time, no state).

    Parameters
    ----------
    ir
        The model.
    dynamic_params
        Variables overridden by time functions (they become time-dependent).
    static_params
        Variables overridden by constants (they become static).
    """
    memo: dict[str, bool] = {}

    def is_static(name: str, stack: frozenset[str] = frozenset()) -> bool:
        if name in memo:
            return memo[name]
        if name == "time" or name in dynamic_params:
            res = False
        elif name in static_params:
            res = True
        elif name in ir.states:
            st = ir.states[name]
            if st.kind == "initial":
                res = True
            else:
                res = False
        elif name not in ir.variables or name in stack:
            res = name not in stack
        else:
            v = ir.variables[name]
            if v.kind == "lookup":
                res = True
            elif v.kind == "data":
                res = False
            else:
                res = all(is_static(d, stack | {name}) for d in v.deps_dynamic)
        memo[name] = res
        return res

    return {n for n in list(ir.variables) + list(ir.states) if is_static(n)}


def inspect_ir(ir: ModelIR) -> list[Unsupported]:
    """Constructs of ``ir`` the vectorised engine cannot run (empty if none).

    Runtime-only limits (a per-member TIME STEP, per-member delay orders)
    are detected when running and raise
    :class:`pvsd.engine.numpy_backend.NeedsFallback`.
    """
    out = list(ir.unsupported)
    static = static_names(ir)
    for st in ir.states.values():
        owner = ir.variables[st.owner].name
        # a time-varying DELAY N runs in scalar models (pvsd.engine.delayn); arrayed not yet
        if st.kind == "delayn" and ir.subscripts and not _refs(st.args["delay_time"]) <= static:
            out.append(Unsupported("DELAY N with a time-varying delay time", owner))
    for name in CONTROL_NAMES:
        v = ir.variables.get(name)
        # time-varying control variables run with Simulator.run_dynamic, as long as they
        # depend on time and constants only (not on stocks)
        if v is not None and name not in static and not _time_only(ir, name, static):
            out.append(Unsupported("control variable depending on the model's state", v.name))
    try:
        ir.order()
        ir.order(initial=True)
    except ValueError as err:
        out.append(Unsupported("algebraic loop", "(model)", str(err)))
    # de-duplicate, keep order
    seen: set[tuple[str, str, str]] = set()
    uniq = []
    for u in out:
        key = (u.construct, u.variable, u.detail)
        if key not in seen:
            seen.add(key)
            uniq.append(u)
    return uniq


def _time_only(ir: ModelIR, name: str, static: set[str]) -> bool:
    """``name`` depends on time and static names only (through auxiliaries)."""
    seen: set[str] = set()
    stack = [name]
    while stack:
        n = stack.pop()
        if n in seen or n == "time" or n in static:
            continue
        seen.add(n)
        if n in ir.states or n not in ir.variables:
            return False
        stack.extend(ir.variables[n].deps_dynamic)
    return True


def _refs(expr: object) -> set[str]:
    from pvsd.engine.ir import Expr, references

    return references(expr) if isinstance(expr, Expr) else set()


def describe(items: list[Unsupported], limit: int = 5) -> str:
    """One-line human description of unsupported constructs."""
    if not items:
        return ""
    parts = [str(u) for u in items[:limit]]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(parts) + more
