"""Declared ranges checked at every integration step, not only at saved points.

The vectorised engine tracks, for every stock (and every auxiliary computed
each step) with a declared ``[min, max]`` in its Vensim units field, the
running minimum and maximum over all members and the first time a bound was
crossed. Violations come back as :class:`RangeViolation` records and are
reported once per run or ensemble by :func:`warn_violations` as a
:class:`RangeWarning` naming the variable, the time and the remedy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["RangeViolation", "RangeWarning", "warn_violations"]


class RangeWarning(UserWarning):
    """A variable left the range its model declares during the run."""


@dataclass(frozen=True)
class RangeViolation:
    """One variable outside its declared range.

    Attributes
    ----------
    variable
        Name in the model file.
    side
        ``"below"`` (under the minimum) or ``"above"`` (over the maximum).
    bound
        The declared bound crossed.
    extreme
        The most extreme value reached (over all steps and members).
    time
        The first integration time at which the bound was crossed (any member).
    members
        How many members crossed it (ensembles), else 1.
    """

    variable: str
    side: str
    bound: float
    extreme: float
    time: float
    members: int = 1

    def __str__(self) -> str:
        who = f" in {self.members} run(s)" if self.members > 1 else ""
        word = "minimum" if self.side == "below" else "maximum"
        return (f"{self.variable!r} went {self.side} its declared {word} {self.bound:g} at time "
                f"{self.time:g}{who} (extreme {self.extreme:.4g})")


def warn_violations(model_name: str, violations: Sequence[RangeViolation], time_step: float,
                    method: str = "euler", saved_only: bool = False,
                    stacklevel: int = 3) -> None:
    """One :class:`RangeWarning` listing ``violations`` and the remedy (nothing if empty)."""
    if not violations:
        return
    shown = "; ".join(str(v) for v in violations[:5])
    more = f" and {len(violations) - 5} more" if len(violations) > 5 else ""
    if method == "euler":
        remedy = (f"a smaller TIME STEP (e.g. {time_step / 4:g}, now {time_step:g}) or "
                  "method='rk4' (--method rk4)")
    else:
        remedy = f"a smaller TIME STEP (e.g. {time_step / 4:g}, now {time_step:g})"
    where = ("at the saved times (the model ran with plain PySD, which pvsd cannot watch step "
             "by step)" if saved_only else "between or at the saved times")
    warnings.warn(
        f"{model_name}: {shown}{more}, {where}. The integration step is probably too coarse "
        f"for the model's fastest dynamics (or the equations let the variable leave its "
        f"range): try {remedy}, and check the equations if it persists.",
        RangeWarning,
        stacklevel=stacklevel,
    )


def finite_bound(v: object) -> float | None:
    """A declared bound as a float, or None when absent/open (``?``)."""
    if v is None:
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None
