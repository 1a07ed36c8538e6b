"""``pvsd sensitivity``: report folder, CSVs with provenance, errors before any run."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pvsd.cli import main

MODELS = Path(__file__).parent / "models"

SPEC = """
[settings]
method = "sobol"
n = 256
seed = 11

[parameters.X1]
lower = 0
upper = 1
[parameters.X2]
lower = 0
upper = 2
[parameters.X3]
lower = -1
upper = 1

[[outcomes]]
variable = "Y"

[[outcomes]]
variable = "Accumulated Y"
stat = "trajectory"

[bands]
outputs = ["Accumulated Y"]
n = 100
"""


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    f = tmp_path / "spec.toml"
    f.write_text(SPEC, encoding="utf-8")
    return f


def test_cli_writes_report_and_csvs(tmp_path, spec, capsys):
    out = tmp_path / "study"
    code = main(["sensitivity", str(MODELS / "linear.mdl"), str(spec), "--analysis", "sobol", "--n", "256",
                 "-o", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "3 parameters, 2 outcome(s), n = 256 -> 1,280 runs, seed 11" in text
    assert "most influential parameter is X3" in text
    html = (out / "report.html").read_text(encoding="utf-8")
    for words in ("Which parameters matter", "Sensitivity over time", "Uncertainty bands", "Convergence",
                  "Provenance", "ranking", "over-time-1", "bands"):
        assert words in html
    assert html.count("Plotly.newPlot") >= 3
    from htmlcheck import repeated_ids

    assert repeated_ids(html) == []
    ind = pd.read_csv(out / "indices.csv")
    assert {"outcome", "time", "S1", "S1_conf", "ST", "ST_conf", "converged"} <= set(ind.columns)
    assert len(ind) == 3 + 3 * 11
    assert ind["S1"].dtype.kind == "f"  # numbers in numeric cells
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["model_sha256"] and prov["seed"] == 11
    runs = pd.read_csv(out / "outcomes.csv", index_col=0)
    assert len(runs) == 1280 and {"X1", "X2", "X3", "Y (final)"} <= set(runs.columns)
    bands = pd.read_csv(out / "bands.csv")
    assert {"p5", "p50", "p95", "baseline"} <= set(bands.columns)
    # never overwritten silently
    assert main(["sensitivity", str(MODELS / "linear.mdl"), str(spec), "-o", str(out), "--quiet"]) == 2
    assert "exists already" in " ".join(capsys.readouterr().err.split())  # wrapped at 100 columns


def test_cli_morris_and_no_bands(tmp_path, spec, capsys):
    out = tmp_path / "morris"
    assert main(["sensitivity", str(MODELS / "linear.mdl"), str(spec), "--analysis", "morris", "--n", "10",
                 "--no-bands", "-o", str(out), "--quiet"]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "morris-1" in html and "Uncertainty bands" not in html


@pytest.mark.parametrize(("args", "words"), [
    (["--analysis", "sobel"], "Unknown sensitivity method"),
    (["--n", "8"], "too small"),
])
def test_cli_errors_before_running(tmp_path, spec, capsys, args, words):
    out = tmp_path / "x"
    assert main(["sensitivity", str(MODELS / "linear.mdl"), str(spec), "-o", str(out), *args]) == 2
    err = " ".join(capsys.readouterr().err.split())  # wrapped at 100 columns, path-dependent breaks
    assert err.startswith("pvsd: error:") and words in err
    assert not out.exists()


@pytest.mark.browser
def test_v2_report_charts_do_not_overlap_in_a_700px_column(tmp_path):
    """Seen at 700 px: the right-hand bar panel's 30-character parameter names lay over the left
    panel's bars, the legend over the title, and an over-time legend scrolled its last names away."""
    from browser import browser_page

    spec = Path(__file__).resolve().parent.parent / "models" / "public_value_chain_v2_sensitivity.toml"
    out = tmp_path / "sens"
    assert main(["sensitivity", "public_value_chain_v2", str(spec), "-n", "64", "--no-bands", "-q",
                 "-o", str(out)]) == 0
    with browser_page(700, 900) as (page, seen):
        page.goto((out / "report.html").as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
        found = page.evaluate("""() => {
            const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1
                                  && b.top < a.bottom - 1;
            const out = [];
            document.querySelectorAll('.js-plotly-plot').forEach((gd, i) => {
                const areas = [...gd.querySelectorAll('.nsewdrag')].map(e => e.getBoundingClientRect());
                gd.querySelectorAll('.yaxislayer-above text').forEach(t => {
                    const r = t.getBoundingClientRect();
                    if (areas.some(a => hit(r, a))) out.push(`chart ${i}: label '${t.textContent}' over a plot`);
                });
                const title = gd.querySelector('.gtitle'), legend = gd.querySelector('.legend');
                if (title && legend && hit(title.getBoundingClientRect(), legend.getBoundingClientRect()))
                    out.push(`chart ${i}: legend over the title`);
                const bar = gd.querySelector('.legend .scrollbar');
                if (bar && bar.getBoundingClientRect().height > 0) out.push(`chart ${i}: legend scrolls`);
            });
            return {charts: document.querySelectorAll('.js-plotly-plot').length, out};
        }""")
        assert seen["page_errors"] == []
    assert found["charts"] >= 3 and found["out"] == [], found
