"""Numerics users can trust: integration methods, work limits, range checks, step checks.

* :func:`resolve_method` - the integration methods (``"euler"``, ``"rk4"``) every
  running entry point accepts (``Model.run``, ensembles, calibration,
  sensitivity, the JavaScript simulator, ``--method`` on the CLI);
* :func:`check_work` / :func:`check_model_file` - refuse runs and model files
  that would take hours or eat the machine's memory, unless explicitly allowed;
* :class:`RangeWarning` - a stock left the range its model declares at some
  integration step (checked every step, not only at saved points);
* :func:`pvsd.numerics.stepcheck.step_check` - how much outputs change when the
  time step is halved.
"""

from __future__ import annotations

from pvsd.numerics.grid import saveper_times
from pvsd.numerics.limits import (
    MAX_MODEL_BYTES,
    MAX_WORK,
    WorkLimitError,
    check_model_file,
    check_work,
    estimate_work,
)
from pvsd.numerics.methods import METHODS, resolve_method
from pvsd.numerics.ranges import RangeViolation, RangeWarning, warn_violations

__all__ = [
    "MAX_MODEL_BYTES",
    "MAX_WORK",
    "METHODS",
    "RangeViolation",
    "RangeWarning",
    "WorkLimitError",
    "check_model_file",
    "check_work",
    "estimate_work",
    "resolve_method",
    "saveper_times",
    "warn_violations",
]
