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


def _shared_copies(parent):
    return sorted(p.name for p in (parent / "pvsd-assets").iterdir())


def test_report_folders_share_one_plotly_js(report_dir, teacup, tmp_path):
    """Report folders written into one parent share one plotly.js; each costs far under 1 MB."""
    from pvsd.document import shared_plotly_js_name

    _, comparison = report_dir
    rep = scenario_report(comparison, teacup)
    for name in ("a", "b", "c"):
        rep.write(tmp_path / name)
    assert _shared_copies(tmp_path) == [shared_plotly_js_name()]
    for name in ("b", "c"):  # every extra report: its own folder only
        assert sum(f.stat().st_size for f in (tmp_path / name).rglob("*")) < 1_000_000
    # the copy there is reused, never replaced; a copy that is not plotly.js is refused, loudly
    shared = tmp_path / "pvsd-assets" / shared_plotly_js_name()
    shared.write_text("not plotly")
    with pytest.raises(pvsd.OutputExistsError, match=r"not the plotly\.js"):
        rep.write(tmp_path / "d")
    assert not (tmp_path / "d").exists() and shared.read_text() == "not plotly"
    # the other modes
    rep.write(tmp_path / "own", plotly_js="folder")
    assert (tmp_path / "own" / "plotly.min.js").stat().st_size > 1_000_000
    rep.write(tmp_path / "inl", plotly_js="inline")
    assert not (tmp_path / "inl" / "plotly.min.js").exists()
    assert (tmp_path / "inl" / "report.html").stat().st_size > 1_000_000
    rep.write(tmp_path / "cdn", plotly_js="cdn")
    assert 'src="https://cdn.plot.ly/plotly-' in (tmp_path / "cdn" / "report.html").read_text()
    with pytest.raises(pvsd.PvsdError, match="shared, folder, inline, cdn"):
        rep.write(tmp_path / "bad", plotly_js="external")


@pytest.mark.browser
def test_two_report_folders_share_one_copy_in_chromium(teacup, tmp_path):
    """Two report folders and a chart page in one parent folder, one plotly.js: each page
    draws its own data; a report moved away from the copy says so instead of going blank."""
    import shutil

    from browser import browser_page

    from pvsd.cli import main

    scen = tmp_path / "s.toml"
    scen.write_text(SCEN)
    parent = tmp_path / "docs"
    assert main(["report", str(teacup.path), "--scenarios", str(scen), "-q", "-o", str(parent / "one")]) == 0
    assert main(["report", str(teacup.path), "--scenarios", str(scen), "-q", "-o", str(parent / "two"),
                 "--set", "Room Temperature=40"]) == 0
    assert main(["run", str(teacup.path), "--plot", str(parent / "run.html"), "--plotly-js", "shared"]) == 0
    assert _shared_copies(parent) == [next((parent / "pvsd-assets").iterdir()).name]  # one copy
    # --set over all: both scenarios' Room Temperature settings are replaced, and the headline says so
    assert "no scenario changes" in (parent / "two" / "report.html").read_text(encoding="utf-8")
    moved = tmp_path / "elsewhere"
    shutil.copytree(parent / "two", moved / "two")

    def draw(page, path, shot):
        page.goto(path.as_uri())
        page.wait_for_function("window.Plotly === undefined || document.querySelectorAll("
                               "'.js-plotly-plot .main-svg').length > 0", timeout=15000)
        page.wait_for_timeout(300)
        page.screenshot(path=str(tmp_path / shot), full_page=True)
        return page.evaluate("""() => ({
            plots: Array.from(document.querySelectorAll('.js-plotly-plot'))
                   .filter(d => d.querySelector('.main-svg')).length,
            last: Array.from(document.querySelectorAll('.js-plotly-plot')).map(d =>
                  d._fullData.map(t => [t.name, Number(t.y[t.y.length - 1])])),
            missing: Array.from(document.querySelectorAll('.pvsd-plotly-missing'))
                     .filter(b => b.offsetParent !== null).map(b => b.textContent),
            errors: window.pvsdErrors})""")

    with browser_page() as (page, seen):
        one = draw(page, parent / "one" / "report.html", "one.png")
        two = draw(page, parent / "two" / "report.html", "two.png")
        run = draw(page, parent / "run.html", "run.png")
        gone = draw(page, moved / "two" / "report.html", "moved.png")
        drawn = page.locator(".plotly-graph-div").first.inner_text()
    for res in (one, two, run):
        assert res["plots"] >= 1 and res["missing"] == [] and res["errors"] == []
    assert one["plots"] == two["plots"] == 2
    # the second report draws its own data: the baseline cools towards 40 F, not 70 F
    (name1, base_one), (name2, base_two) = one["last"][0][0], two["last"][0][0]
    assert name1 == name2 == "Baseline" and 70 < base_one < 90 and 40 < base_two < 60
    assert gone["plots"] == 0 and len(gone["missing"]) == 1 and gone["errors"] == []  # one clear note
    msg = gone["missing"][0]
    assert "../pvsd-assets/plotly-" in msg and "--plotly-js inline" in msg and "pvsd-assets folder" in msg
    assert "plotly.js is missing" in drawn
    assert all(u.startswith(("file://", "data:", "about:")) for u in seen["requests"]), seen["requests"]


def _many_regions_model(path):
    regions = [f"R{k:02d}" for k in range(20)]
    rates = ", ".join(f"{0.01 * (k + 1):g}" for k in range(20))
    path.write_text("{UTF-8}\nregion: " + ", ".join(regions) + " ~ ~ |\n"
                    f"growth[region] = {rates} ~ 1/Year ~ |\n"
                    "Stock[region] = INTEG(Stock[region] * growth[region], 1) ~ people ~ |\n"
                    "INITIAL TIME = 0 ~ Year ~ |\nFINAL TIME = 10 ~ Year ~ |\n"
                    "TIME STEP = 1 ~ Year ~ |\nSAVEPER = TIME STEP ~ Year ~ |\n")
    return regions


def test_report_of_a_long_dimension_shows_a_selection_and_keeps_every_element(tmp_path):
    """20 regions: the tables and charts show the 8 with the largest effect (here the two a
    scenario changes come first), the CSV files every element."""
    from pvsd.report.findings import MAX_SHOWN_ELEMENTS

    regions = _many_regions_model(tmp_path / "regions.mdl")
    model = pvsd.load(tmp_path / "regions.mdl")
    (tmp_path / "s.toml").write_text(
        '[scenarios.boost]\nset = { "growth[R00]" = 0.2, "growth[R01]" = 0.15 }\n')
    comparison = pvsd.run_scenarios(model, pvsd.load_scenarios(tmp_path / "s.toml", model))
    rep = scenario_report(comparison, model, model_sections=False)
    rep.write(tmp_path / "out")
    html = (tmp_path / "out" / "report.html").read_text().replace("<wbr>", "")  # line-break hints
    assert "Stock[R00] … Stock[R19] (20 elements of Stock)" in html
    assert f"Stock has 20 elements; the tables and charts show the {MAX_SHOWN_ELEMENTS}" in html
    key = pd.read_csv(tmp_path / "out" / "key_results.csv")
    assert set(key["variable"]) == {f"Stock[{r}]" for r in regions}  # every element kept
    shown = [r for r in regions if f"<td>Stock[{r}]</td>" in html or f">Stock[{r}]<" in html]
    assert len(shown) == MAX_SHOWN_ELEMENTS and {"R00", "R01"} <= set(shown)
    # the rest: the largest remaining effects are those of... none (0 %), so the largest stocks
    assert set(shown) - {"R00", "R01"} == {f"R{k:02d}" for k in range(19, 13, -1)}
