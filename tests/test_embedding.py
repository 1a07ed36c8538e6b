"""Figures and reports that share one page: unique element ids, each plot its own data.

Two fragments of the same kind (two runs' trajectories) and a report section go into
one page; Chromium draws it and each plot must hold the data of its own run (the
values are checked against the runs themselves). Every page pvsd writes is parsed
and no element id may repeat in it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from htmlcheck import element_ids, repeated_ids

import pvsd
from pvsd.document import Report, figure_fragment, plotly_js


@pytest.fixture(scope="module")
def two_runs(teacup):
    cold = teacup.run(params={"Room Temperature": 40}, outputs=["Teacup Temperature"])
    warm = teacup.run(params={"Room Temperature": 90}, outputs=["Teacup Temperature"])
    return cold, warm


def _page(tmp: Path, two_runs, teacup) -> Path:
    cold, warm = two_runs
    frag1 = figure_fragment(cold.plot(), "trajectories")
    frag2 = figure_fragment(warm.plot(), "trajectories")
    comp = pvsd.run_scenarios(teacup, [pvsd.Scenario("hot", constants={"Room Temperature": 150})],
                              outputs=["Teacup Temperature"])
    from pvsd.report.scenario_report import scenario_report

    rep = scenario_report(comp, teacup, model_sections=False)
    section = rep.section_html()
    # an analyst's page: plotly.js once, then two figures of the same kind, then a report section
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<script>{plotly_js()}</script></head><body>"
            f"<h1>My analysis</h1><h2>Figure 1</h2>{frag1}<h2>Figure 2</h2>{frag2}"
            f"<h2>From the pvsd report</h2>{section}</body></html>")
    path = tmp / "page.html"
    path.write_text(page, encoding="utf-8")
    return path


def test_fragments_of_one_kind_have_different_ids(two_runs):
    cold, _ = two_runs
    a = figure_fragment(cold.plot(), "trajectories")
    b = figure_fragment(cold.plot(), "trajectories")
    (ia,), (ib,) = element_ids(a), element_ids(b)
    assert ia != ib and ia.startswith("pvsd-trajectories-")
    rep1, rep2 = Report("a"), Report("b")
    for r in (rep1, rep2):
        r.section("Charts").add_figure(cold.plot(), "trajectories")
    assert not set(element_ids(rep1.section_html())) & set(element_ids(rep2.section_html()))


def test_page_has_no_repeated_id(tmp_path, two_runs, teacup):
    page = _page(tmp_path, two_runs, teacup).read_text()
    assert repeated_ids(page) == []


@pytest.mark.browser
def test_two_fragments_and_a_report_section_in_one_page(tmp_path, two_runs, teacup):
    from browser import browser_page

    path = _page(tmp_path, two_runs, teacup)
    cold, warm = two_runs
    with browser_page() as (page, seen):
        page.goto(path.as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 3",
                               timeout=20000)
        data = page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
            gd => ({id: gd.id, traces: gd._fullData.map(t => ({name: t.name, y: Array.from(t.y || [])})),
                    drawn: gd.querySelectorAll('.scatterlayer .trace, .barlayer .trace').length}))""")
        dup = page.evaluate("""() => { const c = {}; document.querySelectorAll('[id]').forEach(
            e => c[e.id] = (c[e.id] || 0) + 1); return Object.keys(c).filter(k => c[k] > 1); }""")
        page.screenshot(path=str(tmp_path / "page.png"), full_page=True)
    assert dup == []
    assert seen["page_errors"] == [] and seen["console_errors"] == []
    assert len(data) >= 3  # figure 1, figure 2, the report's trajectories (+ its difference chart)
    fig1, fig2 = data[0], data[1]
    assert fig1["id"] != fig2["id"]
    assert fig1["traces"][0]["y"] == pytest.approx(list(cold.to_dataframe()["Teacup Temperature"]))
    assert fig2["traces"][0]["y"] == pytest.approx(list(warm.to_dataframe()["Teacup Temperature"]))
    assert fig1["drawn"] >= 1 and fig2["drawn"] >= 1  # both drawn, neither blank
    hot = next(t for t in data[2]["traces"] if t["name"] == "hot")
    assert hot["y"][-1] > 100  # the report section shows its own (hot-room) run
    assert all(d["drawn"] >= 1 for d in data)


def test_every_page_pvsd_writes_has_unique_ids(tmp_path, teacup):
    """Report folder (page and fragments), run chart page, model card, live simulator."""
    from pvsd.cli import main

    mdl = str(teacup.path)
    scen = tmp_path / "s.toml"
    scen.write_text('[scenarios.cold]\nset = { "Room Temperature" = 40 }\n'
                    '[scenarios.warm]\nset = { "Room Temperature" = 90 }\n')
    assert main(["report", mdl, "--scenarios", str(scen), "--fragment", "--live", "-q",
                 "-o", str(tmp_path / "rep")]) == 0
    assert main(["run", mdl, "--plot", str(tmp_path / "run.html")]) == 0
    assert main(["doc", mdl, "-o", str(tmp_path / "card.html")]) == 0
    assert main(["embed", mdl, "-o", str(tmp_path / "live.html")]) == 0
    pages = [*tmp_path.glob("rep/*.html"), *tmp_path.glob("rep/figures/*.html"),
             tmp_path / "run.html", tmp_path / "card.html", tmp_path / "live.html"]
    assert len(pages) >= 6
    for p in pages:
        assert repeated_ids(p.read_text(encoding="utf-8")) == [], p.name
    prov = json.loads((tmp_path / "rep" / "provenance.json").read_text())
    assert prov["model_sha256"] == teacup.sha256


@pytest.mark.browser
def test_a4_print_keeps_every_column_and_diagram(tmp_path, teacup):
    """Print media at the A4 text width (186 mm = 703 CSS px): no table or diagram is cut."""
    from browser import browser_page

    from pvsd.report.scenario_report import scenario_report

    comp = pvsd.run_scenarios(teacup, [pvsd.Scenario("hot", constants={"Room Temperature": 150}),
                                       pvsd.Scenario("cold", constants={"Room Temperature": 40})])
    path = scenario_report(comp, teacup).write(tmp_path / "rep")
    with browser_page(width=703, height=1000) as (page, _):
        page.emulate_media(media="print")
        page.goto(path.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=15000)
        cut = page.evaluate("""() => {
            const W = document.documentElement.clientWidth, out = [];
            document.querySelectorAll('table, .sd-figure svg, .js-plotly-plot').forEach(e => {
                const r = e.getBoundingClientRect();
                if (r.right > W + 1 || e.scrollWidth > e.clientWidth + 1 && e.tagName === 'TABLE')
                    out.push(e.tagName + ' ' + (e.className.baseVal ?? e.className) + ' ' + Math.round(r.right));
            });
            const labels = [...document.querySelectorAll('td.key0')].map(e => e.getBoundingClientRect().width);
            return {W, out, tables: document.querySelectorAll('table').length,
                    svgs: document.querySelectorAll('.sd-figure svg').length,
                    narrowest_label: labels.length ? Math.min(...labels) : null};
        }""")
        pdf = page.pdf(format="A4")
    assert cut["out"] == [], cut
    assert cut["tables"] >= 4 and cut["svgs"] >= 1
    # the variable column of the key results keeps whole words (a break-anywhere rule had
    # squeezed it to "Te/ch/no/lo/gy" in print)
    assert cut["narrowest_label"] is not None and cut["narrowest_label"] >= 60, cut
    assert pdf[:4] == b"%PDF"


@pytest.mark.browser
def test_wide_table_keeps_both_row_labels_in_view(tmp_path):
    """A (variable, year) table wider than the page scrolls under both label columns."""
    import pandas as pd
    from browser import browser_page

    idx = pd.MultiIndex.from_product([["Public Trust", "Digital Capability"], [2030, 2040]],
                                     names=["variable", "year"])
    frame = pd.DataFrame({f"Scenario number {i}": [0.1 * i + 0.01 * k for k in range(4)]
                          for i in range(14)}, index=idx)
    rep = Report("wide")
    rep.section("Key results").add_table(frame)
    path = rep.write(tmp_path / "rep")
    with browser_page(width=700, height=700) as (page, _):
        page.goto(path.as_uri())
        pos = page.evaluate("""() => {
            const w = document.querySelector('.tablewrap');
            const box = e => e.getBoundingClientRect();
            const row = w.querySelector('tbody tr');
            const before = box(row.children[2]).left;
            w.scrollLeft = 600;
            return {scrolled: w.scrollLeft, wrap: box(w).left, k0: box(row.children[0]),
                    k1: box(row.children[1]), moved: before - box(row.children[2]).left};
        }""")
        # in print the table fits the page: the labels keep whole words (a break-anywhere rule
        # had squeezed them to "Te/ch/no/lo/gy")
        page.set_viewport_size({"width": 703, "height": 1000})
        page.emulate_media(media="print")
        label = page.evaluate("() => document.querySelector('td.key0').getBoundingClientRect().width")
    assert pos["scrolled"] > 300 and pos["moved"] > 300  # the data columns did move
    assert abs(pos["k0"]["left"] - pos["wrap"]) < 1.5  # the variable stays at the left edge
    assert abs(pos["k1"]["left"] - pos["k0"]["right"]) < 1.5  # and the year right after it
    assert label >= 40, label  # 17 px with the break-anywhere rule


def test_row_labels_may_break_before_their_subscripts():
    import pandas as pd

    from pvsd.document import table_html

    idx = pd.MultiIndex.from_tuples([("Engagement[Civil Society]", 2030)], names=["variable", "year"])
    page = table_html(pd.DataFrame({"Baseline": [0.5]}, index=idx))
    assert '<td class="text key0">Engagement<wbr>[Civil Society]</td>' in page



@pytest.mark.browser
def test_printing_redraws_charts_to_fit_the_page_and_back(tmp_path, teacup):
    """Printed from a wide window, charts kept the window's width and were cut at the page's edge
    (and a chart taller than a page lost its bottom). Before printing each is redrawn at the A4
    text width and at most a page tall; afterwards it gets its own size back."""
    import plotly.graph_objects as go
    from browser import browser_page

    rep = Report("print")
    rep.section("Charts")
    rep.add_figure(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])).update_layout(height=1500), "tall")
    rep.add_figure(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])), "wide")
    path = rep.write(tmp_path / "rep")
    with browser_page(width=1400, height=900) as (page, seen):
        page.goto(path.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=15000)
        size = """() => [...document.querySelectorAll('.js-plotly-plot > .plot-container > .svg-container')]
                       .map(s => [Math.round(s.getBoundingClientRect().width),
                                  Math.round(s.getBoundingClientRect().height)])"""
        before = page.evaluate(size)
        page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
        page.wait_for_timeout(300)
        printing = page.evaluate(size)
        page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
        page.wait_for_timeout(300)
        after = page.evaluate(size)
        assert page.pdf(format="A4")[:4] == b"%PDF"
        assert seen["page_errors"] == []
    assert len(before) == 2 and all(w > 900 for w, _ in before) and before[0][1] == 1500
    assert all(w <= 703 for w, _ in printing) and all(h <= 940 for _, h in printing), printing
    assert after == before
