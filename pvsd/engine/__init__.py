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
    "forget",
    "pysd_reference",
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
    #: files the IR read at build time (GET XLS/DIRECT ...) -> (size, mtime_ns, sha256)
    files: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    def files_changed(self) -> bool:
        """A file read at build time has changed since (its values are in the IR)."""
        for path, (size, mtime, digest) in self.files.items():
            try:
                st = os.stat(path)
            except OSError:
                return True
            if (st.st_size, st.st_mtime_ns) != (size, mtime) and _sha256(path) != digest:
                return True
        return False

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


def _engine_key(model: Any) -> str:
    # the folder matters as much as the text: data files are read from the model's folder
    return f"{model.sha256}:{model.path.resolve()}"


def forget(model: Any) -> None:
    """Drop the cached engine of a model (the next use builds and checks it again)."""
    with _lock:
        _engines.pop(_engine_key(model), None)


def engine_for(model: Any) -> Engine:
    """The (cached) engine of a :class:`pvsd.Model`."""
    key = _engine_key(model)
    with _lock:
        eng = _engines.get(key)
    if eng is not None and not eng.files_changed():
        return eng
    if eng is not None:  # a data file the engine read has changed: build again
        with _lock:
            _engines.pop(key, None)
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
    if sim is not None:  # a time-varying DELAY N: PySD's output depends on what is saved
        from pvsd.engine.delayn import note_output_dependence

        note_output_dependence(ir, model.path.name)
    for path in getattr(ir, "external_files", ()):
        st = os.stat(path)
        eng.files[str(path)] = (st.st_size, st.st_mtime_ns, _sha256(str(path)))
    with _lock:
        _engines.setdefault(key, eng)
        return _engines[key]


def _sha256(path: str) -> str:
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def to_engine_params(model: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical-name parameters (numbers, arrays, ``PiecewiseLinear``) to engine form.

    A :class:`pvsd.timefunc.MemberPiecewise` (one function per member) becomes a
    per-member engine :class:`TimeFunction`.
    """
    from pvsd.timefunc import MemberPiecewise

    out: dict[str, Any] = {}
    for name, value in params.items():
        py = model._py[name]
        if isinstance(value, MemberPiecewise):  # one function per member
            out[py] = TimeFunction(np.asarray(value.x, float), np.asarray(value.y, float))
        elif hasattr(value, "arrays") and callable(value.arrays):
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
    method: str = "euler",
    diagnostics: dict[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Vectorised simulation with canonical names; raises :class:`NeedsFallback`.

    Returns the saved times and, per output (canonical name), an array
    ``(n_times, n)``, or ``(n_times, n, *shape)`` for an arrayed variable (dims
    in ``Variable.dims`` order). An arrayed parameter takes a value of the
    variable's shape (the same for every member) or with a leading member axis.
    ``method`` is ``"euler"`` or ``"rk4"``; ``diagnostics`` (a dict) receives
    ``"ranges"``: :class:`pvsd.numerics.RangeViolation` records of the declared
    bounds crossed at any integration step.
    """
    eng = engine_for(model)
    if eng.simulator is None:
        raise NeedsFallback(eng.unsupported)
    py_out = [model._py[o] for o in outputs]
    eparams = to_engine_params(model, params)
    init_clock = None if t0 == model.initial_time else model.initial_time
    diag: dict[str, Any] = {}
    grid, values = eng.simulator.run(
        eparams, outputs=py_out, n=n, initial_time=t0, final_time=t1, time_step=dt,
        save_times=list(times), out=None if out is None else
        {model._py[k]: v for k, v in out.items()}, init_clock=init_clock, method=method,
        diagnostics=diag,
    )
    if diagnostics is not None:
        diagnostics["ranges"] = _violations(eng.ir, diag.get("ranges", ()))
    return grid.save_times, {o: values[p] for o, p in zip(outputs, py_out, strict=True)}


def _violations(ir: ModelIR | None, raw: Sequence[tuple]) -> list[Any]:
    from pvsd.numerics.ranges import RangeViolation

    out = []
    for py, side, bound, extreme, first, count in raw:
        if first is None:
            continue
        name = ir.variables[py].name if ir is not None and py in ir.variables else py
        # vectorised runs bracket the first crossing by two saved times
        start, until = (first if isinstance(first, tuple) else (first, None))
        out.append(RangeViolation(name, side, float(bound), float(extreme), float(start),
                                  int(count), None if until is None else float(until)))
    return out


def _no_engine(model: Any, method: str, reason: str) -> None:
    """None (run PySD) for Euler; a clear error for methods PySD lacks."""
    if method == "euler":
        return None
    from pvsd.errors import UnsupportedModelError

    raise UnsupportedModelError(
        f"{model.path.name} cannot be integrated with {method.upper()}: PySD integrates with "
        f"Euler only, and pvsd's vectorised engine (which has RK4) does not run this model "
        f"({reason or 'unsupported construct'}). Use method='euler' (--method euler), or a "
        "smaller TIME STEP for accuracy."
    )


def _compare(a: np.ndarray, b: np.ndarray) -> bool:
    """Series ``a`` equals ``b`` (axis 0 = time), element by element for arrayed values.

    The absolute tolerance of each element is relative to that element's largest
    magnitude over time, so a small element is not hidden by a large one.
    """
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    if a.shape != b.shape:
        return False
    if not b.size:
        return True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanmax(np.abs(b), axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 1e-300), scale, 1e-300)
    return bool(np.all(np.isclose(a, b, rtol=CHECK_RTOL, atol=0, equal_nan=True)
                       | (np.abs(a - b) <= CHECK_RTOL * scale)))


def _pysd_param(value: Any, var: Any, subscripts: Mapping[str, Sequence[str]]) -> Any:
    """An engine-convention value for an arrayed variable as PySD takes it (xarray)."""
    import xarray as xr

    coords = {d: list(subscripts[d]) for d in var.dims}
    if hasattr(value, "arrays") and callable(value.arrays):
        x, y = value.arrays()
        y = np.broadcast_to(np.asarray(y, float).reshape(len(x), *([1] * len(var.shape)))
                            if np.ndim(y) == 1 else np.asarray(y, float), (len(x), *var.shape))
        return pd.Series([xr.DataArray(y[i], coords, list(var.dims)) for i in range(len(x))],
                         index=np.asarray(x, float))
    if isinstance(value, pd.Series):
        return value
    arr = np.broadcast_to(np.asarray(value, float), var.shape)
    return xr.DataArray(arr, coords, list(var.dims))


def pysd_reference(
    model: Any,
    params: Mapping[str, Any],
    t0: float,
    t1: float,
    dt: float,
    times: np.ndarray,
    outputs: Sequence[str],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One plain-PySD run: saved times and, per output, an array ``(n_times, *shape)``.

    Arrayed values come in the IR's dims order (PySD's xarray results transposed),
    so they compare element by element with the engine's.
    """
    eng = engine_for(model)
    ir = eng.ir
    if ir is None or not ir.subscripts:
        ref = model._simulate_pysd(dict(params), t0, t1, dt, times, list(outputs))
        return ref.index.to_numpy(float), {o: ref[o].to_numpy(float) for o in outputs}
    pysd_model = model._fresh()
    pp: dict[str, Any] = {}
    for name, value in params.items():
        py = model._py[name]
        var = ir.variables[py]
        if var.shape and hasattr(value, "arrays") and name in getattr(model, "_dims", {}):
            from pvsd.model_arrays import to_pysd

            # PySD's own series of arrays is NaN off its points (xarray interp); the lever
            # callable holds the end values as the engine does
            pp[py] = to_pysd(model, name, value, pysd_model)
        elif var.shape:
            pp[py] = _pysd_param(value, var, ir.subscripts)
        elif hasattr(value, "arrays") and callable(value.arrays):
            x, y = value.arrays()
            pp[py] = pd.Series(np.asarray(y, float), index=np.asarray(x, float))
        else:
            pp[py] = value
    py_out = [model._py[o] for o in outputs]
    kwargs: dict[str, Any] = {}
    if t0 != model.initial_time:
        kwargs["initial_condition"] = (t0, {})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pysd_model.run(params=pp, final_time=t1, time_step=dt,
                                   return_timestamps=list(times), return_columns=py_out,
                                   progress=False, flatten_output=False, **kwargs)
    except Exception as exc:  # PySD itself cannot run the model: say so, as _simulate_pysd does
        from pvsd.errors import SimulationError

        raise SimulationError(
            f"Simulation of {model.path.name} failed in PySD: {type(exc).__name__}: {exc}. "
            "pvsd checks its engine against PySD and cannot vouch for a model PySD cannot run."
        ) from exc
    out: dict[str, np.ndarray] = {}
    for o, py in zip(outputs, py_out, strict=True):
        var = ir.variables[py]
        cells = frame[py].to_list()
        if var.shape:
            from pvsd.arrays import pysd_cell

            out[o] = np.stack([pysd_cell(c, var.dims, ir.subscripts, var.shape) for c in cells])
            d = getattr(model, "_dims", {}).get(o)
            if d is not None and d.defined is not None and tuple(d.dims) == tuple(var.dims):
                # no equation there: PySD may still give a number (it ignores EXCEPT on a
                # constant), which is not the model's value; any use of it elsewhere is compared
                for e in d.elements():
                    if e not in d.defined:
                        out[o][(slice(None), *d.position(e))] = np.nan
        else:
            out[o] = np.asarray([float(c) for c in cells], float)
    return np.asarray(frame.index, float), out


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
        ref_t, ref = pysd_reference(model, p, t0, t1, dt, times, outputs)
        try:
            st, vals = simulate(model, p, t0, t1, dt, times, outputs, n=1)
        except NeedsFallback:
            return False
        ok = len(st) == len(ref_t) and np.allclose(st, ref_t, rtol=0,
                                                   atol=1e-9 * max(1.0, abs(t1)))
        bad = [] if ok else ["time"]
        if ok:
            for o in outputs:
                # arrayed outputs (n_times, 1, *shape): every element is compared
                if not _compare(vals[o][:, 0], ref[o]):
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
    method: str = "euler",
) -> pd.DataFrame | None:
    """One run with the vectorised engine, shaped like ``Model._simulate_pysd``'s frame.

    ``outputs`` are labels (``"Var"``, ``"Var[e1,e2]"``); a whole arrayed variable
    gives one column per element. Returns None when the model needs PySD (the
    caller then runs PySD). With ``method="rk4"`` a model the engine cannot run
    raises :class:`~pvsd.errors.UnsupportedModelError` (PySD has no RK4: falling
    back would silently give Euler numbers).
    """
    from pvsd.arrays import split_label
    from pvsd.model_arrays import flatten

    eng = engine_for(model)
    if eng.simulator is None:
        return _no_engine(model, method, eng.reason)
    if getattr(model, "_dims", None) and not getattr(eng.ir, "subscripts", None):
        return _no_engine(model, method, "arrayed model without engine dims support")
    # outputs are labels ("Var", "Var[e1,e2]"); the engine simulates whole variables
    names = list(dict.fromkeys(split_label(o)[0] for o in outputs))
    # PySD integrates with Euler only: the safety net compares the engine's Euler run
    # with PySD; once that agrees, RK4 uses the same compiled equations.
    if check_enabled(check) and not eng.checked:
        if not safety_check(model, [params], t0, t1, dt, times, names):
            return _no_engine(model, method, eng.reason)
    diag: dict[str, Any] = {}
    try:
        st, vals = simulate(model, params, t0, t1, dt, times, names, n=1, method=method,
                            diagnostics=diag)
    except NeedsFallback as nf:
        return _no_engine(model, method, describe(nf.items))
    except Exception as exc:  # an engine bug must not stop the user: PySD runs it
        eng.disable([Unsupported("engine error", "(model)", f"{type(exc).__name__}: {exc}")])
        warnings.warn(f"pvsd's vectorised engine failed on {model.path.name} ({exc}); using PySD.",
                      RuntimeWarning, stacklevel=3)
        return _no_engine(model, method, eng.reason)
    from pvsd.numerics.ranges import warn_violations

    warn_violations(model.path.name, diag.get("ranges", []), dt, method, stacklevel=4)
    # engine arrays are (n_times, n, *shape); one member here
    return flatten(model, outputs, st, {k: np.asarray(v, float)[:, 0] for k, v in vals.items()})
