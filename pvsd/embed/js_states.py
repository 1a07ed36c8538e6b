"""JavaScript for the state variables (INTEG, SMOOTH, DELAY, TREND ...) of a compiled model.

One function per phase of a run: initialisation (:func:`_state_init`), the value
read from the state (:func:`_state_value`), its derivative (:func:`_state_ddt`) and
the Euler update (:func:`_state_update`); :func:`pvsd.embed.js_backend.compile_js`
calls them for every state of the IR.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pvsd.engine.ir import Expr
from pvsd.errors import UnsupportedModelError

if TYPE_CHECKING:
    from pvsd.embed.js_backend import _Gen


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
