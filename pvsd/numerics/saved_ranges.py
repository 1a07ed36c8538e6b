"""Declared ranges on runs that plain PySD made (the per-run fallback).

The vectorised engine checks every integration step (:mod:`pvsd.numerics.ranges`).
A run that falls back to plain PySD returns only the saved times, so pvsd can
check only those: :func:`check_saved` compares the returned values with the
ranges the model declares and says so (a :class:`~pvsd.numerics.ranges.RangeWarning`
that names the variables and the saved-points-only limit); the run's provenance
records ``range_check``. A model declaring ranges whose variables were not among
the outputs gets one warning per process saying they were not checked.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from pvsd.numerics.ranges import RangeViolation, RangeWarning, finite_bound, warn_violations

__all__ = ["SAVED_ONLY", "check_saved", "saved_violations"]

#: The ``range_check`` provenance entry of a PySD-fallback run.
SAVED_ONLY = "declared ranges checked at the saved times only (run with plain PySD)"

_told: set[str] = set()


def _bounds(model: Any) -> dict[str, tuple[float | None, float | None]]:
    """Variable name -> declared (min, max) of stocks, flows and auxiliaries."""
    table = model.variables
    out: dict[str, tuple[float | None, float | None]] = {}
    for row in table.itertuples():
        if row.kind not in ("stock", "flow", "aux"):
            continue
        lo, hi = finite_bound(row.min), finite_bound(row.max)
        if lo is not None or hi is not None:
            out[row.name] = (lo, hi)
    return out


def saved_violations(model: Any, times: np.ndarray, columns: Mapping[str, np.ndarray],
                     runs: bool = False) -> list[RangeViolation]:
    """Declared bounds crossed at saved times.

    ``columns`` maps output labels (``Var`` or ``Var[e1]``) to arrays
    ``(n_times, ...)``, or ``(n_runs, n_times, ...)`` with ``runs=True``.
    """
    from pvsd.arrays import split_label

    bounds = _bounds(model)
    t = np.asarray(times, dtype=float)
    out: list[RangeViolation] = []
    for label, arr in columns.items():
        base = split_label(label)[0]
        if base not in bounds:
            continue
        a = np.asarray(arr, dtype=float)
        if a.ndim == 0 or not a.size:
            continue
        if not runs:
            a = a[None]
        if a.ndim < 2 or a.shape[1] != len(t):
            continue
        flat = a.reshape(a.shape[0], a.shape[1], -1)
        lo, hi = bounds[base]
        scale = max([1.0] + [abs(b) for b in (lo, hi) if b is not None])
        for side, bound in (("below", lo), ("above", hi)):
            if bound is None:
                continue
            with np.errstate(invalid="ignore"):
                bad = flat < bound - 1e-9 * scale if side == "below" else flat > bound + 1e-9 * scale
            if not bad.any():
                continue
            runs = bad.any(axis=(1, 2))
            first = int(np.argmax(bad.any(axis=(0, 2))))
            ext = float(np.nanmin(flat) if side == "below" else np.nanmax(flat))
            out.append(RangeViolation(label if label == base else base, side, float(bound), ext,
                                      float(t[first]), int(runs.sum())))
    return out


def check_saved(model: Any, times: np.ndarray, columns: Mapping[str, np.ndarray], dt: float,
                method: str = "euler", runs: bool = False, stacklevel: int = 4) -> str:
    """Check a PySD-fallback run (or ensemble, ``runs=True``) at its saved times.

    Warns (:class:`RangeWarning`) on every declared bound crossed, saying that only
    the saved times were checked, and once per model about ranged variables that
    were not among the outputs. Returns the ``range_check`` provenance note.
    """
    from pvsd.arrays import split_label

    violations = _merge(saved_violations(model, times, columns, runs))
    # PySD has Euler only: the remedy is a smaller TIME STEP (not RK4)
    warn_violations(model.path.name, violations, dt, "pysd", saved_only=True,
                    stacklevel=stacklevel)
    bounds = _bounds(model)
    shown = {split_label(c)[0] for c in columns}
    unchecked = sorted(n for n in bounds if n not in shown)
    key = f"{model.sha256}:{model.path}"
    if unchecked and key not in _told:
        _told.add(key)
        more = f" and {len(unchecked) - 5} more" if len(unchecked) > 5 else ""
        warnings.warn(
            f"{model.path.name} ran with plain PySD (the vectorised engine does not run it), so "
            f"its declared ranges were checked at the saved times of the outputs only; "
            f"{', '.join(repr(n) for n in unchecked[:5])}{more} "
            f"{'declares' if len(unchecked) == 1 else 'declare'} a range but "
            f"{'is' if len(unchecked) == 1 else 'are'} not among the outputs and "
            f"{'was' if len(unchecked) == 1 else 'were'} not checked. Add "
            f"{'it' if len(unchecked) == 1 else 'them'} to the outputs (and save every "
            "TIME STEP) to check more.",
            RangeWarning,
            stacklevel=stacklevel,
        )
    return SAVED_ONLY


def _merge(items: list[RangeViolation]) -> list[RangeViolation]:
    merged: dict[tuple[str, str], RangeViolation] = {}
    for v in items:
        old = merged.get((v.variable, v.side))
        if old is None or (v.time < old.time if not math.isnan(v.time) else False):
            merged[(v.variable, v.side)] = v
    return list(merged.values())
