"""DELAY N with a delay time that changes during the run, as PySD computes it.

PySD's ``DelayN`` keeps, besides the stage contents, a conveyor of delay times:
at initialisation every slot holds the initial delay time; every time its
derivative is computed (once per Euler step) the conveyor moves by one slot and
slot 0 takes the current delay time. Stage ``i`` empties at
``content_i / times_i`` (each stage with the delay time it was entered with),
and the DELAY N's *value* is ``content_last / times_0``.

Because the value reads slot 0, it depends on whether the conveyor has already
moved in the current step when the value is first asked for (PySD caches every
variable for the rest of the step). That happens

* at a saved time, before any derivative, if a saved output depends on the value
  (then slot 0 still holds the previous step's delay time);
* otherwise during the derivative of the first state that needs the value;
  PySD computes derivatives in the alphabetical order of its state objects'
  names (``_delayn_x``, ``_integ_y`` ...), so a state sorted before the DELAY N
  sees the previous step's delay time, the DELAY N itself and later states the
  current one. DELAY FIXED and SAMPLE IF TRUE read their inputs only when the
  states are updated, after every derivative.

:func:`value_rule` finds, from the IR and the outputs asked for, which of the
two the value uses at saved and at other steps, so that the engine reproduces
PySD run for run (which outputs are saved changes PySD's numbers, and so the
engine's, when the delay time varies; with a constant delay time both slots
are equal and nothing depends on it). Conditions are taken as evaluating every
branch (PySD's IF THEN ELSE evaluates only the branch taken).

RK4 (which PySD lacks): the conveyor moves once per step, with the delay time at
the step's start; the stages read the stage time's delay time in slot 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from pvsd.engine.ir import ModelIR, references

__all__ = ["DYNAMIC_KINDS", "DelayNWarning", "note_output_dependence", "value_rule", "varying"]


class DelayNWarning(UserWarning):
    """A DELAY N's values depend on which variables are saved (as in PySD)."""

#: State kinds whose derivative PySD computes from their inputs each step (DELAY FIXED and
#: SAMPLE IF TRUE read their inputs later, when the states are updated after every derivative).
DYNAMIC_KINDS = frozenset({"integ", "smooth", "delay", "delayn", "trend", "forecast"})


def varying(ir: ModelIR, static: set[str]) -> set[str]:
    """DELAY N states whose delay time is not constant during the run."""
    return {n for n, st in ir.states.items() if st.kind == "delayn"
            and not references(st.args.get("delay_time")) <= static}


def _closure(ir: ModelIR, roots: Iterable[str], params: frozenset[str]) -> set[str]:
    """Names whose values PySD computes to obtain ``roots`` (variables and state values)."""
    seen: set[str] = set()
    stack = [r for r in roots if r != "time"]
    while stack:
        n = stack.pop()
        if n in seen or (n not in ir.variables and n not in ir.states):
            continue
        seen.add(n)
        if n in params:
            continue
        stack.extend(d for d in ir.value_deps(n) if d != "time")
    return seen


def value_rule(ir: ModelIR, name: str, outputs: Iterable[str],
               params: frozenset[str] = frozenset()) -> tuple[bool, bool]:
    """``(new_at_saved, new_at_other)``: does the value read the current delay time?

    ``True`` means slot 0 holds the current step's delay time when PySD first
    evaluates the value (the conveyor has moved), ``False`` the previous step's.
    """
    before = sorted(s for s, st in ir.states.items() if st.kind in DYNAMIC_KINDS and s < name)
    new_other = True
    for s in before:
        if name in _closure(ir, ir.states[s].deps_dynamic, params):
            new_other = False
            break
    new_saved = new_other and name not in _closure(ir, outputs, params)
    return new_saved, new_other


def note_output_dependence(ir: ModelIR, model_name: str, stacklevel: int = 4) -> None:
    """Warn (once per model and process, by the caller) about output-dependent DELAY N values.

    Only DELAY N states whose value is first read after the conveyor moved at
    unsaved steps are affected: a saved output depending on them makes PySD read
    them before it moves at saved steps.
    """
    import warnings

    from pvsd.engine.support import static_names

    hit = [ir.variables[ir.states[n].owner].name for n in sorted(varying(ir, static_names(ir)))
           if value_rule(ir, n, ())[1]]
    if not hit:
        return
    warnings.warn(
        f"{model_name}: DELAY N in {', '.join(repr(h) for h in hit[:5])} has a delay time that "
        "changes during the run. PySD reads such a delay's output with the delay time of the "
        "current or of the previous time step depending on which variables are saved, so its "
        "values (and what depends on them) change slightly with the outputs asked for; pvsd "
        "reproduces PySD exactly. The difference shrinks with TIME STEP.",
        DelayNWarning,
        stacklevel=stacklevel,
    )
