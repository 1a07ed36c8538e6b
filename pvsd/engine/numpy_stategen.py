"""Code generation of the vectorised simulator, part 2: stateful functions.

Initialisation, value, derivative and update of every state (INTEG, SMOOTH,
DELAY, DELAY N, DELAY FIXED, TREND, FORECAST, SAMPLE IF TRUE, INITIAL), with
PySD's arithmetic; a time-varying DELAY N follows :mod:`pvsd.engine.delayn`.
"""

from __future__ import annotations

from pvsd.engine.ir import Unsupported
from pvsd.engine.numpy_exprgen import _ExprGen
from pvsd.engine.numpy_runtime import NeedsFallback


class _StateGen(_ExprGen):
    """The states of the generated code (on top of its expressions)."""

    # states -------------------------------------------------------------------------

    def state_init(self, name: str, lines: list[str], ind: str) -> None:
        st = self.ir.states[name]
        a = st.args
        s = "s_" + name
        owner = repr(self.ir.variables[st.owner].name)
        g = lambda x: self.expr(x, initial=True)  # noqa: E731
        if st.kind in ("integ", "sample_if_true", "initial"):
            if self.scalar:
                lines.append(f"{ind}{s} = float({g(a['initial'])})")
            else:
                lines.append(f"{ind}{s} = _full({g(a['initial'])}, _N)")
        elif st.kind == "smooth":
            lines.append(f"{ind}o_{name} = {g(a['order'])}")
            lines.append(f"{ind}k_{name} = _uniform_int(o_{name}, 'SMOOTH order', {owner})")
            lines.append(f"{ind}{s} = np.tile(_full({g(a['initial'])}, _N), (k_{name}, 1))")
        elif st.kind in ("delay", "delayn"):
            lines.append(f"{ind}_dtm = {g(a['delay_time'])}")
            lines.append(f"{ind}k_{name} = _delay_order({g(a['order'])}, _dt, _dtm, {owner})")
            lines.append(f"{ind}o_{name} = k_{name}")
            lines.append(f"{ind}{s} = np.tile(_full({g(a['initial'])} * _dtm, _N), (k_{name}, 1))")
            if name in self.dn_rules:  # the conveyor of delay times (pvsd.engine.delayn)
                lines.append(f"{ind}T_{name} = np.tile(_full(_dtm, _N), (k_{name}, 1))")
        elif st.kind == "delay_fixed":
            # PySD's DelayFixed: a pipe of round(max(delay / TIME STEP, 1)) values
            lines.append(f"{ind}k_{name} = _fixed_order({g(a['delay_time'])}, _dt, {owner})")
            if self.scalar:
                lines.append(f"{ind}{s} = float({g(a['initial'])})")
            else:
                lines.append(f"{ind}{s} = _full({g(a['initial'])}, _N)")
            lines.append(f"{ind}q_{name} = [{s}] * k_{name}")
            lines.append(f"{ind}p_{name} = 0")
        elif st.kind == "trend":
            lines.append(f"{ind}{s} = _full({g(a['input'])} / ((1.0) + {g(a['initial_trend'])}"
                         f" * {g(a['average_time'])}), _N)")
            if self.scalar:
                lines.append(f"{ind}{s} = float({s}[0])")
        elif st.kind == "forecast":
            lines.append(f"{ind}{s} = _full({g(a['input'])} / ((1.0) + {g(a['initial_trend'])}),"
                         " _N)")
            if self.scalar:
                lines.append(f"{ind}{s} = float({s}[0])")
        else:
            raise NeedsFallback([Unsupported(st.kind.upper().replace("_", " "),
                                             self.ir.variables[st.owner].name)])

    def state_value(self, name: str, initial: bool = False) -> str:
        st = self.ir.states[name]
        a = st.args
        s = "s_" + name
        g = lambda x: self.expr(x, initial=initial)  # noqa: E731
        if st.kind in ("integ", "initial", "delay_fixed"):
            return s
        last = f"float({s}[-1, 0])" if self.scalar else f"{s}[-1]"
        if st.kind == "smooth":
            return last
        if st.kind == "delayn" and name in self.dn_rules:
            return self._dn_value(name, last, g(a['delay_time']), initial)
        if st.kind in ("delay", "delayn"):
            return f"({last} / {g(a['delay_time'])})"
        if st.kind == "trend":
            ab = "abs" if self.scalar else "np.abs"
            return f"_zidz({g(a['input'])} - {s}, {g(a['average_time'])} * {ab}({s}))"
        if st.kind == "forecast":
            return (f"({g(a['input'])} * ((1.0) + _zidz({g(a['input'])} - {s}, "
                    f"{g(a['average_time'])} * {s}) * {g(a['horizon'])}))")
        if st.kind == "sample_if_true":
            return f"_where({self.expr(a['condition'], initial, True)}, {g(a['input'])}, {s})"
        raise NeedsFallback([Unsupported(st.kind, self.ir.variables[st.owner].name)])

    def state_ddt(self, name: str, lines: list[str], ind: str) -> None:
        st = self.ir.states[name]
        a = st.args
        s = "s_" + name
        g = self.expr
        if st.kind == "integ":
            lines.append(f"{ind}d_{name} = {g(a['flow'])}")
        elif st.kind == "smooth":
            lines.append(f"{ind}_tg = _roll_in({s}, {g(a['input'])})")
            lines.append(f"{ind}d_{name} = (_tg - {s}) * o_{name} / {g(a['smooth_time'])}")
        elif st.kind == "delayn" and name in self.dn_rules:
            # PySD's DelayN.ddt: the conveyor moves, slot 0 takes the current delay time
            lines.append(f"{ind}Tn_{name} = _roll_in(T_{name}, {g(a['delay_time'])})")
            lines.append(f"{ind}_of = {s} / Tn_{name}")
            lines.append(f"{ind}_if = _roll_in(_of, {g(a['input'])})")
            lines.append(f"{ind}d_{name} = (_if - _of) * o_{name}")
        elif st.kind in ("delay", "delayn"):
            lines.append(f"{ind}_of = {s} / {g(a['delay_time'])}")
            lines.append(f"{ind}_if = _roll_in(_of, {g(a['input'])})")
            lines.append(f"{ind}d_{name} = (_if - _of) * o_{name}")
        elif st.kind in ("trend", "forecast"):
            lines.append(f"{ind}d_{name} = ({g(a['input'])} - {s}) / {g(a['average_time'])}")
        elif st.kind == "delay_fixed":
            lines.append(f"{ind}d_{name} = {g(a['input'])}")
        elif st.kind == "sample_if_true":
            lines.append(f"{ind}d_{name} = {s} * (0.0) + _where({g(a['condition'], False, True)}, "
                         f"{g(a['input'])}, {s})")

    def state_update(self, name: str, lines: list[str], ind: str) -> None:
        st = self.ir.states[name]
        s = "s_" + name
        if st.kind == "initial":
            return
        if st.kind == "delay_fixed":
            lines.append(f"{ind}q_{name}[p_{name}] = d_{name}")
            lines.append(f"{ind}p_{name} = (p_{name} + 1) % k_{name}")
            lines.append(f"{ind}{s} = q_{name}[p_{name}]")
        elif st.kind == "sample_if_true":
            lines.append(f"{ind}{s} = d_{name}")
        elif st.kind == "integ" and st.non_negative:
            mx = "_smax" if self.scalar else "np.maximum"
            lines.append(f"{ind}{s} = {mx}({s} + d_{name} * _dt, 0)")
        else:
            lines.append(f"{ind}{s} = {s} + d_{name} * _dt")
            if name in self.dn_rules:
                lines.append(f"{ind}T_{name} = Tn_{name}")

    def _dn_value(self, name: str, last: str, delay_time: str, initial: bool) -> str:
        """Value of a time-varying DELAY N: last stage / conveyor slot 0, as PySD reads it."""
        old = f"T_{name}[0, 0]" if self.scalar else f"T_{name}[0]"
        if initial:
            return f"({last} / {old})"
        new_saved, new_other = self.dn_rules[name]
        pick = {True: delay_time, False: old}
        if new_saved == new_other:
            return f"({last} / {pick[new_other]})"
        flag = "_sv" if self.dynamic_ctl else "_save[_i]"
        return f"({last} / ({pick[new_saved]} if {flag} else {pick[new_other]}))"
