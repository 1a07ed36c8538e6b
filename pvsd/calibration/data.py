"""Tidy indicator data: one observation per line (year, value, optional country).

A data file is CSV with a header line. Lines starting with ``#`` are comments
(provenance notes). The year column is called ``year`` (or ``time``, ``t``,
``survey_year``), the value column ``value``, and an optional country column
``country`` (or ``iso3``, ``code``). Other columns are ignored. Missing years
are simply absent (never zero-filled); an empty or non-numeric value, or a
year given twice for the same country, is an error that names the file and line.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pvsd.errors import DataError

__all__ = ["YEAR_COLUMNS", "Observations", "read_series"]

YEAR_COLUMNS = ("year", "time", "t", "survey_year")
VALUE_COLUMNS = ("value",)
COUNTRY_COLUMNS = ("country", "iso3", "code", "country_code")


@dataclass(frozen=True)
class Observations:
    """One data series: times and values in file order, plus where they came from.

    Attributes
    ----------
    times, values
        Observation times (years) and observed values, sorted by time.
    lines
        Line number in the file of each observation (1 = header line).
    source
        The file read.
    country
        The country selected, if any.
    """

    times: np.ndarray
    values: np.ndarray
    lines: np.ndarray
    source: Path
    country: str | None = None

    def to_series(self) -> pd.Series:
        """The observations as a Series indexed by time."""
        return pd.Series(self.values, index=pd.Index(self.times, name="time"), name="value")

    def __len__(self) -> int:
        return int(self.times.size)


def _pick(header: list[str], wanted: str | None, candidates: tuple[str, ...], what: str,
          path: Path, required: bool = True) -> int | None:
    low = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted.strip().lower() in low:
            return low.index(wanted.strip().lower())
        raise DataError(
            f"{path}: has no column {wanted!r} for the {what}; its columns are "
            f"{', '.join(h.strip() for h in header)}. Fix the column name in the spec or the file."
        )
    for c in candidates:
        if c in low:
            return low.index(c)
    if required:
        raise DataError(
            f"{path}: no {what} column; name it one of {', '.join(candidates)} (columns found: "
            f"{', '.join(h.strip() for h in header)}), or give its name in the spec."
        )
    return None


def _number(text: str, path: Path, line: int, what: str) -> float:
    t = text.strip()
    if t == "" or t.lower() in ("na", "nan", "n/a", "null", ".."):
        raise DataError(
            f"{path}, line {line}: the {what} is missing ({text!r}). Delete the line: missing "
            "years are allowed and are simply left out, never filled."
        )
    try:
        v = float(t)
    except ValueError:
        raise DataError(f"{path}, line {line}: the {what} {text!r} is not a number.") from None
    if not math.isfinite(v):
        raise DataError(f"{path}, line {line}: the {what} {text!r} is not a finite number.")
    return v


def read_series(path: str | Path, country: str | None = None, year_column: str | None = None,
                value_column: str | None = None, country_column: str | None = None) -> Observations:
    """Read one indicator series from a tidy CSV file.

    Parameters
    ----------
    path
        The CSV file.
    country
        Keep only the rows of this country (matched case-insensitively against
        the country column). Required when the file holds several countries.
    year_column, value_column, country_column
        Column names, when they differ from the defaults (``year``, ``value``,
        ``country``/``iso3``/``code``).

    Returns
    -------
    Observations
        Sorted by time.

    Raises
    ------
    DataError
        Missing file or column, a missing/non-numeric value or year, a year
        given twice, several countries and none chosen, or no rows left.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"Data file {str(p)!r} does not exist; check the path in the spec "
                        "(relative paths are relative to the spec file).")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise DataError(f"Data file {str(p)!r} is not UTF-8 text.") from None
    rows: list[tuple[int, list[str]]] = []
    for lineno, row in enumerate(csv.reader(text.splitlines()), start=1):
        if not row or (row[0].lstrip().startswith("#")) or not any(c.strip() for c in row):
            continue
        rows.append((lineno, row))
    if not rows:
        raise DataError(f"Data file {str(p)!r} is empty; it needs a header line and data lines.")
    _head_line, header = rows[0]
    iy = _pick(header, year_column, YEAR_COLUMNS, "year", p)
    iv = _pick(header, value_column, VALUE_COLUMNS, "value", p)
    ic = _pick(header, country_column, COUNTRY_COLUMNS, "country", p,
               required=country_column is not None or country is not None)
    countries: set[str] = set()
    if ic is not None and country is None:
        found = {row[ic].strip() for _, row in rows[1:] if len(row) > ic}
        if len(found) > 1:
            raise DataError(
                f"{p}: holds {len(found)} countries ({', '.join(sorted(found)[:5])}"
                f"{'...' if len(found) > 5 else ''}); choose one with country = \"...\" in the spec."
            )
    seen: dict[float, int] = {}
    times, values, lines = [], [], []
    for lineno, row in rows[1:]:
        if len(row) < len(header):
            row = row + [""] * (len(header) - len(row))
        if ic is not None:
            cc = row[ic].strip()
            countries.add(cc)
            if country is not None and cc.lower() != country.strip().lower():
                continue
        t = _number(row[iy], p, lineno, "year")  # type: ignore[index]
        v = _number(row[iv], p, lineno, "value")  # type: ignore[index]
        if t in seen:
            raise DataError(
                f"{p}, line {lineno}: year {t:g} appears again (first on line {seen[t]})"
                f"{' for ' + country if country else ''}; keep one value per year."
            )
        seen[t] = lineno
        times.append(t)
        values.append(v)
        lines.append(lineno)
    if not times:
        which = f" for country {country!r}" if country else ""
        avail = f" (countries in the file: {', '.join(sorted(countries)[:8])})" if countries else ""
        raise DataError(f"{p}: no observations{which}{avail}.")
    order = np.argsort(times, kind="stable")
    return Observations(
        times=np.asarray(times, dtype=float)[order],
        values=np.asarray(values, dtype=float)[order],
        lines=np.asarray(lines, dtype=int)[order],
        source=p,
        country=country,
    )
