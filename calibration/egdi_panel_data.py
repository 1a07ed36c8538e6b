"""The UN EGDI panel as ``egdi_panel_v2.py`` reads it, and the yardsticks it is judged by.

Reading and checking the panel file (newest ``un_egdi_panel_*_long.csv`` in the indicators
folder), the fitted panel up to the last fitted wave with the declared input rules (HCI held,
TII diffusing logistically at the common rate), the three naive forecasts and the skill table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_INDICATORS = HERE.parent.parent / "shared" / "data" / "indicators"
EGDI_GLOB = "un_egdi_panel_*_long.csv"
MIN_WAVES = 6
#: TII is kept this far from 0 and 1 when its log-odds are taken (an index of exactly 0 or 1
#: would have an infinite log-odds; the model's logistic path keeps 0 and 1 fixed anyway).
TII_CLIP = 0.005


@dataclass
class PanelData:
    units: list[str]
    years: np.ndarray  # fitted wave years
    osi: np.ndarray  # (unit, year) OSI, NaN = not assessed
    hci: np.ndarray  # (unit, year) HCI
    tii: np.ndarray  # (unit, year) TII
    egdi: pd.DataFrame  # all waves, for the naive forecasts and the hold-out
    inputs: pd.DataFrame  # per unit model inputs


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), TII_CLIP, 1 - TII_CLIP)
    return np.log(p / (1 - p))


def _logit_slope(series: pd.Series) -> float:
    """Least-squares slope per year of ln(TII / (1 - TII)) (NaN with fewer than two values)."""
    if len(series) < 2:
        return float("nan")
    return float(np.polyfit(series.index.to_numpy(float), _logit(series.to_numpy(float)), 1)[0])


def egdi_file(indicators: Path) -> Path:
    """The EGDI panel file: ``indicators`` itself if it is a file, else the newest
    ``un_egdi_panel_*_long.csv`` in that folder (by the last year in its name)."""
    indicators = Path(indicators)
    if indicators.is_file():
        return indicators
    found = sorted(indicators.glob(EGDI_GLOB), key=lambda f: (f.stem.split("_")[-2], f.name))
    if not found:
        raise SystemExit(
            f"egdi_panel_v2: no EGDI panel file ({EGDI_GLOB}) in {indicators}; pass --indicators with "
            "the folder of ../shared/data/indicators or --egdi-file with the file itself."
        )
    return found[-1]


def read_egdi(indicators: Path) -> pd.DataFrame:
    """Assessed country-waves of the UN EGDI panel (EGDI > 0, not flagged "not assessed")."""
    path = egdi_file(indicators)
    d = pd.read_csv(path)
    missing = {"survey_year", "iso3", "egdi", "osi", "hci", "tii", "not_assessed_flag"} - set(d.columns)
    if missing:
        raise SystemExit(f"egdi_panel_v2: {path} lacks the column(s) {sorted(missing)}.")
    if d.duplicated(["iso3", "survey_year"]).any():
        dup = d[d.duplicated(["iso3", "survey_year"], keep=False)][["iso3", "survey_year"]].head(3)
        raise SystemExit(f"egdi_panel_v2: duplicate country-years in {path}, e.g. "
                         f"{dup.to_dict('records')}; keep one row per iso3 and survey_year.")
    return d[(d["not_assessed_flag"] == 0) & (d["egdi"] > 0)]


def default_waves(indicators: Path) -> tuple[int, int]:
    """(last fitted wave, target): the two newest waves in the data."""
    years = sorted(int(y) for y in read_egdi(indicators)["survey_year"].unique())
    if len(years) < MIN_WAVES + 1:
        raise SystemExit(f"egdi_panel_v2: {len(years)} waves in the data; at least {MIN_WAVES + 1} are needed.")
    return years[-2], years[-1]


def load_panel(indicators: Path, last_fit: int = 2020) -> PanelData:
    d = read_egdi(indicators)
    fitd = d[d["survey_year"] <= last_fit]
    counts = fitd.groupby("iso3").size()
    units = sorted(counts[counts >= MIN_WAVES].index)
    wide = {c: fitd.pivot(index="iso3", columns="survey_year", values=c).loc[units] for c in ("osi", "hci", "tii")}
    years = np.array(sorted(fitd["survey_year"].unique()), dtype=float)
    rates = {u: _logit_slope(wide["tii"].loc[u].dropna().iloc[-4:]) for u in units}
    common = float(np.nanmedian(list(rates.values())))
    rows = []
    for u in units:
        h = wide["hci"].loc[u].dropna()
        t = wide["tii"].loc[u].dropna()
        rows.append(
            {
                "iso3": u,
                "Human Capital Index Input": float(np.clip(h.iloc[-1], 0, 1)),
                "Telecom Reference Level": float(np.clip(t.iloc[-1], 0, 1)),
                "Telecom Diffusion Rate": float(np.clip(common, -1, 1)),
                "Input Reference Year": float(t.index[-1]),
            }
        )
    inputs = pd.DataFrame(rows).set_index("iso3")
    osi, hci, tii = (wide[c].reindex(columns=years).to_numpy(float) for c in ("osi", "hci", "tii"))
    egdi = d.pivot(index="iso3", columns="survey_year", values="egdi").loc[units]
    return PanelData(units, years, osi, hci, tii, egdi, inputs)


def naive_forecasts(egdi: pd.DataFrame, last_fit: int, target: int) -> pd.DataFrame:
    """Last value, linear trend over the last four observations, last value + mean drift."""
    out = {}
    for u, row in egdi.iterrows():
        s = row[[c for c in row.index if c <= last_fit]].dropna()
        last4 = s.iloc[-4:]
        x = last4.index.to_numpy(float)
        y = last4.to_numpy(float)
        h = target - x[-1]
        slope = np.polyfit(x, y, 1)
        drift = (y[-1] - y[0]) / (x[-1] - x[0])
        out[u] = {"last_value": y[-1], "linear_trend": np.polyval(slope, target), "drift": y[-1] + drift * h}
    return pd.DataFrame(out).T


def skill_table(pred: pd.Series, naive: pd.DataFrame, actual: pd.Series, last: pd.Series) -> pd.DataFrame:
    rows = {}
    for name, p in [("model", pred)] + [(c, naive[c]) for c in naive.columns]:
        ape = (p - actual).abs() / actual
        dp, da = p - last, actual - last
        corr = float(np.corrcoef(dp, da)[0, 1]) if np.std(dp) > 0 else float("nan")
        rows[name] = {
            "MAPE %": 100 * ape.mean(),
            "RMSE": float(np.sqrt(((p - actual) ** 2).mean())),
            "within 5 %": 100 * (ape < 0.05).mean(),
            "corr(change)": corr,
        }
    return pd.DataFrame(rows).T
