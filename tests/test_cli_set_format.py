"""--set, --format and --plotly-js in the commands whose runs happen inside an analysis
(optimize, discover, calibrate, stepcheck), with the same meaning as in run/report."""

from __future__ import annotations

import json
import shutil
import textwrap
import tomllib
from pathlib import Path

import pandas as pd
import pytest

import pvsd
from pvsd.cli import build_parser, main
from pvsd.scenarios import load_scenarios

MODELS = Path(__file__).parent / "models"
QUAD = MODELS / "policy_quadratic.mdl"
BOX = MODELS / "policy_box.mdl"
BASS = MODELS / "bass.mdl"
SALES = [840, 1470, 2110, 4000, 7590, 10950, 10530, 9470, 7790, 5890]

POLICY = """
[settings]
population = 20
generations = 40
seed = 2
[levers.X]
lower = 0
upper = 1
[levers.Y]
lower = 0
upper = 1
[[objectives]]
variable = "Score"
stat = "final"
sense = "max"
"""

DISCOVERY = """
[parameters.A]
lower = 0
upper = 1
[parameters.B]
lower = 0
upper = 1
[settings]
n = 400
seed = 4
[case]
variable = "Outcome"
stat = "final"
above = 0.5
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _help(command: str) -> str:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sub.choices[command].format_help()


def _has_chromium() -> bool:
    import os

    return bool(shutil.which("chromium") or shutil.which("google-chrome") or os.environ.get("BROWSER_PATH"))


@pytest.mark.parametrize("command", ["optimize", "discover", "calibrate", "stepcheck"])
def test_set_in_every_command_that_runs_a_model(command):
    h = _help(command)
    assert "--set NAME=VALUE" in h
    if command != "stepcheck":
        assert "--format FMT" in h and "--plotly-js MODE" in h
        for mode in ("shared", "folder", "inline", "cdn"):
            assert mode in h


def test_optimize_set_moves_the_optimum(tmp_path, capsys):
    # max 1 - (X - Target X)^2 - (Y - Target Y)^2: with --set Target X=0.6 the best X is 0.6, not 0.3
    spec = _write(tmp_path / "p.toml", POLICY)
    out = tmp_path / "opt"
    fmt = ["--format", "svg"] if _has_chromium() else []
    assert main(["optimize", str(QUAD), str(spec), "--set", "Target X=0.6", "-q", "-o", str(out),
                 "--plotly-js", "folder", *fmt]) == 0
    chosen = pd.read_csv(out / "chosen.csv", comment="#")
    assert chosen["X"].iloc[0] == pytest.approx(0.6, abs=0.02)
    assert chosen["Y"].iloc[0] == pytest.approx(0.7, abs=0.02)
    assert chosen["Score (final)"].iloc[0] == pytest.approx(1.0, abs=1e-3)
    # the written scenarios carry --set, so running them later reproduces the optimum
    m = pvsd.load(QUAD)
    scen = load_scenarios(out / "scenarios.toml", m)
    score = m.run(scenario=scen["optimum"], outputs=["Score"]).to_dataframe()["Score"].iloc[-1]
    assert score == pytest.approx(chosen["Score (final)"].iloc[0], rel=1e-9)
    assert "Target X" in (out / "scenarios.toml").read_text()
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["set"] == {"Target X": 0.6} and prov["parameters"]["Target X"] == 0.6
    if fmt:  # a static copy of every figure the report draws
        html = (out / "report.html").read_text()
        svgs = sorted(p.stem for p in (out / "figures").glob("*.svg"))
        assert svgs
        for name in svgs:
            assert f"{name}\"" in html or f"-{name}\"" in html, name
            assert (out / "figures" / f"{name}.svg").read_text().lstrip().startswith("<svg")
        assert len(svgs) == html.count("Plotly.newPlot")
    # --plotly-js folder: the report folder carries its own copy
    assert (out / "plotly.min.js").is_file() and '<script src="plotly.min.js"' in (out / "report.html").read_text()


def test_optimize_set_of_a_lever_is_refused(tmp_path, capsys):
    spec = _write(tmp_path / "p.toml", POLICY)
    out = tmp_path / "opt"
    assert main(["optimize", str(QUAD), str(spec), "--set", "x=0.2", "-q", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "'X'" in err and "lever" in err and "Traceback" not in err and err.count("pvsd: error") == 1
    assert not out.exists()
    assert main(["optimize", str(QUAD), str(spec), "--set", "Target Z=0.2", "-q", "-o", str(out)]) == 2
    assert "Target Z" in capsys.readouterr().err
    assert main(["optimize", str(QUAD), str(spec), "--plotly-js", "external", "-q", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "shared, folder, inline, cdn" in err and "Traceback" not in err
    assert main(["optimize", str(QUAD), str(spec), "--format", "gif", "-q", "-o", str(out)]) == 2
    assert "png, svg, pdf" in capsys.readouterr().err
    assert not out.exists()


def test_discover_set_reaches_every_member(tmp_path, capsys):
    # Outcome = 1 inside the planted box + Noise: --set Noise=0.25 shifts every member's outcome
    spec = _write(tmp_path / "d.toml", DISCOVERY)
    out = tmp_path / "disc"
    assert main(["discover", str(BOX), str(spec), "--set", "Noise=0.25", "-q", "-o", str(out)]) == 0
    ens = pd.read_csv(out / "ensemble.csv", comment="#")
    outcome = next(c for c in ens.columns if c.startswith("Outcome"))
    assert set(ens[outcome].round(12)) == {0.25, 1.25}
    scen = tomllib.loads((out / "scenarios.toml").read_text())
    assert all(t["set"]["Noise"] == 0.25 for t in scen["scenarios"].values())
    assert json.loads((out / "provenance.json").read_text())["set"] == {"Noise": 0.25}
    # an uncertainty of the spec cannot also be set
    assert main(["discover", str(BOX), str(spec), "--set", "A=0.4", "-q", "-o", str(tmp_path / "d2")]) == 2
    err = capsys.readouterr().err
    assert "'A'" in err and "uncertainty" in err and not (tmp_path / "d2").exists()


@pytest.mark.skipif(not _has_chromium(), reason="no Chromium installed (Debian package 'chromium')")
def test_discover_format_svg(tmp_path):
    spec = _write(tmp_path / "d.toml", DISCOVERY)
    out = tmp_path / "disc"
    assert main(["discover", str(BOX), str(spec), "-q", "-o", str(out), "--format", "svg"]) == 0
    svgs = sorted((out / "figures").glob("*.svg"))
    assert [p.stem for p in svgs] == ["prim-box-limits", "prim-tradeoff"]
    for p in svgs:
        text = p.read_text(encoding="utf-8").lstrip()
        assert text.startswith("<svg") and text.rstrip().endswith("</svg>")


def _bass_spec(tmp_path: Path, fit_market: bool = False) -> Path:
    (tmp_path / "sales.csv").write_text("year,value\n" + "".join(f"{t},{v}\n" for t, v in enumerate(SALES, 1)))
    market = '[parameters."Market Potential"]\nvalue = 60000\nlower = 10000\nupper = 200000\n' if fit_market else ""
    return _write(tmp_path / "bass.toml", f"""
        [calibration]
        title = "Bass"
        model = "{BASS.as_posix()}"
        seed = 7

        [series.sales]
        file = "sales.csv"
        variable = "Adoption Rate"
        likelihood = "sse"

        {market}
        [parameters."Innovation Coefficient"]
        value = 0.01
        lower = 0.0001
        upper = 0.1

        [parameters."Imitation Coefficient"]
        value = 0.5
        lower = 0.05
        upper = 2.0

        [search]
        starts = 2
        popsize = 8
        maxiter = 60
        global = false
        """)


def test_calibrate_set_holds_a_constant_and_format_writes_figures(tmp_path, capsys):
    spec = _bass_spec(tmp_path)
    fits = {}
    for m in (50_000, 80_000):
        out = tmp_path / f"m{m}"
        args = ["calibrate", str(spec), "-q", "--no-mcmc", "-o", str(out), "--set", f"Market Potential={m}"]
        if m == 50_000 and _has_chromium():
            args += ["--format", "svg"]
        assert main(args) == 0
        scen = tomllib.loads((out / "fitted_parameters.toml").read_text())["scenarios"]["calibrated"]["set"]
        assert scen["Market Potential"] == m  # held fixed in the fit, and in the fitted scenario
        fits[m] = scen
        prov = json.loads((out / "provenance.json").read_text())
        assert prov["set"] == {"Market Potential": m}
    # a smaller market needs stronger imitation to reach the same sales: the fit moved
    assert fits[50_000]["Imitation Coefficient"] != pytest.approx(fits[80_000]["Imitation Coefficient"], rel=0.02)
    if _has_chromium():
        svgs = list((tmp_path / "m50000" / "figures").glob("*.svg"))
        assert svgs and all(p.read_text(encoding="utf-8").lstrip().startswith("<svg") for p in svgs)
    # shared plotly.js: both calibration folders use the one copy beside them
    assert len(list((tmp_path / "pvsd-assets").glob("plotly-*.min.js"))) == 1
    assert not (tmp_path / "m80000" / "plotly.min.js").exists()


def test_calibrate_set_of_a_fitted_parameter_is_refused(tmp_path, capsys):
    spec = _bass_spec(tmp_path, fit_market=True)
    out = tmp_path / "out"
    assert main(["calibrate", str(spec), "-q", "-o", str(out), "--set", "Market Potential=5e4"]) == 2
    err = capsys.readouterr().err
    assert "Market Potential" in err and "fits" in err and "Traceback" not in err and not out.exists()
    assert main(["calibrate", str(spec), "-q", "-o", str(out), "--set", "Market=5e4"]) == 2
    assert "Unknown variable 'Market'" in capsys.readouterr().err
    assert main(["calibrate", str(spec), "-q", "-o", str(out), "--set", "Market Potential=lots"]) == 2
    assert "not a number" in capsys.readouterr().err
    assert not out.exists()


def test_panel_calibrate_set_shifts_the_drift(tmp_path):
    # Growth = ... + Drift + External Push: only their sum is identified, so with --set External
    # Push=0.01 the fitted Drift is the one fitted without it minus 0.01
    from test_panel import _spec, _truth, _write_panel

    _write_panel(tmp_path / "panel.csv", _truth(20, 11), 12)
    drift = {}
    for push in (None, 0.01):
        out = tmp_path / f"out-{push}"
        extra = ["--set", f"External Push={push}", "--plotly-js", "inline"] if push else []
        assert main(["calibrate", str(_spec(tmp_path)), "-q", "--no-mcmc", "-o", str(out), *extra]) == 0
        drift[push] = pd.read_csv(out / "shared.csv", comment="#").set_index("parameter").loc["Drift", "value"]
    assert drift[0.01] == pytest.approx(drift[None] - 0.01, abs=5e-4), drift
    assert (tmp_path / "out-0.01" / "report.html").stat().st_size > 1_000_000  # inline: self-contained
    assert (tmp_path / "out-None" / "report.html").stat().st_size < 1_000_000  # shared copy beside
    assert len(list((tmp_path / "pvsd-assets").glob("plotly-*.min.js"))) == 1
    assert main(["calibrate", str(_spec(tmp_path)), "-q", "-o", str(tmp_path / "x"),
                 "--set", "Drift=0.01"]) == 2


def test_stepcheck_set(capsys):
    assert main(["stepcheck", str(QUAD), "--set", "Target X=0.6", "-v", "Score"]) == 0
    assert main(["stepcheck", str(QUAD), "--set", "Nope=1"]) == 2
    assert "Nope" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["run"], ["report", "-o", "{out}"], ["scenarios"], ["stepcheck"]])
def test_set_outside_the_declared_range_is_named_as_set(command, tmp_path, capsys):
    # before, run/report said "in scenario 'set'" or "in params": where the value was folded in
    out = tmp_path / "rep"
    args = [a.format(out=out) for a in command]
    code = main([args[0], "public_value_chain_v2", *args[1:], "-q", "--set", "Digital Government Budget=3"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "'Digital Government Budget' = 3 in --set is outside the range the model declares for it, [0, 1]" in err
    assert "Traceback" not in err and not out.exists()


def test_optimize_summary_names_fixed_levers_once(tmp_path, capsys):
    # Y fixed by its bounds: the search chooses only X; the summary says so instead of listing
    # Y among the chosen values
    spec = _write(tmp_path / "p.toml", POLICY.replace("[levers.Y]\nlower = 0\nupper = 1",
                                                      "[levers.Y]\nlower = 0.4\nupper = 0.4"))
    assert main(["optimize", str(QUAD), str(spec), "-q", "-o", str(tmp_path / "opt")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    best = out[out.index("Best policy"):]
    import re

    assert re.search(r"\): X = 0\.(29|30?)\d*; fixed by their bounds: Y = 0\.4\.", best), best
    chosen = pd.read_csv(tmp_path / "opt" / "chosen.csv", comment="#")
    assert chosen["Y"].iloc[0] == 0.4 and chosen["X"].iloc[0] == pytest.approx(0.3, abs=0.02)
    # the analytic optimum with Y held at 0.4: 1 - (0.4 - 0.7)^2
    assert chosen["Score (final)"].iloc[0] == pytest.approx(0.91, abs=1e-3)
    page = (tmp_path / "opt" / "report.html").read_text()
    table = page[page.index("Chosen policies</h2>"):]
    table = table[: table.index("</table>")]
    assert '>X</th>' in table and '>Y</th>' not in table  # the same in every row: in the caption
    assert "Fixed by their bounds (not columns): Y = 0.4." in page
