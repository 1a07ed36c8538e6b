"""Fit statistics of simulated against actual series (Sterman 1984).

The mean squared error is split into Theil's inequality proportions

* ``U^M = (mean(S) - mean(A))^2 / MSE``: bias (unequal means),
* ``U^S = (s_S - s_A)^2 / MSE``: unequal variation,
* ``U^C = 2 (1 - r) s_S s_A / MSE``: imperfect correlation (unsystematic error),

with population standard deviations ``s`` (divisor n) and the Pearson
correlation ``r``, so that the three sum to 1 (Sterman, J. D. (1984).
Appropriate summary statistics for evaluating the historical fit of system
dynamics models. Dynamica 10(2), 51-66).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from pvsd.errors import DataError

__all__ = ["STAT_COLUMNS", "fit_statistics"]

#: The statistics returned by :func:`fit_statistics`, in order.
STAT_COLUMNS: tuple[str, ...] = ("n", "rmse", "mape", "r2", "mse", "theil_um", "theil_us", "theil_uc")


def _as_array(x: Any, what: str) -> np.ndarray:
    if isinstance(x, (pd.Series, pd.DataFrame)):
        x = x.to_numpy()
    try:
        arr = np.asarray(x, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise DataError(f"fit_statistics: {what} must be numbers, got {type(x).__name__}.") from None
    return arr


def fit_statistics(simulated: Sequence[float] | np.ndarray | pd.Series,
                   actual: Sequence[float] | np.ndarray | pd.Series) -> dict[str, float]:
    """Summary statistics of a simulated series against the actual (observed) one.

    Parameters
    ----------
    simulated
        Model values S at the observation times.
    actual
        Observed values A, same length and order. Pairs where either value is
        NaN are left out (pandas Series are first aligned on their index).

    Returns
    -------
    dict
        ``n`` (pairs used), ``rmse``, ``mape`` (mean absolute percentage error
        in percent, over the pairs with A != 0; NaN if there are none),
        ``r2`` (squared Pearson correlation of S and A, the R^2 of Sterman
        1984; NaN when either series is constant), ``mse`` and Theil's
        ``theil_um``, ``theil_us``, ``theil_uc`` (NaN when MSE is 0; they sum
        to 1 otherwise).

    Raises
    ------
    DataError
        The two inputs have different lengths or are not numeric.

    Examples
    --------
    >>> s = fit_statistics([2, 3, 4, 5], [1, 2, 3, 4])
    >>> s["theil_um"], s["theil_us"], s["theil_uc"]
    (1.0, 0.0, 0.0)
    """
    if isinstance(simulated, pd.Series) and isinstance(actual, pd.Series):
        simulated, actual = simulated.align(actual, join="inner")
    s = _as_array(simulated, "simulated")
    a = _as_array(actual, "actual")
    if s.shape != a.shape:
        raise DataError(
            f"fit_statistics: simulated has {s.size} values but actual has {a.size}; "
            "give both at the same times."
        )
    keep = np.isfinite(s) & np.isfinite(a)
    s, a = s[keep], a[keep]
    n = int(s.size)
    nan = math.nan
    if n == 0:
        return {"n": 0, "rmse": nan, "mape": nan, "r2": nan, "mse": nan,
                "theil_um": nan, "theil_us": nan, "theil_uc": nan}
    err = s - a
    mse = float(np.mean(err**2))
    nz = a != 0
    mape = float(np.mean(np.abs(err[nz] / a[nz])) * 100.0) if nz.any() else nan
    ms, ma = float(s.mean()), float(a.mean())
    ss, sa = float(s.std()), float(a.std())  # population SDs (ddof=0)
    if ss > 0 and sa > 0:
        r = float(np.mean((s - ms) * (a - ma)) / (ss * sa))
        r = min(1.0, max(-1.0, r))
        r2 = r * r
    else:
        r, r2 = 1.0, nan  # a constant series: no correlation term
    if mse > 0:
        um = (ms - ma) ** 2 / mse
        us = (ss - sa) ** 2 / mse
        uc = 2.0 * (1.0 - r) * ss * sa / mse
    else:
        um = us = uc = nan
    return {"n": n, "rmse": math.sqrt(mse), "mape": mape, "r2": r2, "mse": mse,
            "theil_um": float(um), "theil_us": float(us), "theil_uc": float(uc)}
