"""Long-format panel data (unit, year, value): reading with file/line-precise errors."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pvsd.calibration.data import COUNTRY_COLUMNS, YEAR_COLUMNS, _pick
from pvsd.errors import DataError

__all__ = ["read_long"]


def read_long(path: Path, unit_column: str, year_column: str | None = None,
              value_column: str | None = None, missing: Sequence[Any] = (),
              what: str = "series") -> tuple[pd.DataFrame, int]:
    """Read a long-format file into ``unit, year, value, line`` rows.

    Values listed in ``missing`` (numbers, or ``""`` for blank cells) mean "not
    assessed": those rows are dropped (and counted). Any other blank or
    non-numeric value, and a (unit, year) pair given twice, is an error naming
    the file and lines.

    Returns
    -------
    (frame, n_missing)
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"Data file {str(p)!r} ({what}) does not exist; check the path in the spec "
                        "(relative paths are relative to the spec file).")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"Data file {str(p)!r} is not UTF-8 text.") from None
    rows = [(i, r) for i, r in enumerate(csv.reader(text.splitlines()), start=1)
            if r and not r[0].lstrip().startswith("#") and any(c.strip() for c in r)]
    if len(rows) < 2:
        raise DataError(f"Data file {str(p)!r} has no data lines.")
    header = rows[0][1]
    iu = _pick(header, unit_column, COUNTRY_COLUMNS, "unit", p)
    iy = _pick(header, year_column, YEAR_COLUMNS, "year", p)
    iv = _pick(header, value_column, ("value",), "value", p)
    blank_missing = "" in missing
    num_missing = [float(m) for m in missing if m != ""]
    units, years, values, lines = [], [], [], []
    n_missing = 0
    for lineno, row in rows[1:]:
        row = row + [""] * (len(header) - len(row))
        unit = row[iu].strip()  # type: ignore[index]
        ty, tv = row[iy].strip(), row[iv].strip()  # type: ignore[index]
        if not unit:
            raise DataError(f"{p}, line {lineno}: the unit ({header[iu]}) is empty.")  # type: ignore[index]
        try:
            year = float(ty)
        except ValueError:
            raise DataError(f"{p}, line {lineno}: the year {ty!r} is not a number.") from None
        if tv == "" or tv.lower() in ("na", "nan", "n/a", "null", ".."):
            if blank_missing:
                n_missing += 1
                continue
            raise DataError(
                f"{p}, line {lineno}: the value for {unit} {year:g} is blank ({tv!r}). If blanks "
                f"mean \"not assessed\", declare missing = [\"\"] in the spec's {what} table; "
                "otherwise fix the file."
            )
        try:
            v = float(tv)
        except ValueError:
            raise DataError(f"{p}, line {lineno}: the value {tv!r} is not a number.") from None
        if not math.isfinite(v):
            raise DataError(f"{p}, line {lineno}: the value {tv!r} is not finite.")
        if any(v == m for m in num_missing):
            n_missing += 1
            continue
        units.append(unit)
        years.append(year)
        values.append(v)
        lines.append(lineno)
    df = pd.DataFrame({"unit": units, "year": years, "value": values, "line": lines})
    dup = df.duplicated(["unit", "year"], keep=False)
    if dup.any():
        d = df[dup].sort_values(["unit", "year", "line"])
        first = d.iloc[0]
        same = d[(d["unit"] == first["unit"]) & (d["year"] == first["year"])]["line"].tolist()
        n_pairs = int(d.groupby(["unit", "year"]).ngroups)
        raise DataError(
            f"{p}: unit {first['unit']} year {first['year']:g} appears on lines "
            f"{', '.join(str(x) for x in same)}; {n_pairs} (unit, year) pair(s) are duplicated in "
            "all. Keep one value per unit and year."
        )
    return df.sort_values(["unit", "year"], kind="stable").reset_index(drop=True), n_missing


def extend_input(years: np.ndarray, values: np.ndarray, beyond: str, window: int, t_end: float,
                 lower: float | None = None, upper: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Input points over the run: the data, then held or extended by a linear trend to ``t_end``.

    A trend with ``lower``/``upper`` stops where it reaches the bound and stays there (an index
    on [0, 1] never trends past 1)."""
    x, y = np.asarray(years, float), np.asarray(values, float)
    if beyond == "trend" and x.size >= 2 and t_end > x[-1]:
        k = min(window, x.size)
        slope = np.polyfit(x[-k:], y[-k:], 1)[0]
        y_end = y[-1] + slope * (t_end - x[-1])
        bound = upper if upper is not None and y_end > upper else (
            lower if lower is not None and y_end < lower else None)
        if bound is not None and (bound - y[-1]) * slope > 0:
            t_hit = x[-1] + (bound - y[-1]) / slope
            return np.append(x, [t_hit, t_end]), np.append(y, [bound, bound])
        if bound is not None:  # the last value is already at or past the bound: hold it there
            return np.append(x, t_end), np.append(y, bound)
        x = np.append(x, t_end)
        y = np.append(y, y_end)
    return x, y
