"""Step check: how much the outputs change when the time step is halved.

For a first-order method (Euler) the error of a run with step ``dt`` is about
the change between ``dt`` and ``dt / 2``; for RK4 it is about a fifteenth of
it. A change of more than a percent means the numbers depend on the time step
more than a policy comparison can tolerate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["StepCheck", "step_check"]

#: Relative change above which the time step is called too coarse.
TOLERANCE = 0.01


@dataclass(frozen=True)
class StepCheck:
    """Result of :func:`step_check`.

    Attributes
    ----------
    time_step, method
        The step checked and the integration method.
    changes
        Per output: the largest change between the runs at ``time_step`` and
        ``time_step / 2`` over the common saved times, relative to the output's
        largest absolute value.
    """

    model: str
    time_step: float
    method: str
    changes: Mapping[str, float]

    @property
    def worst(self) -> tuple[str, float]:
        """The output that changes most, and by how much."""
        if not self.changes:
            return ("", 0.0)
        k = max(self.changes, key=lambda n: self.changes[n])
        return k, self.changes[k]

    @property
    def ok(self) -> bool:
        """Every output changes by less than :data:`TOLERANCE`."""
        return self.worst[1] < TOLERANCE

    def to_dataframe(self) -> pd.DataFrame:
        return pd.DataFrame({"relative change": pd.Series(self.changes)}).sort_values(
            "relative change", ascending=False)

    def summary(self) -> str:
        name, worst = self.worst
        verdict = ("fine" if self.ok else
                   f"too coarse: try TIME STEP {self.time_step / 2:g}"
                   + (" or --method rk4" if self.method == "euler" else ""))
        return (f"step check ({self.method}, TIME STEP {self.time_step:g} vs "
                f"{self.time_step / 2:g}): largest change {worst:.2e} ({worst:.3%}) in {name!r} - {verdict}")

    def __str__(self) -> str:
        return self.summary()


def step_check(model: Any, params: Mapping[str, Any] | None = None,
               outputs: Sequence[str] | None = None, time_step: float | None = None,
               method: str = "euler", **run_kwargs: Any) -> StepCheck:
    """Run ``model`` at ``time_step`` and ``time_step / 2`` and compare the outputs.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`.
    params, outputs, run_kwargs
        As for :meth:`pvsd.Model.run` (default outputs: the stocks).
    time_step
        The step to check (default: the model's TIME STEP).
    method
        ``"euler"`` or ``"rk4"``.
    """
    import warnings

    dt = float(time_step if time_step is not None else model.time_step)
    outs = list(outputs) if outputs is not None else (model.stocks or model.default_outputs())
    sp = run_kwargs.pop("saveper", None) or model.saveper
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # range warnings are the run's business
        a = model.run(params=params, outputs=outs, time_step=dt, saveper=sp, method=method,
                      **run_kwargs).to_dataframe()
        b = model.run(params=params, outputs=outs, time_step=dt / 2, saveper=sp, method=method,
                      **run_kwargs).to_dataframe()
    common = a.index.intersection(b.index)
    changes: dict[str, float] = {}
    for o in a.columns:
        x = a.loc[common, o].to_numpy(float)
        y = b.loc[common, o].to_numpy(float)
        scale = float(np.nanmax(np.abs(y))) if y.size else 0.0
        diff = float(np.nanmax(np.abs(x - y))) if y.size else 0.0
        changes[o] = diff / scale if scale > 0 else diff
    return StepCheck(model.name, dt, method, changes)
