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
