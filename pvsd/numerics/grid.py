"""Save times of a run (PySD's and Vensim's rule for SAVEPER)."""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = ["SaveperWarning", "saveper_times"]


class SaveperWarning(UserWarning):
    """SAVEPER is not a multiple of TIME STEP: fewer times are saved than SAVEPER suggests."""


def saveper_times(t0: float, t1: float, dt: float, saveper: float, warn: bool = True) -> np.ndarray:
    """The times saved every ``saveper`` on the grid ``t0 + k * dt``, as PySD saves them.

    PySD (like Vensim) saves an integration time when it lies within
    ``dt * 1e-5`` of ``t0 + j * saveper``. When SAVEPER is not a multiple of
    TIME STEP only the common multiples are saved (SAVEPER 0.1 with TIME STEP
    1/128 saves every 0.5); a :class:`SaveperWarning` says so.
    """
    from pvsd.engine.numpy_backend import time_grid

    grid = time_grid(t0, t1, dt, saveper)
    times = grid.save_times
    ratio = saveper / dt
    if warn and abs(ratio - round(ratio)) > 1e-6 * max(1.0, ratio):
        every = float(np.diff(times[:2])[0]) if len(times) > 1 else math.nan
        warnings.warn(
            f"SAVEPER {saveper:g} is not a multiple of TIME STEP {dt:g}: like PySD and Vensim, "
            f"pvsd saves only the integration times that are multiples of SAVEPER "
            f"(every {every:g}, {len(times)} times). Choose a SAVEPER that is a multiple "
            "of TIME STEP to save more often.",
            SaveperWarning,
            stacklevel=4,
        )
    return times
