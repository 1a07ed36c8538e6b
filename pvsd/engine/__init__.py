"""pvsd's simulation engine: IR, numpy back end, and glue to :class:`pvsd.Model`.

:func:`engine_for` builds (once per model file and process) the IR of a model
and its vectorised simulator, or records why the model needs the per-run PySD
fallback. :func:`fast_run` is the single-run path used by ``Model.run``.

The safety net: the first time a model is simulated by the vectorised engine in
a process, a few runs are compared with plain PySD; on disagreement the engine
is disabled for that model (with a warning) and PySD is used instead. Switch it
off with ``PVSD_ENGINE_CHECK=0`` or ``check=False`` where offered.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pvsd.engine.ir import ModelIR, Unsupported, build_ir
from pvsd.engine.numpy_backend import NeedsFallback, Simulator, TimeFunction
from pvsd.engine.support import describe

__all__ = [
    "SUPPORTED_PYSD",
    "Engine",
    "NeedsFallback",
    "check_enabled",
    "engine_for",
    "fast_run",
    "to_engine_params",
]

#: PySD versions whose abstract model and numerics the engine reproduces.
SUPPORTED_PYSD = ">=3.14,<3.15"

#: Relative tolerance of the safety-net comparison with plain PySD.
CHECK_RTOL = 1e-9

_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def check_enabled(check: bool | None = None) -> bool:
    """Whether the first-use comparison with plain PySD runs (``PVSD_ENGINE_CHECK=0`` disables)."""
    if check is not None:
        return bool(check)
    return os.environ.get("PVSD_ENGINE_CHECK", "1").strip().lower() not in ("0", "false", "no", "off")


@dataclass
class Engine:
    """The engine state of one model file in this process.

    Attributes
    ----------
    ir
        The model's IR (None when no abstract model is available, e.g. ``.py`` input).
    simulator
        The vectorised simulator, or None when the model needs the fallback.
    unsupported
        Why the fallback is needed (construct and variable).
    checked
        The safety net has compared the engine with PySD for this model.
    """

    ir: ModelIR | None
    simulator: Simulator | None
    unsupported: list[Unsupported] = field(default_factory=list)
    checked: bool = False
    warned: bool = False

    @property
    def vectorized(self) -> bool:
        """The vectorised engine can run this model."""
        return self.simulator is not None

    @property
    def reason(self) -> str:
        """Why the fallback is used ("" when vectorised)."""
        return describe(self.unsupported)

    def disable(self, items: Sequence[Unsupported]) -> None:
        """Stop using the vectorised engine for this model."""
        self.simulator = None
        self.unsupported = list(items)


def engine_for(model: Any) -> Engine:
    """The (cached) engine of a :class:`pvsd.Model`."""
    key = model.sha256
    with _lock:
        eng = _engines.get(key)
    if eng is not None:
        return eng
    ir = None
    sim = None
    items: list[Unsupported] = []
    am = None
    try:
        am = model.abstract_model()
    except Exception as exc:  # a broken cache must not break running
        items = [Unsupported("abstract model unavailable", "(model)", str(exc))]
    if am is None and not items:
        items = [Unsupported("translated .py model (no abstract model)", "(model)")]
    if am is not None:
        try:
            ir = build_ir(am, model.path)
            sim = Simulator(ir)
        except NeedsFallback as nf:
            items = nf.items
        except Exception as exc:  # anything unexpected: PySD runs it
            items = [Unsupported("IR construction failed", "(model)", f"{type(exc).__name__}: {exc}")]
    if ir is not None and sim is not None:
        missing = [n for n, py in model._py.items() if py not in ir.variables]
        if missing:
            sim = None
            items = [Unsupported("variables not in IR", ", ".join(missing[:3]))]
    eng = Engine(ir, sim, items)
    with _lock:
        _engines.setdefault(key, eng)
        return _engines[key]


def to_engine_params(model: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical-name parameters (numbers, arrays, ``PiecewiseLinear``) to engine form."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        py = model._py[name]
        if hasattr(value, "arrays") and callable(value.arrays):
            x, y = value.arrays()
            out[py] = TimeFunction(np.asarray(x, float), np.asarray(y, float))
        elif isinstance(value, pd.Series):
            out[py] = TimeFunction.from_series(value)
        else:
            out[py] = value
    return out


def simulate(
    model: Any,
    params: Mapping[str, Any],
    t0: float,
    t1: float,
    dt: float,
    times: np.ndarray,
    outputs: Sequence[str],
    n: int | None = None,
    out: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Vectorised simulation with canonical names; raises :class:`NeedsFallback`.

    Returns the saved times and, per output (canonical name), an array
    ``(n_times, n)``.
    """
    eng = engine_for(model)
    if eng.simulator is None:
        raise NeedsFallback(eng.unsupported)
    py_out = [model._py[o] for o in outputs]
    eparams = to_engine_params(model, params)
    init_clock = None if t0 == model.initial_time else model.initial_time
    grid, values = eng.simulator.run(
        eparams, outputs=py_out, n=n, initial_time=t0, final_time=t1, time_step=dt,
        save_times=list(times), out=None if out is None else
        {model._py[k]: v for k, v in out.items()}, init_clock=init_clock,
    )
    return grid.save_times, {o: values[p] for o, p in zip(outputs, py_out, strict=True)}


def _compare(a: np.ndarray, b: np.ndarray) -> bool:
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if a.shape != b.shape:
        return False
    scale = np.nanmax(np.abs(b)) if b.size and not np.all(np.isnan(b)) else 1.0
    return bool(np.allclose(a, b, rtol=CHECK_RTOL, atol=CHECK_RTOL * max(scale, 1e-300),
                            equal_nan=True))


def safety_check(
    model: Any,
    member_params: Sequence[Mapping[str, Any]],
    t0: float,
    t1: float,
    dt: float,
    times: np.ndarray,
    outputs: Sequence[str],
) -> bool:
    """Compare vectorised runs of a few parameter sets with plain PySD runs.

    On disagreement the engine is disabled for the model, a warning says so,
    and False is returned.
    """
    eng = engine_for(model)
    if eng.simulator is None:
        return False
    if eng.checked:
        return True
    for p in member_params:
        ref = model._simulate_pysd(dict(p), t0, t1, dt, times, list(outputs))
        try:
            st, vals = simulate(model, p, t0, t1, dt, times, outputs, n=1)
        except NeedsFallback:
            return False
        ok = len(st) == len(ref.index) and np.allclose(st, ref.index.to_numpy(float), rtol=0,
                                                       atol=1e-9 * max(1.0, abs(t1)))
        bad = [] if ok else ["time"]
        if ok:
            for o in outputs:
                if not _compare(vals[o][:, 0], ref[o].to_numpy(float)):
                    bad.append(o)
        if bad:
            eng.disable([Unsupported("disagreement with plain PySD (safety net)", bad[0])])
            warnings.warn(
                f"pvsd's vectorised engine disagrees with plain PySD for {model.path.name} "
                f"(variable {bad[0]!r}); using PySD for this model from now on. "
                "Please report this as a pvsd bug.",
                RuntimeWarning,
                stacklevel=3,
            )
            return False
    eng.checked = True
    return True


def fast_run(
    model: Any,
    params: Mapping[str, Any],
    t0: float,
    t1: float,
    dt: float,
    times: np.ndarray,
    outputs: Sequence[str],
    check: bool | None = None,
) -> pd.DataFrame | None:
    """One run with the vectorised engine, shaped like ``Model._simulate_pysd``'s frame.

    ``outputs`` are labels (``"Var"``, ``"Var[e1,e2]"``); a whole arrayed variable
    gives one column per element. Returns None when the model needs PySD (the
    caller then runs PySD).
    """
    from pvsd.arrays import split_label
    from pvsd.model_arrays import flatten

    eng = engine_for(model)
    if eng.simulator is None:
        return None
    if getattr(model, "_dims", None) and not getattr(eng.ir, "subscripts", None):
        return None  # an engine without dims support must not run an arrayed model
    # outputs are labels ("Var", "Var[e1,e2]"); the engine simulates whole variables
    names = list(dict.fromkeys(split_label(o)[0] for o in outputs))
    if check_enabled(check) and not eng.checked:
        if not safety_check(model, [params], t0, t1, dt, times, names):
            return None
    try:
        st, vals = simulate(model, params, t0, t1, dt, times, names, n=1)
    except NeedsFallback:
        return None
    except Exception as exc:  # an engine bug must not stop the user: PySD runs it
        eng.disable([Unsupported("engine error", "(model)", f"{type(exc).__name__}: {exc}")])
        warnings.warn(f"pvsd's vectorised engine failed on {model.path.name} ({exc}); using PySD.",
                      RuntimeWarning, stacklevel=3)
        return None
    # engine arrays are (n_times, n, *shape); one member here
    return flatten(model, outputs, st, {k: np.asarray(v, float)[:, 0] for k, v in vals.items()})
