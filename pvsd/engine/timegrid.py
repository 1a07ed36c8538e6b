"""Time grid and integration methods of a run (replicates PySD's ``Time``).

:func:`time_grid` computes the integration times and the save mask exactly as
PySD does (time advanced by repeated addition of TIME STEP, the same save-time
test); :func:`check_method` normalises an integration-method name. The numpy
simulator, :mod:`pvsd.numerics` and the ensembles use it; the JavaScript back end
replicates it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["METHODS", "RPREC", "TimeGrid", "check_method", "time_grid"]

#: PySD's relative precision for the final time and the save-time test.
RPREC = 1e-5

#: Integration methods: Vensim's "Euler" and "RK4 Fixed" (classical Runge-Kutta).
METHODS = ("euler", "rk4")


def check_method(method: str) -> str:
    """Normalise an integration-method name (``"euler"``, ``"rk4"``); ValueError otherwise."""
    m = str(method).strip().lower().replace("-", "").replace(" ", "").replace("_", "")
    m = {"rk4fixed": "rk4", "rungekutta": "rk4", "rungekutta4": "rk4"}.get(m, m)
    if m not in METHODS:
        raise ValueError(f"integration method must be one of {', '.join(METHODS)}, got {method!r}")
    return m


# ----------------------------------------------------------------------------
# Time grid (replicates pysd.py_backend.components.Time)
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeGrid:
    """Integration and save times of one run.

    Attributes
    ----------
    times
        Every integration time, initial and final included (``nsteps + 1``).
    save
        Boolean mask over ``times``: save at that time.
    save_times
        Saved times rounded like PySD's output index.
    """

    initial_time: float
    final_time: float
    time_step: float
    times: np.ndarray
    save: np.ndarray
    save_times: np.ndarray

    @property
    def nsteps(self) -> int:
        """Number of Euler steps."""
        return len(self.times) - 1


def time_grid(
    initial_time: float,
    final_time: float,
    time_step: float,
    saveper: float | None = None,
    save_times: Sequence[float] | None = None,
) -> TimeGrid:
    """Integration times and save mask exactly as PySD computes them.

    Parameters
    ----------
    initial_time, final_time, time_step
        Control values.
    saveper
        Save period (default: every step).
    save_times
        Explicit save times (PySD's ``return_timestamps``); overrides ``saveper``.
    """
    t0, tf, dt = float(initial_time), float(final_time), float(time_step)
    if not dt > 0 or not math.isfinite(dt):
        raise ValueError(f"TIME STEP must be positive, got {dt}")
    times = [t0]
    t = t0
    # Time.in_bounds: t + dt*rprec < final_time
    while t + dt * RPREC < tf:
        t = t + dt
        times.append(t)
    tarr = np.array(times, dtype=float)
    prec = dt * RPREC
    save = np.zeros(len(times), dtype=bool)
    if save_times is not None:
        pending = sorted(float(x) for x in save_times)
        k = 0
        for i, ti in enumerate(times):
            if k >= len(pending):
                break
            # np.isclose(ti, pending[k], rtol=prec) as in Time.in_return, in Python floats
            if abs(ti - pending[k]) <= 1e-8 + prec * abs(pending[k]):
                save[i] = True
                k += 1
            else:
                while k < len(pending) and ti > pending[k]:
                    k += 1
    else:
        sp = dt if saveper is None else float(saveper)
        for i, ti in enumerate(times):
            delay = ti - t0
            save[i] = delay % sp < prec or -delay % sp < prec
    digits = -int(np.log10(dt * RPREC))
    return TimeGrid(t0, tf, dt, tarr, save, np.round(tarr[save], digits))
