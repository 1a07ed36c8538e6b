"""Parts of the JavaScript simulator that follow the run as it goes.

* Control variables that change during the run (FINAL TIME, TIME STEP,
  SAVEPER depending on Time): the same loop as
  :meth:`pvsd.engine.numpy_backend.Simulator.run_dynamic` (the controls are
  evaluated at every step; the run goes on while ``time + TIME STEP * 1e-5 <
  FINAL TIME``; a time is saved when it is a multiple of the current SAVEPER
  from the initial time). Fixing all of them through ``opts`` (``final_time``,
  ``save_times``) runs them as constants; fixing only some throws an error
  rather than truncating the run (as :mod:`pvsd.engine.controls` refuses).
* DELAY N with a time-varying delay time: the conveyor of delay times of
  :mod:`pvsd.engine.delayn`, with its rule for which slot the value reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pvsd.engine.ir import CONTROL_NAMES, ModelIR

__all__ = ["control_nodes", "control_prologue", "delayn_setup", "dynamic_controls", "main_loops"]

#: Steps after which a run whose FINAL TIME keeps moving away is stopped (as the numpy engine).
MAX_STEPS = 50_000_000


def dynamic_controls(ir: ModelIR) -> list[str]:
    """Control variables (not INITIAL TIME) that change during the run."""
    from pvsd.engine.support import static_names

    static = static_names(ir)
    return [c for c in CONTROL_NAMES if c != "initial_time" and c in ir.variables
            and c not in static]


def delayn_setup(ir: ModelIR) -> dict[str, tuple[tuple[bool, bool], set[str]]]:
    """Time-varying DELAY N states -> (value rule without outputs, variables depending on it).

    The rule ``(new_at_saved, new_at_other)`` is the one of
    :func:`pvsd.engine.delayn.value_rule` with no outputs; at run time a saved
    output among the dependants turns ``new_at_saved`` off.
    """
    from pvsd.engine.delayn import value_rule, varying
    from pvsd.engine.support import static_names

    out: dict[str, tuple[tuple[bool, bool], set[str]]] = {}
    tv = varying(ir, static_names(ir))
    if not tv:
        return out
    rdeps: dict[str, set[str]] = {}
    for n in list(ir.variables) + list(ir.states):
        for d in ir.value_deps(n) if (n in ir.states or ir.variables[n].kind != "lookup") else ():
            rdeps.setdefault(d, set()).add(n)
    for s in sorted(tv):
        users: set[str] = set()
        stack = [s]
        while stack:
            x = stack.pop()
            for y in rdeps.get(x, ()):
                if y not in users:
                    users.add(y)
                    stack.append(y)
        out[s] = (value_rule(ir, s, ()), {u for u in users if u in ir.variables})
    return out


def control_prologue(L: list[str], dyn: list[str], ctl_names: list[str],
                     value_line: Callable[[str, bool, str], None]) -> None:
    """After the control variables' first evaluation: choose the fixed or the dynamic loop."""
    A = L.append
    if not dyn:
        A("  const dynamic = false;")
        A("  if (opts.final_time !== undefined) v_final_time = opts.final_time;")
        return
    names = json.dumps(dyn)
    A(f"  const DYN = {names};")
    A("  const fixedCtl = DYN.filter(c => (c === 'final_time' && opts.final_time !== undefined) "
      "|| (c === 'saveper' && !!opts.save_times));")
    A("  if (fixedCtl.length && fixedCtl.length < DYN.length) throw new Error("
      "'the control variables ' + DYN.join(', ') + ' change during the run; fix all of them "
      "(final_time, save_times) or none');")
    A("  const dynamic = fixedCtl.length === 0;")
    A("  if (dynamic) {  // as PySD: the controls at INITIAL TIME")
    A("    time = v_initial_time;")
    for n in ctl_names:
        value_line(n, True, "    ")
    A("  }")
    A("  if (opts.final_time !== undefined) v_final_time = opts.final_time;")


def main_loops(L: list[str], dyn: list[str], ir: ModelIR) -> None:
    """The integration loop over the fixed grid, and the dynamic one when controls vary."""
    A = L.append
    A("  if (!dynamic) {")
    A("    for (let i = 0; i <= nst; i++) {")
    A("      time = times[i];")
    A("      if (i) update();")
    A("      curSave = save[i];")
    A("      evalNodes();")
    A("      if (save[i]) {")
    A("        saved.push(time);")
    A("        for (const o of outs) res[o].push(READ[o]());")
    A("      }")
    A("      if (i === nst) break;")
    A("      derivs();")
    A("      if (rk4) rk4Step(times[i + 1]);")
    A("    }")
    A("  }")
    if not dyn:
        return
    A("  else {")
    A("    const tinit = time;")
    A("    let i = 0;")
    A("    while (true) {")
    A("      if (i) { update(); time = time + dt; }")
    A("      ctlNodes();")
    A("      dt = v_time_step;")
    A("      const prec = dt * RPREC, inb = time + prec < v_final_time, dl = time - tinit;")
    A("      curSave = pymod(dl, v_saveper) < prec || pymod(-dl, v_saveper) < prec;")
    A("      evalNodes();")
    A("      if (curSave) {")
    A("        saved.push(time);")
    A("        for (const o of outs) res[o].push(READ[o]());")
    A("      }")
    A("      if (!inb) break;")
    A("      i++;")
    A(f"      if (i > {MAX_STEPS}) throw new Error('still running at time ' + time + ' after "
      f"{MAX_STEPS} steps: FINAL TIME keeps moving away');")
    A("      derivs();")
    A("      if (rk4) rk4Step(time + dt);")
    A("    }")
    A("  }")


def control_nodes(L: list[str], ir: ModelIR, value_line: Callable[[str, bool, str], None]) -> None:
    """``ctlNodes()``: the control variables and what they depend on, at the current time."""
    ctl = {c for c in CONTROL_NAMES if c in ir.variables}
    L.append("  function ctlNodes() {")
    for n in ir.order(ctl):
        if n in ir.variables and ir.variables[n].kind != "lookup":
            value_line(n, False, "    ")
    L.append("  }")
