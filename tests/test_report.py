"""Self-contained HTML reports: content, CSVs, fragments, and that they draw in Chromium."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import pvsd
from pvsd.report.scenario_report import scenario_report

SCEN = """
[compare]
outputs = ["Teacup Temperature", "Heat Loss to Room"]
years = [10, 30]

[scenarios.cold]
title = "Cold room"
description = "The room is kept at 50 F."
set = { "Room Temperature" = 50 }

[scenarios.heating]
title = "Heating"
levers = { "Room Temperature" = { ramp = [10, 20], to = 90 } }
"""


@pytest.fixture(scope="module")
def report_dir(teacup, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rep")
    f = folder / "s.toml"
    f.write_text(SCEN)
    comparison = pvsd.run_scenarios(teacup, pvsd.load_scenarios(f, teacup))
    rep = scenario_report(comparison, teacup, scenario_file=str(f))
    rep.write(folder / "out", fragments=True)
    return folder / "out", comparison


def test_report_folder_contents(report_dir, teacup):
    out, comparison = report_dir
    html = (out / "report.html").read_text()
    assert html.count("Plotly.newPlot") == 2
    assert html.count("plotly.js v") <= 2  # the bundle's banner: embedded once
    assert "http://" not in html.split("<script", 1)[0]
    for section in ("What was run", "Key results", "Charts", "Parameters and scenarios", "Provenance"):
        assert section in html
    assert teacup.sha256 in html and "pysd_version" in html
    first = (out / "series.csv").read_text().splitlines()[0]
    assert first.startswith("figure,") and "units" in first  # tidy: the header is the first line
    series = pd.read_csv(out / "series.csv")
    traj = series[(series["figure"] == "trajectories") & (series["trace"] == "cold")
                  & (series["panel"] == "Teacup Temperature")]
    expected = comparison.runs["cold"]["Teacup Temperature"]
    assert list(traj["y"]) == pytest.approx(list(expected))
    key = pd.read_csv(out / "key_results.csv")
    assert key["value"].dtype.kind == "f" and set(key["units"]) == {"Degrees Fahrenheit", "Degrees Fahrenheit/Minute"}
    row = key[(key["scenario"] == "cold") & (key["variable"] == "Teacup Temperature") & (key["year"] == 30)]
    assert row["value"].iloc[0] == pytest.approx(expected.loc[30])
    from pvsd.document import shared_plotly_js_name

    shared = out.parent / "pvsd-assets" / shared_plotly_js_name()  # one copy for every report beside
    assert shared.stat().st_size > 1_000_000 and not (out / "plotly.min.js").exists()
    assert f'<script src="../pvsd-assets/{shared.name}"' in html and (out / "report.html").stat().st_size < 1_000_000
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["model_sha256"] == teacup.sha256 and "series.csv" in prov["files"]
    frag = (out / "figures" / "trajectories.html").read_text()
    assert frag.count("<html") == 0 and 'id="pvsd-trajectories-' in frag


def test_report_never_overwrites(report_dir, teacup):
    out, comparison = report_dir
    rep = scenario_report(comparison, teacup)
    before = (out / "report.html").read_bytes()
    with pytest.raises(pvsd.OutputExistsError):
        rep.write(out)
    assert (out / "report.html").read_bytes() == before
    rep.write(out, force=True)
    assert (out / "report.html").exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp leftovers


@pytest.mark.browser
def test_report_draws_in_chromium(report_dir):
    from browser import browser_page

    out, _ = report_dir
    url = (out / "report.html").as_uri()
    with browser_page() as (page, seen):
        page.goto(url)
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=15000)
        n_plots = page.locator(".js-plotly-plot").count()
        n_lines = page.locator(".js-plotly-plot .scatterlayer .trace").count()
        n_bars = page.locator(".js-plotly-plot .barlayer .trace").count()
        js_errors = page.evaluate("window.pvsdErrors")
        page.screenshot(path=str(out.parent / "report.png"), full_page=True)
    assert n_plots == 2
    assert n_lines == 6  # 3 runs x 2 panels
    assert n_bars == 2
    assert js_errors == [] and seen["page_errors"] == [] and seen["console_errors"] == []
    assert all(u.startswith(("file://", "data:", "about:")) for u in seen["requests"]), seen["requests"]
