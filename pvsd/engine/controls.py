"""Models whose control variables change during the run (FINAL TIME, TIME STEP, SAVEPER).

Vensim and PySD evaluate the control variables at every step: ``FINAL TIME =
IF THEN ELSE(Time < 5, 10, 50)`` makes a run that was to stop at 10 go on to 50.
pvsd follows PySD: without time settings from the caller such a model runs with
its control variables evaluated at every step (vectorised engine, else plain
PySD without fixed time settings); when the caller fixes all the time-varying
ones, they are constants for that run. Fixing only some of them is refused,
because the saved times could not be known beforehand (no silent truncation).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from pvsd.errors import SimulationError, TimeRangeError, UnsupportedModelError

__all__ = ["dynamic_controls", "dynamic_run", "refuse_in_ensemble"]

_ARG = {"final_time": "final_time", "time_step": "time_step", "saveper": "saveper"}


def dynamic_controls(model: Any) -> list[str]:
    """Python names of the control variables (not INITIAL TIME) that change during a run."""
    from pvsd.engine import engine_for
    from pvsd.engine.ir import CONTROL_NAMES
    from pvsd.engine.support import static_names

    eng = engine_for(model)
    if eng.ir is None:
        return []
    cached = getattr(eng, "_dynamic_controls", None)
    if cached is None:
        static = static_names(eng.ir)
        cached = [c for c in CONTROL_NAMES if c != "initial_time" and c in eng.ir.variables
                  and c not in static]
        eng._dynamic_controls = cached  # type: ignore[attr-defined]
    return list(cached)


def _label(model: Any, names: Sequence[str]) -> str:
    from pvsd.engine import engine_for

    ir = engine_for(model).ir
    return ", ".join(ir.variables[n].name if ir is not None else n for n in names)


def _uncovered(model: Any, given: Mapping[str, Any], return_times: Any) -> tuple[list[str], list[str]]:
    dyn = dynamic_controls(model)
    fixed = {k for k, v in given.items() if v is not None}
    if return_times is not None:
        fixed.add("saveper")
    return dyn, [d for d in dyn if d not in fixed]


def refuse_in_ensemble(model: Any, given: Mapping[str, Any], return_times: Any) -> None:
    """Ensembles need one time axis: refuse time-varying control variables left free."""
    _dyn, free = _uncovered(model, given, return_times)
    if free:
        raise UnsupportedModelError(
            f"{model.path.name}: {_label(model, free)} change(s) during the run (the equation "
            "depends on Time), so the saved times are only known by running; ensembles, "
            "sensitivity and calibration need fixed time settings. Give final_time, time_step "
            "and save_every / return_times for these runs (CLI: --final-time, --time-step, "
            "--saveper)."
        )


def dynamic_run(
    model: Any,
    params: Mapping[str, Any],
    given: Mapping[str, Any],
    return_times: Sequence[float] | None,
    outputs: Sequence[str],
    method: str = "euler",
    check: bool | None = None,
) -> tuple[pd.DataFrame, tuple[float, float, float]] | None:
    """Run a model with time-varying control variables as PySD does, or None if it has none.

    Parameters
    ----------
    given
        The caller's ``initial_time``, ``final_time``, ``time_step``, ``saveper``
        (None when not given).

    Returns
    -------
    (frame, (t0, t1, dt)) or None
        None when the model's control variables are constants or the caller
        fixes all the time-varying ones (the ordinary path then runs).

    Raises
    ------
    TimeRangeError
        The caller fixes some but not all of the time-varying control variables.
    """
    dyn, free = _uncovered(model, given, return_times)
    if not free:
        return None
    if len(free) < len(dyn) or given.get("initial_time") is not None:
        raise TimeRangeError(
            f"{model.path.name}: {_label(model, dyn)} change(s) during the run (the equation "
            "depends on Time). pvsd runs such a model as PySD and Vensim do, with the control "
            "variables evaluated at every step, when no time setting is given; or with fixed "
            f"values when you give all of final_time, time_step and saveper. Fixing only "
            f"{', '.join(k for k, v in given.items() if v is not None) or 'return_times'} "
            "would make the saved times ambiguous: give all of them, or none."
        )
    from pvsd.engine import NeedsFallback, check_enabled, engine_for, to_engine_params

    eng = engine_for(model)
    py_out = [model._py[c] for c in outputs]
    frame = None
    if eng.simulator is not None:
        try:
            if check_enabled(check) and not eng.checked:
                t_e, v_e = eng.simulator.run_dynamic(to_engine_params(model, params), py_out)
                ref = _pysd_natural(model, params, outputs)
                from pvsd.engine import _compare

                ok = len(t_e) == len(ref.index) and np.allclose(t_e, ref.index.to_numpy(float))
                bad = [o for o, p in zip(outputs, py_out, strict=True)
                       if not ok or not _compare(v_e[p][:, 0], ref[o].to_numpy(float))]
                if bad:
                    from pvsd.engine.ir import Unsupported

                    eng.disable([Unsupported("disagreement with plain PySD (safety net)", bad[0])])
                    warnings.warn(f"pvsd's vectorised engine disagrees with plain PySD for "
                                  f"{model.path.name} (variable {bad[0]!r}); using PySD.",
                                  RuntimeWarning, stacklevel=3)
                else:
                    eng.checked = True
            if eng.simulator is not None:
                diag: dict[str, Any] = {}
                t_e, v_e = eng.simulator.run_dynamic(to_engine_params(model, params), py_out,
                                                     method=method, diagnostics=diag)
                frame = pd.DataFrame({o: v_e[p][:, 0] for o, p in zip(outputs, py_out, strict=True)},
                                     index=pd.Index(t_e, name="time"))
                from pvsd.engine import _violations
                from pvsd.numerics.ranges import warn_violations

                warn_violations(model.path.name, _violations(eng.ir, diag.get("ranges", ())),
                                float(np.min(np.diff(t_e))) if len(t_e) > 1 else 1.0, method,
                                stacklevel=4)
        except NeedsFallback:
            frame = None
    if frame is None:
        if method != "euler":
            from pvsd.engine import _no_engine

            _no_engine(model, method, eng.reason or "time-varying control variables")
        frame = _pysd_natural(model, params, outputs)
        from pvsd.numerics.saved_ranges import check_saved

        # PySD returns the saved times only: check those, and say so
        check_saved(model, frame.index.to_numpy(float),
                    {c: frame[c].to_numpy(float) for c in frame.columns}, float(model.time_step),
                    method, stacklevel=4)
    t = frame.index.to_numpy(float)
    dt0 = float(t[1] - t[0]) if len(t) > 1 else float(model.time_step)
    return frame[list(outputs)].astype(float), (float(t[0]), float(t[-1]), dt0)


def _pysd_natural(model: Any, params: Mapping[str, Any], outputs: Sequence[str]) -> pd.DataFrame:
    """Plain PySD with the model's own (time-varying) control variables."""
    from pvsd.timefunc import PiecewiseLinear

    pysd_model = model._fresh()
    pysd_params: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, PiecewiseLinear):
            x, y = value.arrays()
            value = pd.Series(y, index=x)
        pysd_params[model._py[name]] = value
    py_out = [model._py[c] for c in outputs]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pysd_model.run(params=pysd_params, return_columns=py_out, progress=False)
    except Exception as exc:
        raise SimulationError(
            f"Simulation of {model.path.name} failed: {type(exc).__name__}: {exc}") from exc
    frame = frame.rename(columns=dict(zip(py_out, outputs, strict=True)))
    frame = frame[list(outputs)].astype(float)
    frame.index = pd.Index(np.asarray(frame.index, dtype=float), name="time")
    return frame
