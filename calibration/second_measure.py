"""A second measurement of digital capability for the forecast's start state.

``read_gtmi`` reads the World Bank GovTech Maturity Index edition of the last fitted wave (never a
later one); ``collocation`` identifies the error variances of three measurements of one quantity
(triple collocation) and the best linear predictor of it from two of them. ``egdi_panel_v2.py``
combines them in ``WaveFit.start_state``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

GTMI_GLOB = "wb_govtech_gtmi_*.csv"


def _folder(indicators: Path) -> Path:
    p = Path(indicators)
    return p.parent if p.is_file() else p


def gtmi_file(indicators: Path) -> Path | None:
    """The GTMI file read from the indicators folder (or the folder of a file in it): the last
    ``wb_govtech_gtmi_*.csv`` by name, or None."""
    found = sorted(_folder(indicators).glob(GTMI_GLOB))
    return found[-1] if found else None


def read_gtmi(indicators: Path, last_fit: int) -> tuple[pd.Series | None, str]:
    """GovTech Maturity Index by ISO3 from the edition of ``last_fit`` (or, if there is none, the
    year before), and a sentence saying which edition was used or why none was.

    ``indicators`` is the indicators folder (or a file in it). No edition later than
    ``last_fit`` is ever read, so the forecast sees nothing measured after the last fitted wave.
    """
    path = gtmi_file(indicators)
    if path is None:
        return None, f"no GovTech Maturity Index file ({GTMI_GLOB}) in {_folder(indicators)}"
    g = pd.read_csv(path)
    missing = {"Year", "Code", "GTMI"} - set(g.columns)
    if missing:
        raise SystemExit(f"egdi_panel_v2: {path} lacks the column(s) {sorted(missing)}.")
    g = g[pd.to_numeric(g["GTMI"], errors="coerce").notna()]
    g = g.assign(GTMI=g["GTMI"].astype(float))
    for year in (last_fit, last_fit - 1):
        ed = g[g["Year"] == year]
        if len(ed):
            if ed["Code"].duplicated().any():
                dup = sorted(ed.loc[ed["Code"].duplicated(), "Code"])[:3]
                raise SystemExit(f"egdi_panel_v2: duplicate economies in the {year} edition of {path}, "
                                 f"e.g. {dup}; keep one row per Code and Year.")
            return ed.set_index("Code")["GTMI"], f"GTMI {year} edition ({path.name}, {len(ed)} economies)"
    years = sorted(int(y) for y in g["Year"].unique())
    return None, f"no GTMI edition of {last_fit} or {last_fit - 1} in {path.name} (editions {years})"


def collocation(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> dict:
    """Triple collocation of three measurements of one quantity, and the best linear predictor of
    it from the second and third.

    Model: ``x = a_x + b_x c + e_x``, ``y = c + e_y`` (``y`` sets the scale of ``c``),
    ``z = a_z + b_z c + e_z``, with errors independent of each other and of ``c``. Then
    ``var(c) = cov(x, y) cov(y, z) / cov(x, z)``, ``b_x = cov(x, z) / cov(y, z)``,
    ``b_z = cov(x, z) / cov(x, y)`` and each error variance is the measurement's variance minus
    ``b^2 var(c)`` (Stoffelen 1998; McColl et al. 2014). ``beta`` are the weights of the best
    linear predictor ``c_hat = mean(y) + beta . ([y, z] - mean([y, z]))``.

    Returns a dict with ``var_c``, ``scale`` (b_x, 1, b_z), ``error_var`` (x, y, z), ``beta``
    (y, z), ``n`` and ``valid`` (False, with ``reason``, when a covariance is not positive or an
    error variance comes out negative: the assumptions then fail and no estimate is returned).
    """
    m = np.column_stack([x, y, z]).astype(float)
    m = m[np.isfinite(m).all(axis=1)]
    out = {"n": len(m), "valid": False}
    if len(m) < 10:
        out["reason"] = f"{len(m)} countries have all three measurements (at least 10 are needed)"
        return out
    s = np.cov(m.T)
    if min(s[0, 1], s[0, 2], s[1, 2]) <= 0:
        out["reason"] = "a covariance between the measurements is not positive"
        return out
    var_c = s[0, 1] * s[1, 2] / s[0, 2]
    scale = np.array([s[0, 2] / s[1, 2], 1.0, s[0, 2] / s[0, 1]])
    err = np.diag(s) - scale**2 * var_c
    out.update(var_c=float(var_c), scale=scale, error_var=err, mean=m.mean(axis=0))
    if (err <= 0).any():
        out["reason"] = "an error variance comes out negative (the measurements' errors are not independent)"
        return out
    out["beta"] = np.linalg.solve(s[1:, 1:], scale[1:] * var_c)
    out["valid"] = True
    return out
