"""The wave-ahead estimator of a panel: every pair of consecutive observed waves is one run.

``[panel] estimator = "wave-ahead"`` fits the one-wave-ahead prediction error instead
of each unit's whole path. A *member* is one (unit, start) where the start is a
fitted wave at which every ``[panel.state]`` series is observed; it starts from the
observed state and runs to the unit's next such wave. Its prediction there (and at
any observation in between) is compared with the data: residual = model minus
observation, as in the path estimator, laid out by (series, year), so the fit, the
Jacobian's block structure, pooling and the posterior work unchanged. A held-out or
forecast year is predicted from the unit's last fitted state observation.

Setting the state. Each ``[panel.state]`` constant (e.g. a stock's initial value) is
set per member so that its series' model variable at the member's start equals the
observation mapped to the model's scale (``offset + scale * value``, with fitted
measurement parameters of the spec and of the model, such as an exponent in the
measurement equation, as they are in that member). This is solved generically by a
vectorised, bracketed regula falsi (Illinois) over the constant's range (the spec's
bounds, else the ``[lo, hi]`` the model file declares): one-step ensemble runs, all
members in one call per iteration, to ``1e-12`` of the target (checked at ``1e-9``).
Members whose settings that matter at the start time are equal (the IR tells which
constants and inputs the measured variable depends on at initialisation) share one
solve. Where the observation is outside what the range can reach (or the map is not
monotone and gives no sign change over the range) the constant is clipped to the
range end nearer the target and the start is counted; the report says how many.

Time. The engine runs every member of a call from one initial time. Members run at their
real calendar years (one ensemble call per start year) unless shifting them in time is
provably exact: then all members of an evaluation start at the spec's initial time with
their per-unit input paths shifted by (start - initial time), as the
``calibration/egdi_panel_v2.py`` script does with its ``T0``. Shifting is exact when the
measured variables do not depend on ``TIME`` at all (the IR shows it), or when every variable
that reads ``TIME`` depends on nothing but ``TIME``, unfitted constants and per-unit inputs
(no stock, no fitted or state constant) and its values, compared for every member at every
time step to FINAL TIME, are the same shifted and at real years. Within a call, members are
grouped by horizon so that no group runs much longer than its members need. Every other
stock starts at its model initial value in each member.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pvsd.errors import SpecError
from pvsd.timefunc import MemberPiecewise

if TYPE_CHECKING:
    from pvsd.calibration.panel.problem import PanelProblem

__all__ = ["WaveLayout"]

#: the state matches its observation to this (model scale, absolute) or it is counted as clipped
MATCH_TOL = 1e-9
_TIME_LIKE = {"time", "initial_time", "final_time"}


def _closure(ir: Any, roots: set[str], initial: bool) -> tuple[set[str], bool]:
    """Everything ``roots`` depend on (initialisation only, or over a run); reads TIME?"""
    seen: set[str] = set()
    stack = list(roots)
    reads_time = False
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        if n in _TIME_LIKE:
            reads_time = True
            continue
        if n in ir.states:
            st = ir.states[n]
            deps = ir.init_deps(n) if initial else (set(st.deps_initial) | set(st.deps_dynamic)
                                                    | set(st.deps_value))
        elif n in ir.variables:
            v = ir.variables[n]
            deps = set(v.deps_initial) if initial else (set(v.deps_dynamic) | set(v.deps_initial)
                                                        | set(v.flow_deps))
        else:
            continue
        stack.extend(deps)
    return seen, reads_time


def _buckets(h: np.ndarray, waste: float = 1.25, call: float = 2000.0) -> list[np.ndarray]:
    """Members grouped by horizon: each group runs to its longest horizon, which costs at
    most ``waste`` x the member-years its members need, or fewer extra member-years than
    ``call`` (about what the overhead of one more ensemble call costs)."""
    vals, inv = np.unique(np.round(h, 9), return_inverse=True)
    inv = np.asarray(inv).reshape(-1)
    out: list[list[int]] = []
    n = work = top = 0.0
    for j in range(len(vals) - 1, -1, -1):
        c = float(np.sum(inv == j))
        cost = max(vals[j], 1e-9)
        extra = (n + c) * top - (work + c * cost)
        if out and (extra <= (waste - 1) * (work + c * cost) or extra <= call):
            out[-1].append(j)
            n, work = n + c, work + c * cost
        else:
            out.append([j])
            n, work, top = c, c * cost, cost
    return [np.flatnonzero(np.isin(inv, js)) for js in out]


class WaveLayout:
    """Members, state inversion and runs of the wave-ahead estimator (see the module docstring).

    Built by :class:`~pvsd.calibration.panel.problem.PanelProblem`; it narrows the problem's
    fit mask to the observations a member predicts (after each unit's first state
    observation, up to its last fitted one).
    """

    def __init__(self, pb: PanelProblem) -> None:
        spec, m, where = pb.spec, pb.model, pb.spec.where
        self.pb = pb
        names = [s.name for s in spec.series]
        table = m.variables.set_index("name")
        self.state: list[tuple[str, int, float, float]] = []  # constant, series index, lo, hi
        for st in spec.state:
            w = f"{where}, [panel.state] \"{st.constant}\""
            c = m.resolve(st.constant, where=w)
            if m.kind(c) != "constant":
                raise SpecError(f"{w}: {c!r} is a {m.kind(c)}, not a constant; the state is set "
                                "through a constant, such as a stock's initial value (e.g. "
                                "\"Initial Digital Capability\").")
            if c in pb._set_by:
                raise SpecError(f"{w}: {c!r} is also set by {pb._set_by[c]}; [panel.state] sets it "
                                "per run, so remove the other setting.")
            if any(c == s[0] for s in self.state):
                raise SpecError(f"{w}: {c!r} is named twice in [panel.state].")
            mlo, mhi = float(table.loc[c, "min"]), float(table.loc[c, "max"])
            lo = st.lower if st.lower is not None else mlo
            hi = st.upper if st.upper is not None else mhi
            if not (np.isfinite(lo) and np.isfinite(hi)):
                raise SpecError(f"{w}: {c!r} has no range in the model file; give the search "
                                "range in the spec: { series = \"...\", lower = .., upper = .. }.")
            if (np.isfinite(mlo) and lo < mlo) or (np.isfinite(mhi) and hi > mhi):
                raise SpecError(f"{w}: range [{lo:g}, {hi:g}] leaves the range the model declares "
                                f"for {c!r}, [{mlo:g}, {mhi:g}]; narrow it.")
            self.state.append((c, names.index(st.series), float(lo), float(hi)))
        n = pb.n_units
        ks = [s[1] for s in self.state]
        ok = np.all(pb.period[ks] == 1, axis=0)  # (n, T): fitted waves with every state observed
        self.starts = [pb.years[ok[i]] for i in range(n)]
        few = [u for u, s in zip(pb.units, self.starts, strict=True) if len(s) < 2]
        if few:
            raise SpecError(f"{where}: estimator \"wave-ahead\" needs at least two fitted waves of "
                            f"the state series per unit; {', '.join(few[:10])}"
                            f"{' ...' if len(few) > 10 else ''} have fewer. Raise [panel] "
                            "min_observations (or lower holdout).")
        self.first = np.array([s[0] for s in self.starts])
        self.last = np.array([s[-1] for s in self.starts])
        yr = pb.years[None, :]
        keep = (yr > self.first[:, None] + 1e-9) & (yr <= self.last[:, None] + 1e-9)
        self.n_unused = int((pb.fit_mask & ~keep[None]).sum())
        pb.fit_mask = pb.fit_mask & keep[None]
        pb.n_obs = int(pb.fit_mask.sum())
        pb.n_obs_series = pb.fit_mask.sum(axis=(1, 2))
        self.n_pairs = int(sum(len(s) - 1 for s in self.starts))
        self._analyse()
        self.stats: dict[str, int] = {"starts": 0, "clipped": 0}

    # ------------------------------------------------------------------ model structure
    def _analyse(self) -> None:
        """From the IR: does a run (or the start value) read TIME; what the start value needs."""
        pb, m = self.pb, self.pb.model
        from pvsd.engine import engine_for

        ir = engine_for(m).ir
        py = dict(zip(m.variables["name"], m.variables["py_name"], strict=True))
        measured = {py[pb.variables[k]] for _, k, _, _ in self.state}
        if ir is None:  # no equations to read: assume the worst (exact, slower)
            self.time_runs = self.time_start = True
            self.start_names: set[str] | None = None
            return
        allv = {py[v] for v in pb.variables}
        run_deps, self.time_runs = _closure(ir, allv, initial=False)
        deps, self.time_start = _closure(ir, measured, initial=True)
        bounds_read = {"initial_time", "final_time"} & (run_deps | deps)
        if bounds_read:
            # each member runs over its own pair of waves, so these would silently change meaning
            names = {p: n for n, p in py.items()}
            readers = sorted(names.get(n, n) for n in run_deps | deps
                             if n in ir.variables and bounds_read & (set(ir.variables[n].deps_dynamic)
                                                                    | set(ir.variables[n].deps_initial)))
            raise SpecError(f"{pb.spec.where}, [panel] estimator = \"wave-ahead\": the model reads "
                            f"{' and '.join(sorted(b.upper().replace('_', ' ') for b in bounds_read))}"
                            f"{' in ' + ', '.join(readers) if readers else ''}; every wave-ahead run "
                            "starts and ends at its own waves, so those values would change meaning. "
                            "Use estimator = \"path\", or write the year as a constant in the model.")
        self.start_names = {name for name, p in py.items() if p in deps}
        for c, k, _, _ in self.state:
            if py[c] not in deps:
                raise SpecError(f"{pb.spec.where}, [panel.state] \"{c}\": the series "
                                f"{pb.spec.series[k].name!r} measures {pb.variables[k]!r}, which "
                                f"does not depend on {c!r} at the start of a run; name the "
                                "constant that sets its stock's initial value.")
        self.time_note = "the model does not read TIME"
        if self.time_runs:
            self.time_note = "the model reads TIME"
            readers = self._shift_proof(ir, run_deps, py)
            if readers:
                self.time_runs = self.time_start = False
                self.time_note = (f"the model reads TIME only in {', '.join(readers)}, whose values "
                                  "depend on no fitted parameter or stock and were checked equal "
                                  "under the shift for every run")

    def _shift_proof(self, ir: Any, run_deps: set[str], py: dict[str, str]) -> list[str]:
        """Names of the variables that read TIME if shifting every run in time is exact, else [].

        Exact when each of them depends on nothing but TIME, constants the panel does not fit
        and per-unit inputs (no stock, no internal state, no fitted or state constant): then its
        values are the same in every evaluation of the fit, and one comparison of every run
        (every start, every time step to FINAL TIME) shifted and at its real years decides."""
        pb = self.pb
        names = {p: n for n, p in py.items()}
        readers = [n for n in run_deps if n in ir.variables
                   and {"time"} & (set(ir.variables[n].deps_dynamic) | set(ir.variables[n].deps_initial))]
        if any(n in ir.states and _TIME_LIKE & (set(ir.states[n].deps_dynamic)
                                                | set(ir.states[n].deps_initial)
                                                | set(ir.states[n].deps_value)) for n in run_deps):
            return []
        free = {py[e.name] for e in pb.shared + pb.per_unit if e.kind == "model"}
        free |= {py[c] for c, _, _, _ in self.state}
        for r in readers:
            v = ir.variables[r]
            if {"initial_time", "final_time"} & (set(v.deps_dynamic) | set(v.deps_initial)):
                return []
            clo, _ = _closure(ir, {r}, initial=False)
            if any(n in ir.states or (n in ir.variables and ir.variables[n].kind == "stock")
                   or n in free for n in clo):
                return []
        if not readers:
            return []
        outs = [names[r] for r in readers]
        unit = np.concatenate([np.full(len(o), i) for i, o in enumerate(self.starts)])
        start = np.concatenate(self.starts)
        t_end = float(pb.model.final_time)
        lengths = np.arange(0.0, t_end - float(start.min()) + 1e-9, pb.dt)
        horizon = t_end - start
        tf = {var: pb.input_paths(var, fns)[unit] for var, fns in pb.inputs}
        a = self._run({}, tf, start, lengths, horizon, outs, real=True)
        b = self._run({}, tf, start, lengths, horizon, outs, real=False)
        for o in outs:
            if not np.allclose(a[o], b[o], rtol=1e-12, atol=1e-14, equal_nan=True):
                return []
        return sorted(outs)

    @property
    def mode(self) -> str:
        return ("real calendar years, one ensemble call per start year (" + self.time_note + ")"
                if self.time_runs else "one ensemble call, input paths shifted in time ("
                + self.time_note + ")")

    # ------------------------------------------------------------------ runs
    def _run(self, cols: dict[str, np.ndarray], tf: dict[str, MemberPiecewise], start: np.ndarray,
             lengths: np.ndarray, horizon: np.ndarray, outs: list[str], real: bool
             ) -> dict[str, np.ndarray]:
        """Run members from ``start`` (N,); values at ``start + lengths``: var -> (N, L).

        ``horizon`` (N,): the longest length a member needs (later values are NaN)."""
        pb = self.pb
        N, L = len(start), len(lengths)
        out = {v: np.full((N, L), np.nan) for v in outs}
        if N == 0:
            return out
        steps = lengths / pb.dt
        if np.any(np.abs(steps - np.round(steps)) > 1e-6):
            bad = lengths[np.abs(steps - np.round(steps)) > 1e-6][0]
            raise SpecError(f"{pb.spec.where}: a wave-ahead run of length {bad:g} is not a "
                            f"multiple of the time step {pb.dt:g}; choose a time_step that divides "
                            "the spacing of the observation (and forecast) years.")
        if real:
            groups = [(float(s), g[b]) for s in np.unique(start)
                      for g in [np.flatnonzero(start == s)] for b in _buckets(horizon[g])]
        else:
            groups = [(pb.t0, b) for b in _buckets(horizon)]
        for t_begin, g in groups:
            need = lengths <= horizon[g].max() + 1e-9
            lg = lengths[need]
            samples: dict[str, Any] = {k: v[g] for k, v in cols.items()}
            shift = start[g] - t_begin  # zero in calendar-year groups
            for var, mp in tf.items():
                sub = mp[g]
                samples[var] = MemberPiecewise(sub.x - shift[:, None], sub.y, sub.k)
            t1 = t_begin + max(float(lg.max()), pb.dt)
            ds = pb.model.run_ensemble(samples, outputs=outs, params=dict(pb.fixed_params) or None,
                                       initial_time=t_begin, final_time=t1, time_step=pb.dt,
                                       return_times=list(t_begin + lg), progress=False, check=True,
                                       method=pb.spec.method)
            pb.n_calls += 1
            pb.n_members += int(ds.sizes["run"])
            pb.n_runs += int(ds.sizes["run"])
            got = np.asarray(ds["time"].values, float)
            ix = np.clip(np.searchsorted(got, t_begin + lg - 1e-7), 0, len(got) - 1)
            cols_l = np.flatnonzero(need)
            for v in outs:
                a = np.asarray(ds[v].values, float)
                if a.ndim != 2:
                    raise SpecError(f"{pb.spec.where}: {v!r} is subscripted; a panel of the scalar "
                                    "model fits scalar variables only.")
                out[v][np.ix_(g, cols_l)] = a[:, ix]
        for v in outs:  # beyond a member's own horizon: not its prediction
            out[v][lengths[None, :] > horizon[:, None] + 1e-9] = np.nan
        return out

    # ------------------------------------------------------------------ state inversion
    def _invert(self, cols: dict[str, np.ndarray], tf: dict[str, MemberPiecewise],
                tf_start: dict[str, np.ndarray], start: np.ndarray, target: np.ndarray,
                guess: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State constants (N, E) putting each measured variable at ``target`` (N, E) at the
        start; and the (N, E) mask of clipped (unmatched) ones. ``tf_start``: each input's
        value at the member's start (members equal in what matters at the start share a solve)."""
        pb = self.pb
        E = len(self.state)
        keys = [target]
        for k, v in cols.items():
            if self.start_names is None or k in self.start_names:
                keys.append(v[:, None])
        for var, v in tf_start.items():
            if self.start_names is None or var in self.start_names:
                keys.append(v[:, None])
        if self.time_start:
            keys.append(start[:, None])
        _, rep, inv = np.unique(np.column_stack(keys), axis=0, return_index=True, return_inverse=True)
        inv = np.asarray(inv).reshape(-1)
        Q = len(rep)
        tgt = target[rep]
        names = [s[0] for s in self.state]
        outs = [pb.variables[s[1]] for s in self.state]
        zero = np.zeros(1)

        def measured(idx: np.ndarray, c: np.ndarray) -> np.ndarray:
            r = rep[idx]
            cc = {k: v[r] for k, v in cols.items()}
            cc.update({nm: c[:, e] for e, nm in enumerate(names)})
            res = self._run(cc, {v: mp[r] for v, mp in tf.items()}, start[r], zero, np.zeros(len(r)),
                            list(dict.fromkeys(outs)), self.time_start)
            return np.column_stack([res[o][:, 0] for o in outs])

        lo = np.tile([s[2] for s in self.state], (Q, 1)).astype(float)
        hi = np.tile([s[3] for s in self.state], (Q, 1)).astype(float)
        width = hi - lo
        # first call: the range ends and, around the last solution of the same (unit, start)
        # (parameters move little between evaluations), two narrow brackets; the smallest
        # bracket with a sign change is then refined (a narrow one in one or two steps)
        g0 = guess[rep]
        near = [g0 + f * width for f in (-1e-3, -1e-7, 1e-7, 1e-3)]
        P = np.stack([lo] + [np.clip(np.where(np.isfinite(g0), c, lo), lo, hi) for c in near]
                     + [hi], axis=2)  # (Q, E, 6), sorted
        npt = P.shape[2]
        G = measured(np.tile(np.arange(Q), npt),
                     P.transpose(2, 0, 1).reshape(npt * Q, E)).reshape(npt, Q, E).transpose(1, 2, 0)
        G = G - tgt[:, :, None]
        ends_g = G[:, :, [0, -1]]
        change = (np.sign(G[:, :, :-1]) * np.sign(G[:, :, 1:]) <= 0) & np.isfinite(G[:, :, :-1]) \
            & np.isfinite(G[:, :, 1:])
        bracket = change.any(axis=2)
        pick = np.argmax(change, axis=2)[:, :, None]
        lo_b = np.take_along_axis(P, pick, 2)[:, :, 0]
        hi_b = np.take_along_axis(P, pick + 1, 2)[:, :, 0]
        g_lo = np.take_along_axis(G, pick, 2)[:, :, 0]
        g_hi = np.take_along_axis(G, pick + 1, 2)[:, :, 0]
        # no sign change anywhere: the end nearer the target (clipped, counted)
        a_end = np.abs(np.nan_to_num(ends_g, nan=np.inf))
        x = np.where(bracket, np.where(np.abs(g_lo) <= np.abs(g_hi), lo_b, hi_b),
                     np.where(a_end[:, :, 0] <= a_end[:, :, 1], lo, hi))
        g = np.where(bracket, np.where(np.abs(g_lo) <= np.abs(g_hi), g_lo, g_hi),
                     np.where(a_end[:, :, 0] <= a_end[:, :, 1], ends_g[:, :, 0], ends_g[:, :, 1]))
        lo, hi = np.where(bracket, lo_b, lo), np.where(bracket, hi_b, hi)
        ftol = 1e-12 * np.maximum(1.0, np.abs(tgt))
        active = bracket & (np.abs(g) > ftol)
        side = np.zeros((Q, E))
        for _ in range(200):
            if not active.any():
                break
            rows = np.flatnonzero(active.any(axis=1))
            a = active[rows]
            a_, h, gl, gh = lo[rows], hi[rows], g_lo[rows], g_hi[rows]
            with np.errstate(divide="ignore", invalid="ignore"):
                c = (a_ * gh - h * gl) / (gh - gl)
            bad = ~np.isfinite(c) | (c <= a_) | (c >= h)
            c = np.where(bad, 0.5 * (a_ + h), c)
            c = np.where(a, c, x[rows])
            gc = measured(rows, c) - tgt[rows]
            same = np.sign(gc) == np.sign(gl)
            upd_lo = a & same
            upd_hi = a & ~same
            s = side[rows]
            gh = np.where(upd_lo & (s == -1), gh / 2, gh)
            gl = np.where(upd_hi & (s == 1), gl / 2, gl)
            a_, gl = np.where(upd_lo, c, a_), np.where(upd_lo, gc, gl)
            h, gh = np.where(upd_hi, c, h), np.where(upd_hi, gc, gh)
            s = np.where(upd_lo, -1, np.where(upd_hi, 1, s))
            lo[rows], hi[rows], g_lo[rows], g_hi[rows], side[rows] = a_, h, gl, gh, s
            x[rows] = np.where(a, c, x[rows])
            g[rows] = np.where(a, gc, g[rows])
            done = (np.abs(gc) <= ftol[rows]) | (h - a_ <= 1e-15 * width[rows]) | ~np.isfinite(gc)
            active[rows] = a & ~done
        if E > 1:  # the entries were solved side by side: check them together
            g = measured(np.arange(Q), x) - tgt
        matched = np.isfinite(g) & (np.abs(g) <= MATCH_TOL * np.maximum(1.0, np.abs(tgt)))
        if E > 1 and np.any(bracket & ~matched):
            raise SpecError(f"{pb.spec.where}: [panel.state] entries {', '.join(names)} could not be "
                            "solved together (each measured variable should depend on its own "
                            "constant); set one state per measured stock.")
        return x[inv], ~matched[inv]

    # ------------------------------------------------------------------ predictions
    def predict(self, s_u: np.ndarray, U_u: np.ndarray, unit: np.ndarray, years: np.ndarray,
                need: np.ndarray | None = None) -> np.ndarray:
        """Predictions (M, n_series, len(years)), each year from the last fitted state
        observation before it (the first one itself: the start values); NaN before it."""
        unit = np.asarray(unit, int)
        M, Ty = len(unit), len(years)
        need = np.ones((M, Ty), bool) if need is None else np.asarray(need, bool)
        # the member serving each (row, year): the row's latest start before the year
        sidx = np.full((M, Ty), -1)
        for i in np.unique(unit):
            r = np.flatnonzero(unit == i)
            o = self.starts[i]
            j = np.searchsorted(o, years - 1e-9, side="left") - 1
            j = np.where(np.abs(years - o[0]) <= 1e-9, 0, j)
            sidx[r] = j[None, :]
        rr, yy = np.nonzero(need & (sidx >= 0))
        vals = self.points(s_u, U_u, unit, rr, sidx[rr, yy], years[yy])
        out = np.full((M, self.pb.S, Ty), np.nan)
        out[rr, :, yy] = vals
        return out

    def points(self, s_u: np.ndarray, U_u: np.ndarray, unit: np.ndarray, prow: np.ndarray,
               pstart: np.ndarray, pyear: np.ndarray) -> np.ndarray:
        """Values (P, n_series) at points: row ``prow`` of ``unit``, from its start number
        ``pstart`` (index into the unit's starts), at year ``pyear``; one member per
        (row, start)."""
        pb = self.pb
        W = max(len(o) for o in self.starts) + 1
        mk, minv = np.unique(prow * W + pstart, return_inverse=True)
        minv = np.asarray(minv).reshape(-1)
        mrow, mj = mk // W, mk % W
        munit = unit[mrow]
        mstart = np.array([self.starts[u][j] for u, j in zip(munit, mj, strict=True)])
        lens = np.round((pyear - mstart[minv]) / pb.dt) * pb.dt
        if np.any(lens < -1e-9):
            raise ValueError("a wave-ahead point lies before its member's start")
        lengths = np.unique(lens)
        horizon = np.zeros(len(mk))
        np.maximum.at(horizon, minv, lens)
        rows = pb.rows(s_u, U_u, unit)
        cols = {k: v[mrow] for k, v in rows.consts.items()}
        tf = {var: pb.input_paths(var, fns)[munit] for var, fns in pb.inputs}
        targets = np.empty((len(mk), len(self.state)))
        ti = np.searchsorted(pb.years, mstart)
        for e, (_, k, _, _) in enumerate(self.state):
            off, sc = pb._measure(k, s_u, U_u)
            targets[:, e] = off[mrow] + sc[mrow] * pb.Y[k, munit, ti]
        tf_start = {var: self._input_at_starts(var, fns)[munit, mj] for var, fns in pb.inputs}
        cache = self.__dict__.setdefault("_guess", np.full((pb.n_units, W, len(self.state)), np.nan))
        x, clipped = self._invert(cols, tf, tf_start, mstart, targets, cache[munit, mj])
        cache[munit, mj] = np.where(clipped, np.nan, x)
        for e, (c, _, _, _) in enumerate(self.state):
            cols[c] = x[:, e]
        self.last_states = (munit, mstart, x, clipped)
        self.stats = {"starts": len(mk), "clipped": int(clipped.any(axis=1).sum())}
        outs = list(dict.fromkeys(pb.variables))
        sims = self._run(cols, tf, mstart, lengths, horizon, outs, self.time_runs)
        li = np.searchsorted(lengths, lens - 1e-9)
        out = np.empty((len(prow), pb.S))
        for k, _ in enumerate(pb.spec.series):
            off, sc = pb._measure(k, s_u, U_u)
            mu = sims[pb.variables[k]][minv, li]
            out[:, k] = (mu - off[prow]) / sc[prow]
        return out

    def trajectories(self, s_u: np.ndarray, U_u: np.ndarray, grid: np.ndarray, t_end: float
                     ) -> list[dict[str, Any]]:
        """Rows (unit, series, year, fitted) of every member's run for the figures: from each
        start over the grid years to the next start (the last one to ``t_end``); a NaN row
        between members breaks the line where the state is reset to the observation."""
        pb = self.pb
        unit = pb.all_units()
        prow, pst, pyr = [], [], []
        for i, o in enumerate(self.starts):
            for j, a in enumerate(o):
                b = o[j + 1] if j + 1 < len(o) else max(t_end, a)
                ys = np.unique(np.concatenate([[a, b], grid[(grid > a) & (grid < b)]]))
                prow += [i] * len(ys)
                pst += [j] * len(ys)
                pyr += list(ys)
        prow_a, pst_a, pyr_a = np.array(prow), np.array(pst), np.array(pyr, float)
        vals = self.points(np.tile(s_u, (pb.n_units, 1)), U_u, unit, prow_a, pst_a, pyr_a)
        out: list[dict[str, Any]] = []
        for k, ser in enumerate(pb.spec.series):
            prev = None
            for p in range(len(prow_a)):
                key = (prow_a[p], pst_a[p])
                if prev is not None and key != prev and key[0] == prev[0]:
                    out.append({"unit": pb.units[prow_a[p]], "series": ser.name,
                                "year": float(pyr_a[p]), "fitted": np.nan})
                out.append({"unit": pb.units[prow_a[p]], "series": ser.name,
                            "year": float(pyr_a[p]), "fitted": float(vals[p, k])})
                prev = key
        return out

    def states_table(self) -> Any:
        """The state constants of the last prediction's members: unit, start, constant, value,
        clipped (the observation was out of reach)."""
        import pandas as pd

        munit, mstart, x, clipped = self.last_states
        rows = [{"unit": self.pb.units[u], "start": float(t), "constant": c,
                 "value": float(x[m, e]), "clipped": bool(clipped[m, e])}
                for m, (u, t) in enumerate(zip(munit, mstart, strict=True))
                for e, (c, _, _, _) in enumerate(self.state)]
        return pd.DataFrame(rows, columns=["unit", "start", "constant", "value", "clipped"]
                            ).sort_values(["unit", "start"], kind="stable").reset_index(drop=True)

    def _input_at_starts(self, var: str, fns: list[Any]) -> np.ndarray:
        """Each unit's input value at each of its starts, (n_units, max starts), cached."""
        cache = self.__dict__.setdefault("_at_starts", {})
        if var not in cache:
            w = max(len(s) for s in self.starts)
            a = np.full((len(self.starts), w), np.nan)
            for i, (f, o) in enumerate(zip(fns, self.starts, strict=True)):
                a[i, :len(o)] = f(o)
            cache[var] = a
        return cache[var]
