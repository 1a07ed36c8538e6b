"""Vectorised simulator: compiles a :class:`~pvsd.engine.ir.ModelIR` to numpy code.

One simulation pass integrates N ensemble members at once: every variable is a
numpy array of shape ``(N,)`` (or a scalar when it is the same for all
members), stateful builtins hold arrays of shape ``(order, N)``. The generated
code performs, member by member, the same floating-point operations in the same
order as PySD's generated module (Euler integration, ``state + ddt * dt``; time
advanced by repeated addition of TIME STEP; the same save-time test), so each
member equals a separate PySD run.

Parameters
----------
Constants can be overridden by a scalar, an array of shape ``(N,)`` or a
:class:`TimeFunction` (piecewise-linear points evaluated with ``np.interp`` at
each step, exactly what PySD does with a ``pandas.Series`` parameter), shared
by all members or one per member (points of shape ``(N, K)``, evaluated for all
members at once with the same arithmetic as ``np.interp``).

The engine is split by stage: :mod:`pvsd.engine.timegrid` (time grid, methods),
:mod:`pvsd.engine.numpy_params` (time-varying parameters),
:mod:`pvsd.engine.numpy_runtime` (helpers the generated code calls),
:mod:`pvsd.engine.numpy_exprgen`, :mod:`pvsd.engine.numpy_stategen`,
:mod:`pvsd.engine.numpy_checks` and :mod:`pvsd.engine.numpy_codegen` (code
generation); this module holds the :class:`Simulator` that compiles and runs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pvsd.engine.ir import CONTROL_NAMES, ModelIR, Ref, Unsupported
from pvsd.engine.numpy_codegen import _Gen
from pvsd.engine.numpy_params import MemberPoints, TimeFunction, member_points
from pvsd.engine.numpy_params import _minterp as _minterp  # re-exported (tests)
from pvsd.engine.numpy_runtime import _RUNTIME, NeedsFallback, _pow_exact, _pow_fast, _quantum
from pvsd.engine.numpy_runtime import _uniform_int as _uniform_int  # re-exported (numpy_arrays)
from pvsd.engine.support import inspect_ir
from pvsd.engine.timegrid import METHODS, RPREC, TimeGrid, check_method, time_grid

__all__ = [
    "METHODS",
    "RPREC",
    "Compiled",
    "NeedsFallback",
    "Simulator",
    "TimeFunction",
    "TimeGrid",
    "check_method",
    "time_grid",
]


# ----------------------------------------------------------------------------
# Compiled simulator
# ----------------------------------------------------------------------------


@dataclass
class Compiled:
    """One compiled configuration (parameters overridden, outputs kept)."""

    source: str
    func: Any
    outputs: tuple[str, ...]


class Simulator:
    """Vectorised simulator of one model.

    Parameters
    ----------
    ir
        The model's IR.
    exact_pow
        Compute ``^`` with the C library's ``pow`` element by element, like
        PySD's Python floats (bit-identical, slower). When False numpy's
        ``power`` is used, which can differ in the last bit.

    Raises
    ------
    NeedsFallback
        If the model uses constructs the engine does not support.
    """

    def __init__(self, ir: ModelIR, exact_pow: bool = True) -> None:
        self.ir = ir
        self.exact_pow = exact_pow
        self.unsupported = inspect_ir(ir)
        if self.unsupported:
            raise NeedsFallback(self.unsupported)
        self._cache: dict[tuple, Compiled] = {}

    # ------------------------------------------------------------------------

    def control_values(self, params: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Model-file control values (with constant overrides applied)."""
        ir = self.ir
        params = dict(params or {})

        def values(start: dict[str, Any]) -> dict[str, Any]:
            env = dict(start)
            for n in ir.order(initial=True):
                if n in params and not isinstance(params[n], TimeFunction):
                    env[n] = params[n]
                    continue
                v = ir.variables.get(n)
                if v is None or v.kind == "lookup":
                    continue
                if v.kind in ("constant", "control") or (
                    v.expr is not None and v.deps_dynamic <= set(env)
                ):
                    try:
                        env[n] = ir.evaluate(v.expr if v.expr is not None else n, env,
                                             time_step=env.get("time_step"), initial=True)
                    except (KeyError, TypeError, ValueError, ZeroDivisionError):
                        pass
            return env

        env = values({})
        if "initial_time" not in env or any(c in ir.variables and c not in env
                                            for c in CONTROL_NAMES):
            # control variables that depend on Time: PySD evaluates them with the clock
            # at 0 to find INITIAL TIME, then at INITIAL TIME
            env0 = values({"time": 0.0})
            if "initial_time" in env0:
                env = values({"time": float(np.asarray(env0["initial_time"]).flat[0])})
            env.pop("time", None)
        out = {}
        for c in ("initial_time", "final_time", "time_step", "saveper"):
            if c in env:
                val = env[c]
                arr = np.asarray(val, dtype=float)
                if arr.ndim and not np.all(arr == arr.flat[0]):
                    raise NeedsFallback([Unsupported(
                        f"per-member {ir.variables[c].name}", ir.variables[c].name)])
                out[c] = float(arr.flat[0]) if arr.ndim else float(arr)
        return out

    def compile(self, static_params: frozenset[str], dynamic_params: frozenset[str],
                outputs: tuple[str, ...], scalar: bool = False,
                method: str = "euler", dynamic_ctl: bool = False,
                member_params: frozenset[str] = frozenset()) -> Compiled:
        """Generate and compile the simulation function of one configuration.

        ``scalar=True`` generates a one-member variant on Python floats (the
        single-run path), with the same arithmetic. ``member_params``: the
        dynamic parameters whose points differ per member.
        """
        key = (static_params, dynamic_params, outputs, scalar, method, dynamic_ctl,
               member_params)
        if key in self._cache:
            return self._cache[key]
        for p in static_params | dynamic_params:
            v = self.ir.variables.get(p)
            if v is not None and v.kind in ("lookup", "data"):
                raise NeedsFallback([Unsupported("parameter on a lookup/data variable", v.name)])
        arrayed = bool(self.ir.subscripts)
        if arrayed:
            from pvsd.engine.numpy_arrays import ARRAY_RUNTIME, make_array_gen

            gen = make_array_gen(_Gen)(self.ir, static_params, dynamic_params, scalar=False,
                                       method=method, dynamic_ctl=dynamic_ctl)
        else:
            gen = _Gen(self.ir, static_params, dynamic_params, scalar=scalar, method=method,
                       dynamic_ctl=dynamic_ctl)
        gen.member_params = member_params
        src = gen.program(outputs)
        ns: dict[str, Any] = dict(_RUNTIME)
        ns["_pow"] = _pow_exact if self.exact_pow else _pow_fast
        ns["_mod"] = lambda a, b: a - _quantum(a, b)
        ns["_TooLong"] = _TooLong
        ns["_maxsteps"] = MAX_DYNAMIC_STEPS
        if arrayed:
            ns.update(ARRAY_RUNTIME)
            ns.update(gen.arrays)
        for c, (table, _c) in gen.consts.items():
            ns[c + "_x"] = np.asarray(table.x, dtype=float)
            ns[c + "_y"] = np.asarray(table.y, dtype=float)
            ns[c + "_m"] = table.mode
            ns[c + "_xl"] = [float(v) for v in table.x]
            ns[c + "_yl"] = [float(v) for v in table.y]
        code = compile(src, f"<pvsd-sim {self.ir.path}>", "exec")
        exec(code, ns)
        comp = Compiled(src, ns["_simulate"], outputs)
        self._cache[key] = comp
        return comp

    def run(
        self,
        params: Mapping[str, Any] | None = None,
        outputs: Sequence[str] | None = None,
        n: int | None = None,
        initial_time: float | None = None,
        final_time: float | None = None,
        time_step: float | None = None,
        saveper: float | None = None,
        save_times: Sequence[float] | None = None,
        out: Mapping[str, np.ndarray] | None = None,
        init_clock: float | None = None,
        method: str = "euler",
        diagnostics: dict[str, Any] | None = None,
    ) -> tuple[TimeGrid, dict[str, np.ndarray]]:
        """Simulate ``n`` members at once.

        Parameters
        ----------
        params
            Python name -> scalar, array of shape ``(n,)`` or :class:`TimeFunction`
            (shared, or per member: points ``x`` ``(n, K)``, ``y`` ``(n, K[, *shape])``).
        outputs
            Python names to keep (default: every non-lookup variable).
        n
            Number of members (default: the length of the array parameters, or 1).
        initial_time, final_time, time_step, saveper, save_times
            Time settings for this call (model values when omitted).
        out
            Preallocated output arrays of shape ``(nsave, n)`` by name (optional).
        init_clock
            Time at which the states are initialised when it differs from the
            start of the integration (PySD initialises at the model's INITIAL
            TIME and then moves the clock when a run starts elsewhere).
        method
            ``"euler"`` (PySD's and Vensim's default) or ``"rk4"`` (Vensim's
            "RK4 Fixed": classical fourth-order Runge-Kutta with a fixed step;
            SAMPLE IF TRUE and DELAY FIXED update once per step at its start).
        diagnostics
            A dict to fill: ``"ranges"`` lists, per declared bound of a stock or of an
            auxiliary computed every step, ``(py_name, side, bound, extreme,
            first_time, n_members)`` (``first_time`` None when never crossed).

        Returns
        -------
        grid, values
            The time grid and, per output, an array of shape ``(nsave, n)``.
        """
        ir = self.ir
        params = dict(params or {})
        static_p: dict[str, Any] = {}
        dyn_p: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        member: set[str] = set()
        sizes = set()
        for k, v in params.items():
            if k not in ir.variables:
                raise KeyError(k)
            shape = ir.variables[k].shape
            if isinstance(v, TimeFunction) and v.per_member:
                xs, ys, m = member_points(v, shape, k)
                dyn_p[k] = (MemberPoints(xs, ys), ys)
                member.add(k)
                sizes.add(m)
                continue
            if shape:
                from pvsd.engine.numpy_arrays import prepare_param

                if isinstance(v, TimeFunction):
                    x = np.asarray(v.x, dtype=float)
                    y = np.asarray(v.y, dtype=float)
                    y = np.broadcast_to(y.reshape(len(x), *([1] * len(shape))) if y.ndim == 1
                                        else y, (len(x), *shape))[..., None]
                    dyn_p[k] = (x, np.ascontiguousarray(y))
                else:
                    static_p[k], m = prepare_param(v, shape, k)
                    if m is not None:
                        sizes.add(m)
                continue
            if isinstance(v, TimeFunction):
                dyn_p[k] = (np.asarray(v.x, dtype=float), np.asarray(v.y, dtype=float))
            else:
                a = np.asarray(v, dtype=float)
                if a.ndim == 0:
                    static_p[k] = float(a)
                elif a.ndim == 1:
                    static_p[k] = a
                    sizes.add(a.shape[0])
                else:
                    raise ValueError(f"parameter {k!r} must be a scalar or 1-d array")
        if len(sizes) > 1:
            raise ValueError(f"parameter arrays have different lengths {sorted(sizes)}")
        N = n if n is not None else (sizes.pop() if sizes else 1)
        if sizes and N not in sizes:
            raise ValueError(f"n={N} but parameter arrays have length {sizes}")
        ctl = self.control_values({k: v for k, v in static_p.items()
                                   if not ir.variables[k].shape})
        if initial_time is not None:
            ctl["initial_time"] = float(initial_time)
        if time_step is not None:
            ctl["time_step"] = float(time_step)
            if saveper is None and _saveper_follows_dt(ir):
                ctl["saveper"] = float(time_step)
        if final_time is not None:
            ctl["final_time"] = float(final_time)
        if saveper is not None:
            ctl["saveper"] = float(saveper)
        if save_times is not None and final_time is None:
            ctl["final_time"] = float(max(save_times))
        grid = time_grid(ctl["initial_time"], ctl["final_time"], ctl["time_step"],
                         ctl.get("saveper"), save_times)
        if outputs is None:
            outputs = [v.py_name for v in ir.variables.values() if v.kind not in ("lookup", "data")]
        outputs = tuple(outputs)
        scalar = N == 1 and not ir.subscripts
        if ir.subscripts:
            static_p = {k: (np.broadcast_to(v, (*ir.variables[k].shape, N))
                            if ir.variables[k].shape else v) for k, v in static_p.items()}
        if scalar:
            static_p = {k: float(np.asarray(v).reshape(-1)[0]) for k, v in static_p.items()}
            # one member: its own points are a shared time function
            dyn_p = {k: ((x.xs[:, 0], y[:, 0]) if k in member else (x, y))
                     for k, (x, y) in dyn_p.items()}
            dyn_p = {k: (x.tolist(), y.tolist()) for k, (x, y) in dyn_p.items()}
            member.clear()
        method = check_method(method)
        comp = self.compile(frozenset(static_p), frozenset(dyn_p), outputs, scalar=scalar,
                            method=method, member_params=frozenset(member))
        nsave = int(grid.save.sum())
        shapes = [ir.variables[o].shape if o in ir.variables else () for o in outputs]
        # arrayed outputs are filled in the internal layout (nsave, *shape, N)
        arrays = [np.empty((nsave, *sh, N), dtype=float) if sh else
                  (out[o] if out is not None else np.empty((nsave, N), dtype=float))
                  for o, sh in zip(outputs, shapes, strict=True)]
        if init_clock is not None:
            ctl["init_clock"] = float(init_clock)
        P: dict[str, Any] = dict(static_p)
        P.update(dyn_p)
        with np.errstate(all="ignore"):
            comp.func(P, N, grid.times.tolist(), grid.save.tolist(), arrays,
                      ctl["time_step"], ctl, diagnostics if diagnostics is not None else {})
        result = {}
        for o, a, sh in zip(outputs, arrays, shapes, strict=True):
            if sh:
                a = np.moveaxis(a, -1, 1)  # public layout (nsave, n, *shape)
                if out is not None and o in out:
                    out[o][...] = a
                    a = out[o]
            result[o] = a
        return grid, result


    @property
    def dynamic_controls(self) -> list[str]:
        """Python names of the control variables that change during a run."""
        from pvsd.engine.support import static_names

        static = static_names(self.ir)
        return [c for c in CONTROL_NAMES if c in self.ir.variables and c not in static]

    def run_dynamic(
        self,
        params: Mapping[str, Any] | None = None,
        outputs: Sequence[str] | None = None,
        n: int = 1,
        method: str = "euler",
        diagnostics: dict[str, Any] | None = None,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Simulate with the control variables evaluated at every step, as PySD does.

        For models whose FINAL TIME, TIME STEP or SAVEPER change during the run
        (e.g. ``FINAL TIME = IF THEN ELSE(Time < 5, 10, 50)``): the run goes on
        while ``time + TIME STEP * 1e-5 < FINAL TIME`` (both at the current time),
        each step uses the current TIME STEP, and a time is saved when it is a
        multiple of the current SAVEPER from the initial time.

        Returns
        -------
        times, values
            Saved times (rounded like PySD's index) and, per output, ``(nsave, n)``.
        """
        params = dict(params or {})
        for k, v in params.items():
            if k not in self.ir.variables:
                raise KeyError(k)
            if isinstance(v, TimeFunction) or np.ndim(v) != 0:
                raise NeedsFallback([Unsupported(
                    "time-varying control variables with per-member or time-varying parameters",
                    self.ir.variables[k].name)])
        static_p = {k: float(v) for k, v in params.items()}
        ctl = self.control_values(static_p)
        if outputs is None:
            outputs = [v.py_name for v in self.ir.variables.values()
                       if v.kind not in ("lookup", "data")]
        outputs = tuple(outputs)
        method = check_method(method)
        comp = self.compile(frozenset(static_p), frozenset(), outputs, scalar=n == 1,
                            method=method, dynamic_ctl=True)
        lists: list[list[Any]] = [[] for _ in outputs]
        diag: dict[str, Any] = {}
        with np.errstate(all="ignore"):
            comp.func(dict(static_p), n, [ctl["initial_time"]], [], lists, ctl["time_step"],
                      ctl, diag)
        times = np.array([np.round(t, -int(np.log10(d * RPREC)))
                          for t, d in zip(diag.get("times", []), diag.get("steps", []),
                                          strict=True)], dtype=float)
        values = {o: np.stack([np.broadcast_to(np.asarray(x, float), (n,)) for x in col])
                  if col else np.empty((0, n)) for o, col in zip(outputs, lists, strict=True)}
        if diagnostics is not None:
            diagnostics.update({k: v for k, v in diag.items() if k not in ("times", "steps")})
        return times, values


#: Most steps of a run whose control variables change during the run (a guard
#: against a FINAL TIME that keeps moving away).
MAX_DYNAMIC_STEPS = 50_000_000


class _TooLong(Exception):
    def __init__(self, time: float, dt: float) -> None:
        super().__init__(f"still running at time {time:g} (TIME STEP {dt:g}) after "
                         f"{MAX_DYNAMIC_STEPS:,} steps: FINAL TIME keeps moving away")


def _saveper_follows_dt(ir: ModelIR) -> bool:
    v = ir.variables.get("saveper")
    return v is not None and isinstance(v.expr, Ref) and v.expr.name == "time_step"
