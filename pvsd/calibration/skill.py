"""Forecast skill out of sample: the model against naive forecasts.

Naive forecasts made from each unit's fitted-period data only:

* ``last value``: the last observation carried forward;
* ``linear trend``: least-squares line through the last four observations;
* ``last + drift``: the last value plus the mean change per year over the last
  four observations times the horizon.

Metrics on the indicator's own scale: MAPE (%), RMSE and the share of forecasts
within 5% of the observed value, per unit and overall.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["NAIVE", "compare", "is_loss", "naive_forecasts", "verdict"]

NAIVE = ("last value", "linear trend", "last + drift")
WINDOW = 4


def naive_forecasts(years: np.ndarray, values: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    """Naive forecasts at ``targets`` from a history (``years``, ``values``)."""
    x, y = np.asarray(years, float), np.asarray(values, float)
    t = np.asarray(targets, float)
    out = {"last value": np.full(t.shape, y[-1])}
    k = min(WINDOW, x.size)
    if k >= 2:
        slope, icpt = np.polyfit(x[-k:], y[-k:], 1)
        out["linear trend"] = icpt + slope * t
        drift = (y[-1] - y[-k]) / (x[-1] - x[-k])
        out["last + drift"] = y[-1] + drift * (t - x[-1])
    else:
        out["linear trend"] = out["last value"].copy()
        out["last + drift"] = out["last value"].copy()
    return out


def _metrics(err: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(err) / np.abs(actual)
    ok = np.isfinite(rel)
    return {"n": int(err.size),
            "mape": float(100 * np.mean(rel[ok])) if ok.any() else float("nan"),
            "rmse": float(np.sqrt(np.mean(err**2))) if err.size else float("nan"),
            "within_5pct": float(np.mean(rel[ok] <= 0.05)) if ok.any() else float("nan")}


def compare(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Skill tables from held-out forecasts.

    Parameters
    ----------
    frame
        One row per held-out observation: ``unit, series, year, actual, model`` and
        one column per naive method (:data:`NAIVE`).

    Returns
    -------
    (overall, per_unit)
        ``overall``: ``series, method, n, mape, rmse, within_5pct, units_model_worse``
        (units where the model's mean absolute error exceeds the method's).
        ``per_unit``: ``unit, series, method, n, mape, rmse, within_5pct``.
    """
    methods = ["model"] + [m for m in NAIVE if m in frame]
    rows, urows = [], []
    for s, d in frame.groupby("series", sort=False):
        mae_unit = {m: (d[m] - d["actual"]).abs().groupby(d["unit"]).mean() for m in methods}
        for m in methods:
            met = _metrics((d[m] - d["actual"]).to_numpy(), d["actual"].to_numpy())
            worse = np.nan if m == "model" else int((mae_unit["model"] > mae_unit[m] + 1e-15).sum())
            rows.append({"series": s, "method": m, **met, "units_model_worse": worse})
        for (u,), du in d.groupby(["unit"], sort=False):
            for m in methods:
                urows.append({"unit": u, "series": s, "method": m,
                              **_metrics((du[m] - du["actual"]).to_numpy(), du["actual"].to_numpy())})
    return pd.DataFrame(rows), pd.DataFrame(urows)


def is_loss(sentence: str) -> bool:
    """Whether a :func:`verdict` sentence says the model loses to that naive forecast."""
    return " loses to " in sentence


def verdict(overall: pd.DataFrame, n_units: int | None = None) -> list[str]:
    """Plain sentences saying where the model wins and where it loses."""
    out = []
    for s, d in overall.groupby("series", sort=False):
        d = d.set_index("method")
        if "model" not in d.index:
            continue
        mm = d.loc["model"]
        for m in [x for x in NAIVE if x in d.index]:
            nm = d.loc[m]
            word = "loses to" if mm["mape"] > nm["mape"] else "beats"
            units = ""
            if n_units and np.isfinite(nm["units_model_worse"]):
                units = (f"; worse than {m} in {int(nm['units_model_worse'])} of {n_units} "
                         "unit(s)")
            out.append(f"{s}: the model {word} {m} out of sample (MAPE {mm['mape']:.2f}% vs "
                       f"{nm['mape']:.2f}%, RMSE {mm['rmse']:.4g} vs {nm['rmse']:.4g}, within 5%: "
                       f"{mm['within_5pct']:.0%} vs {nm['within_5pct']:.0%}{units}).")
    return out
