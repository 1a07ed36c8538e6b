"""Derive the indicator files shipped in calibration/data/ from the shared indicator files.

Run from the repository root with the shared data next to it:

    python calibration/data/derive_us.py ../shared/data/indicators

Values are copied unchanged (no rescaling: the spec maps them onto the model's
scale). The US series change only their layout, to ``year,value,country``; the EGDI panel
(``un_egdi_panel.csv``, read by the panel specs) is the shared file itself with provenance
lines on top. Each is taken from the newest release in the folder, so a later EGDI wave
reaches every calibration by running this script again.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent


def years(f: Path) -> list[int]:
    """The years in a shared file's name (``..._1958_2021_...`` -> [1958, 2021])."""
    return [int(t) for t in f.stem.split("_") if t.isdigit()]


def newest(src: Path, pattern: str) -> Path:
    """The file matching ``pattern`` in ``src`` that reaches the latest year (a later release
    of a series, e.g. ``un_egdi_panel_2003_2024_long.csv``, replaces the one shipped today)."""
    found = sorted(src.glob(pattern), key=lambda f: (years(f)[-1:], f.name))
    if not found:
        raise SystemExit(f"derive_us: no file matching {pattern} in {src}; pass the folder of "
                         "../shared/data/indicators.")
    return found[-1]


def write(name: str, header: list[str], rows: list[tuple[str, str, str]]) -> None:
    with open(OUT / name, "w", newline="", encoding="utf-8") as fh:
        for line in header:
            fh.write(f"# {line}\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["year", "value", "country"])
        w.writerows(rows)


def write_panel(egdi: Path, body: bytes, rows: list[dict[str, str]]) -> None:
    """``un_egdi_panel.csv``: the shared EGDI panel unchanged, provenance lines prepended."""
    waves = sorted({int(r["survey_year"]) for r in rows})
    countries = len({r["iso3"] for r in rows})
    header = [
        "UN DESA, E-Government Survey: E-Government Development Index (EGDI, 0-1) and its components, "
        f"{countries} countries, waves {waves[0]}-{waves[-1]}.",
        "Copied unchanged (these # lines added) from the project's shared indicator collection, file "
        f"{egdi.name} (SHA-256 {hashlib.sha256(body).hexdigest()}),",
        "stacked there from sevenChrisK/text-mining-week1 data/EGOV_DATA_YYYY.csv @ c95223650d39 "
        "(UN DESA Data Center exports); see calibration/data/README.md.",
        "egdi = 0 with not_assessed_flag or no online presence means 'not assessed' (the spec declares "
        "missing = [0]).",
    ]
    with open(OUT / "un_egdi_panel.csv", "wb") as fh:
        fh.write("".join(f"# {line}\n" for line in header).encode("utf-8"))
        fh.write(body)


#: The US series taken from the EGDI panel: (file, column, what it is).
US_EGDI_SERIES = [
    ("us_un_egdi.csv", "egdi", "E-Government Development Index (EGDI, 0-1)"),
    ("us_un_osi.csv", "osi", "Online Service Index (OSI, 0-1; best performer of each wave = 1)"),
]


def main(src: Path) -> None:
    egdi = newest(src, "un_egdi_panel_*_long.csv")
    body = egdi.read_bytes()  # read once: the panel copy and the US series come from the same bytes
    panel = list(csv.DictReader(body.decode("utf-8").splitlines()))
    write_panel(egdi, body, panel)
    for name, column, what in US_EGDI_SERIES:
        write(name, [
            f"UN DESA E-Government Survey: {what}, United States.",
            f"Copied from the shared file {egdi.name} (column {column}, iso3 = USA);",
            "origin sevenChrisK/text-mining-week1 data/EGOV_DATA_YYYY.csv @ c95223650d39 (UN DESA exports).",
            "Survey years only. Methodology breaks in 2008, 2014 and 2020.",
        ], [(r["survey_year"], r[column], "USA") for r in panel if r["iso3"] == "USA"])
    with open(wgi := newest(src, "wb_wgi_government_effectiveness_*_long.csv"), encoding="utf-8") as fh:
        rows = [(r["year"], r["estimate"], "USA") for r in csv.DictReader(fh)
                if r["code"] == "USA" and r["estimate"].strip()]
    write("us_wgi_government_effectiveness.csv", [
        # the WGI update of year Y carries data up to Y - 1
        f"World Bank Worldwide Governance Indicators ({years(wgi)[-1] + 1} update), Government Effectiveness estimate",
        "(about -2.5..2.5), United States; CC BY 4.0. Copied from the shared file",
        f"{wgi.name} (column estimate, code = USA);",
        "origin patakota95/Dissertation wgidataset.xlsx @ 88d1181ed8f6, rows with indicator ge.",
        "No values for 1997, 1999, 2001 (not published).",
    ], rows)
    with open(pew := newest(src, "pew_us_trust_federal_gov_*_annual_mean_of_moving_avg.csv"), encoding="utf-8") as fh:
        rows = [(r["Year"], r["public_trust_government"], "USA") for r in csv.DictReader(fh)]
    write("us_pew_trust.csv", [
        f"Pew Research Center, Public Trust in Government: {years(pew)[0]}-{years(pew)[-1]}: "
        "% of US adults who trust the federal",
        "government to do what is right 'just about always' or 'most of the time' (annual mean of Pew's",
        "moving average of ANES, Gallup, ABC/WaPo, CBS/NYT, CNN and Pew polls). Copied from the shared file",
        f"{pew.name}; origin owid/owid-datasets",
        "datasets/US - Public Trust in Government - Pew Research Center/ (commit f2dd7014fa8b or 08b39d1efd8e).",
        "No values for 2016 and 2018 in the source.",
    ], rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/indicators"))
