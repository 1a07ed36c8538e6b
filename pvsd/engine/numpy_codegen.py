"""Code generation of the vectorised simulator, part 4: the program.

:class:`_Gen` assembles the simulation function of one configuration: the
initialisation pass, the time loop (Euler, or the stages of classical RK4) and
the saving of outputs, from the expressions, states and range checks of
:mod:`pvsd.engine.numpy_exprgen`, :mod:`pvsd.engine.numpy_stategen` and
:mod:`pvsd.engine.numpy_checks`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pvsd.engine.ir import CONTROL_NAMES, Call, ModelIR
from pvsd.engine.numpy_checks import _bound, _RangeChecks
from pvsd.engine.numpy_exprgen import _ident
from pvsd.engine.numpy_stategen import _StateGen
from pvsd.engine.support import static_names
from pvsd.engine.timegrid import RPREC

#: State kinds integrated as ODEs (RK4 stages apply to them); others update discretely.
RK4_KINDS = frozenset({"integ", "smooth", "delay", "delayn", "trend", "forecast"})



class _Gen(_StateGen, _RangeChecks):
    """Generates Python source for one compiled configuration."""

    #: dynamic parameters with per-member points (evaluated by ``_minterp``)
    member_params: frozenset[str] = frozenset()

    # program ----------------------------------------------------------------------

    def node(self, name: str, lines: list[str], ind: str, initial: bool) -> None:
        """Assignment of a variable's or state's value."""
        ir = self.ir
        if name in self.params:
            if name in self.dynamic_params:
                fn = "_minterp" if name in self.member_params else (
                    "_sinterp" if self.scalar else "np.interp")
                lines.append(f"{ind}{_ident(name)} = {fn}(time, px_{name}, py_{name})")
            else:
                lines.append(f"{ind}{_ident(name)} = p_{name}")
            return
        if name in ir.states:
            lines.append(f"{ind}{_ident(name)} = {self.state_value(name, initial)}")
            return
        v = ir.variables[name]
        if v.kind == "lookup":
            return
        if v.kind == "control" and not (self.dynamic_ctl and v.expr is not None):
            lines.append(f"{ind}{_ident(name)} = _ctl_{name}")
            return
        assert v.expr is not None
        lines.append(f"{ind}{_ident(name)} = {self.expr(v.expr, initial=initial)}")

    def program(self, outputs: Sequence[str]) -> str:
        ir = self.ir
        states = list(ir.states)
        dyn_states = [s for s in states if ir.states[s].kind != "initial"]
        # names needed each step: dependencies of derivatives
        step_roots: set[str] = set()
        for s in dyn_states:
            step_roots |= ir.states[s].deps_dynamic
            step_roots |= ir.states[s].deps_value
        static = static_names(ir, self.dynamic_params, self.static_params)
        from pvsd.engine.delayn import value_rule, varying

        self.dn_rules = {n: value_rule(ir, n, outputs, self.params) for n in varying(ir, static)}
        # overridden variables lose their own dependencies
        deps_fn = ir.value_deps

        def closure(roots: set[str]) -> set[str]:
            seen: set[str] = set()
            stack = [r for r in roots if r != "time"]
            while stack:
                n = stack.pop()
                if n in seen or (n not in ir.variables and n not in ir.states):
                    continue
                seen.add(n)
                if n in self.params:
                    continue
                stack.extend(d for d in deps_fn(n) if d != "time")
            return seen

        order_all = _order(ir, self.params, initial=False)
        init_roots: set[str] = set(states)
        init_all = _order(ir, self.params, initial=True)
        if self.dynamic_ctl:
            step_roots |= {c for c in CONTROL_NAMES if c in ir.variables}
        need_step = closure(step_roots)
        # stocks with a declared range are checked every step (tracked_ranges), so their value
        # must be computed every step even when nothing reads them and they are not an output
        need_step |= closure({v.py_name for v in ir.variables.values() if v.kind == "stock"
                              and any(_bound(b) is not None for b in (*tuple(v.limits), None, None)[:2])})
        need_out = closure(set(outputs))
        need_run = need_step | need_out
        init_need = _closure_init(ir, init_roots | (need_run & static), self.params)

        L: list[str] = []
        I1, I2 = "    ", "        "
        L.append("def _simulate(_P, _N, _times, _save, _out, _dt, _ctl, _diag):")
        L.append(f"{I1}nsave = 0")
        for c in ("initial_time", "final_time", "time_step", "saveper"):
            L.append(f"{I1}_ctl_{c} = _ctl[{c!r}]")
        for p in sorted(self.static_params):
            L.append(f"{I1}p_{p} = _P[{p!r}]")
        for p in sorted(self.dynamic_params):
            L.append(f"{I1}px_{p}, py_{p} = _P[{p!r}]")
        L.append(f"{I1}time = _ctl.get('init_clock', _times[0])")
        # initialisation pass
        for n in init_all:
            if n not in init_need:
                continue
            if n in ir.states and n not in self.params:
                self.state_init(n, L, I1)
            self.node(n, L, I1, initial=True)
        # run-phase static values (ACTIVE INITIAL switches to its run argument)
        for n in order_all:
            if n in need_run and n in static and _uses_active_initial(ir, n):
                self.node(n, L, I1, initial=False)
        out_names = list(outputs)
        dyn_order = [n for n in order_all if n in need_run and n not in static]
        step_part = [n for n in dyn_order if n in need_step]
        out_part = [n for n in dyn_order if n not in need_step]
        L.append(f"{I1}_nst = len(_times) - 1")
        if self.dynamic_ctl:
            # PySD's loop with control variables evaluated at every step: TIME STEP,
            # FINAL TIME and SAVEPER may change during the run
            # the control variables and what they depend on (time and constants only,
            # see support.inspect_ir), before everything else of the step
            ctl_need = closure({c for c in CONTROL_NAMES if c in ir.variables})
            ctl_first = [n for n in step_part if n in ctl_need]
            step_part = [n for n in step_part if n not in ctl_need]
            L.append(f"{I1}_tinit = time")
            L.append(f"{I1}_i = 0")
            L.append(f"{I1}while True:")
            L.append(f"{I2}if _i:")
        else:
            L.append(f"{I1}for _i in range(_nst + 1):")
            L.append(f"{I2}time = _times[_i]")
            L.append(f"{I2}if _i:")
        # update after the previous step's derivative (keeps one loop body)
        upd: list[str] = []
        for s in dyn_states:
            self.state_update(s, upd, I2 + "    ")
        if self.dynamic_ctl:
            upd.append(f"{I2}    time = time + _dt")
        L.extend(upd or [f"{I2}    pass"])
        if self.dynamic_ctl:
            for n in ctl_first:
                self.node(n, L, I2, initial=False)
            L.append(f"{I2}_dt = v_time_step")
            L.append(f"{I2}_prec = _dt * {RPREC!r}")
            L.append(f"{I2}_inb = time + _prec < v_final_time")
            L.append(f"{I2}_dl = time - _tinit")
            L.append(f"{I2}_sv = _dl % v_saveper < _prec or -_dl % v_saveper < _prec")
        for n in step_part:
            self.node(n, L, I2, initial=False)
        tracked = self.tracked_ranges(step_part, static)
        at = L.index(f"{I1}_nst = len(_times) - 1")
        for k, (_n, _side, bound, _tol) in enumerate(tracked):
            L.insert(at, f"{I1}_rt{k} = None; _rx{k} = {bound!r}; _rb{k} = False; _rm{k} = None")
        if tracked:
            L.insert(at, f"{I1}_tsv = time")
        L.extend(self.range_lines(tracked, I2))
        L.append(f"{I2}if {'_sv' if self.dynamic_ctl else '_save[_i]'}:")
        body: list[str] = []
        for n in out_part:
            self.node(n, body, I2 + "    ", initial=False)
        for k, n in enumerate(out_names):
            if self.dynamic_ctl:
                body.append(f"{I2}    _out[{k}].append({_ident(n)})")
            else:
                body.append(f"{I2}    _out[{k}][nsave] = {_ident(n)}")
        if self.dynamic_ctl:
            body.append(f"{I2}    _diag.setdefault('times', []).append(time)")
            body.append(f"{I2}    _diag.setdefault('steps', []).append(_dt)")
        body.append(f"{I2}    nsave += 1")
        body.extend(self.range_checks(tracked, I2 + "    "))
        L.extend(body)
        if self.dynamic_ctl:
            L.append(f"{I2}if not _inb:")
            L.append(f"{I2}    break")
            L.append(f"{I2}_i += 1")
            L.append(f"{I2}if _i > _maxsteps:")
            L.append(f"{I2}    raise _TooLong(time, _dt)")
        else:
            L.append(f"{I2}if _i == _nst:")
            L.append(f"{I2}    break")
        ddt: list[str] = []
        for s in dyn_states:
            self.state_ddt(s, ddt, I2)
        L.extend(ddt)
        if self.method == "rk4":
            L.extend(self.rk4_stages(dyn_states, step_part, ddt, I2,
                                     "_t0 + _dt" if self.dynamic_ctl else "_times[_i + 1]"))
        if tracked:
            L.extend(self.range_checks(tracked, I1))  # the last stretch after the last save
            L.append(f"{I1}_diag['ranges'] = [")
            for k, (n, side, bound, tol) in enumerate(tracked):
                if self.scalar:
                    ext, cnt = f"_rx{k}", f"int(_rb{k})"
                else:
                    lim = bound - tol if side == "below" else bound + tol
                    red = "min" if side == "below" else "max"
                    ext = f"float(np.{red}(_rm{k}))"
                    cnt = f"_rcount(_rm{k}, {lim!r}, {side == 'below'}, _N)"
                L.append(f"{I1}    ({n!r}, {side!r}, {bound!r}, {ext} if _rt{k} is not None else "
                         f"None, _rt{k}, {cnt} if _rt{k} is not None else 0),")
            L.append(f"{I1}]")
        L.append(f"{I1}return nsave")
        return "\n".join(L) + "\n"

    def rk4_stages(self, dyn_states: list[str], step_part: list[str], ddt: list[str],
                   ind: str, t_end: str = "_times[_i + 1]") -> list[str]:
        """Stages 2-4 of the classical Runge-Kutta step (Vensim's "RK4 Fixed").

        On entry ``d_<state>`` holds k1 (the Euler derivative at the step's start).
        On exit it holds ``(k1 + 2 k2 + 2 k3 + k4) / 6`` for the continuous states
        and the stage-1 value for discrete ones (SAMPLE IF TRUE, DELAY FIXED), so
        the ordinary update at the top of the next iteration completes the step.
        """
        cont = [s for s in dyn_states if self.ir.states[s].kind in RK4_KINDS]
        if not cont:
            return []
        disc = [s for s in dyn_states if s not in cont]
        L: list[str] = [f"{ind}_t0 = time"]
        for s in cont:
            L.append(f"{ind}s0_{s} = s_{s}")
            L.append(f"{ind}k1_{s} = d_{s}")
        for s in disc:
            L.append(f"{ind}k1_{s} = d_{s}")
        for s in self.dn_rules:  # the conveyor moves once per step (stage 1)
            L.append(f"{ind}Tn1_{s} = Tn_{s}")
        stages = (("k1", "(_dt / 2)", "_t0 + _dt / 2", "k2"),
                  ("k2", "(_dt / 2)", "_t0 + _dt / 2", "k3"),
                  ("k3", "_dt", t_end, "k4"))
        for src, h, t, dst in stages:
            for s in cont:
                L.append(f"{ind}s_{s} = s0_{s} + {src}_{s} * {h}")
            L.append(f"{ind}time = {t}")
            for n in step_part:
                self.node(n, L, ind, initial=False)
            L.extend(ddt)
            for s in cont:
                L.append(f"{ind}{dst}_{s} = d_{s}")
        for s in cont:
            L.append(f"{ind}s_{s} = s0_{s}")
            L.append(f"{ind}d_{s} = (k1_{s} + 2.0 * k2_{s} + 2.0 * k3_{s} + k4_{s}) / 6.0")
        for s in disc:
            L.append(f"{ind}d_{s} = k1_{s}")
        for s in self.dn_rules:
            L.append(f"{ind}Tn_{s} = Tn1_{s}")
        L.append(f"{ind}time = _t0")
        return L


def _uses_active_initial(ir: ModelIR, name: str) -> bool:
    from pvsd.engine.ir import walk

    v = ir.variables.get(name)
    if v is None or v.expr is None:
        return False
    return any(isinstance(n, Call) and n.func == "active_initial" for n in walk(v.expr))


def _order(ir: ModelIR, params: frozenset[str], initial: bool) -> list[str]:
    """Evaluation order, with overridden variables treated as sources."""
    if not params:
        return ir.order(initial=initial)
    saved = {}
    try:
        for p in params:
            v = ir.variables.get(p)
            if v is not None:
                saved[p] = (v.deps_dynamic, v.deps_initial)
                v.deps_dynamic = frozenset()
                v.deps_initial = frozenset()
        return ir.order(initial=initial)
    finally:
        for p, (dd, di) in saved.items():
            ir.variables[p].deps_dynamic, ir.variables[p].deps_initial = dd, di


def _closure_init(ir: ModelIR, roots: set[str], params: frozenset[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        n = stack.pop()
        if n in seen or n == "time" or (n not in ir.variables and n not in ir.states):
            continue
        seen.add(n)
        if n in params:
            continue
        stack.extend(ir.init_deps(n))
        if n in ir.states:
            # the value of a state at init may need its value dependencies
            stack.extend(ir.states[n].deps_value)
    return seen
