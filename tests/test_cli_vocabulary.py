"""One flag vocabulary across commands, --set wherever a model runs, reports without
scenarios, the scenario format in the help, and static figure export (--format)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from pvsd.cli import build_parser, main

RUNS_A_MODEL = ("run", "report", "scenarios", "ensemble", "sensitivity", "loops")


def _help(command: str) -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices[command].format_help()


@pytest.mark.parametrize("command", RUNS_A_MODEL)
def test_set_wherever_a_model_runs(command):
    assert "--set NAME=VALUE" in _help(command)


def test_same_name_same_meaning():
    helps = {c: _help(c) for c in ("run", "report", "scenarios", "ensemble", "sensitivity", "loops", "embed",
                                   "explore", "calibrate")}
    for c in ("run", "report", "scenarios", "loops", "sensitivity", "embed", "explore"):
        assert "--scenarios FILE" in helps[c], c
    for c, h in helps.items():
        assert "--scenario-file" not in h and "--no-progress" not in h and "--save-every" not in h, c
        if "-v NAMES" in h or "-v," in h:  # -v is always a LIST of outputs
            assert "--outputs NAMES" in h, c
    assert "--variable NAME" in helps["loops"] and "-v," not in helps["loops"] and "-v NAMES" not in helps["loops"]
    for c in ("report", "scenarios", "ensemble", "sensitivity", "calibrate", "optimize", "discover"):
        assert "-q, --quiet" in (helps.get(c) or _help(c)), c
    for c in ("run", "report", "scenarios", "ensemble", "sensitivity", "calibrate"):
        assert "--method NAME" in helps[c] and "integration method" in helps[c], c
    for c in ("report", "scenarios", "sensitivity", "loops", "run"):
        assert "--format FMT" in helps[c] and "--plotly-js" in helps[c], c
    assert "--analysis NAME" in helps["sensitivity"] and "--search" in helps["loops"]


def test_scenarios_help_describes_the_format():
    h = _help("scenarios")
    assert "%%" not in h
    for words in ("[scenarios.", "set = {", "levers", "step = ", "ramp = ", "table = ", "extends", "[compare]"):
        assert words in h, words


def test_report_without_scenarios_and_with_set(teacup_path, tmp_path, capsys):
    out = tmp_path / "base"
    assert main(["report", str(teacup_path), "-q", "-o", str(out), "--set", "Room Temperature=50"]) == 0
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "baseline run" in html and 'class="headline"' in html and "Teacup Temperature changes most" in html
    key = pd.read_csv(out / "key_results.csv")
    assert set(key["scenario"]) == {"baseline"}
    series = pd.read_csv(out / "series.csv")
    last = series[series["panel"] == "Teacup Temperature"]["y"].iloc[-1]
    assert 50 < last < 60  # cooled towards the --set room temperature, not the model's 70
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["model_sha256"]


def test_set_in_scenarios_ensemble_and_loops(teacup_path, tmp_path, capsys):
    scen = tmp_path / "s.toml"
    scen.write_text('[scenarios.slow]\nset = { "Characteristic Time" = 20 }\n')
    assert main(["scenarios", str(teacup_path), "--scenarios", str(scen), "-q", "-v", "Teacup Temperature",
                 "--set", "Room Temperature=50", "-o", str(tmp_path / "sc")]) == 0
    key = pd.read_csv(tmp_path / "sc" / "key_results.csv")
    assert key["value"].min() < 120  # both runs cool towards 50, the --set value
    samples = tmp_path / "samples.csv"
    samples.write_text("Characteristic Time\n5\n10\n")
    assert main(["ensemble", str(teacup_path), "--samples", str(samples), "--set", "Room Temperature=50",
                 "-v", "Teacup Temperature", "--saveper", "1", "-q", "-o", str(tmp_path / "e.nc")]) == 0
    import xarray as xr

    ds = xr.open_dataset(tmp_path / "e.nc")
    assert float(ds["Teacup Temperature"].isel(time=-1).min()) > 49
    assert list(ds["Room Temperature"].values) == [50, 50]
    ds.close()
    assert main(["ensemble", str(teacup_path), "--samples", str(samples), "--set", "Characteristic Time=3",
                 "-o", str(tmp_path / "f.nc")]) == 2
    assert "sampled or set" in capsys.readouterr().err


def test_set_names_a_bad_variable(teacup_path, tmp_path, capsys):
    assert main(["report", str(teacup_path), "--set", "Room Temprature=50", "-o", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "Room Temprature" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


@pytest.mark.browser
def test_format_writes_every_figure_offline(teacup_path, tmp_path):
    if not (shutil.which("chromium") or shutil.which("google-chrome")):
        pytest.skip("no Chromium installed (Debian package 'chromium'; .ci/run installs it)")
    out = tmp_path / "rep"
    scen = tmp_path / "s.toml"
    scen.write_text('[scenarios.cold]\nset = { "Room Temperature" = 40 }\n')
    assert main(["report", str(teacup_path), "--scenarios", str(scen), "-q", "--format", "png,svg",
                 "--format", "pdf", "-o", str(out)]) == 0
    magic = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<svg"}
    for name in ("trajectories", "difference"):
        for fmt, head in magic.items():
            data = (out / "figures" / f"{name}.{fmt}").read_bytes()
            assert data.lstrip()[:4] == head, (name, fmt)
    assert b"Teacup Temperature" in (out / "figures" / "trajectories.svg").read_bytes()
    # the Python API: plotly's own write_image works after a plain install (kaleido 1.x)
    import pvsd

    fig = pvsd.load(teacup_path).run().plot()
    fig.write_image(tmp_path / "api.png")
    assert (tmp_path / "api.png").read_bytes()[:4] == b"\x89PNG"
    assert pvsd.save_figure(fig, tmp_path / "api.pdf").read_bytes()[:4] == b"%PDF"


def test_format_without_a_browser_says_how_to_get_one(teacup_path, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "no-such-chromium"))
    out = tmp_path / "rep"
    assert main(["report", str(teacup_path), "-q", "--format", "png", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "needs Chrome or Chromium" in err and "apt-get install chromium" in err and "BROWSER_PATH" in err
    assert not out.exists()  # nothing half-written
    assert main(["report", str(teacup_path), "-q", "--format", "gif", "-o", str(out)]) == 2
    assert "png, svg, pdf" in capsys.readouterr().err


def test_every_command_takes_quiet():
    """A script can pass -q to any command (a no-op where nothing shows progress)."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = [c for c, p in sub.choices.items()
               if "-q" not in {s for a in p._actions for s in a.option_strings}]
    assert not missing, missing
