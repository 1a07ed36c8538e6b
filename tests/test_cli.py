"""The pvsd command line: outputs, exit codes and messages on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import xarray as xr

from pvsd.cli import main

SCEN = """
[scenarios.cold]
set = { "Room Temperature" = 50 }
"""


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvsd", *args], capture_output=True, text=True,
                          timeout=120)


def test_help_lists_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for cmd in ("report", "run", "scenarios", "info"):
        assert cmd in proc.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["run", "no_such_model.mdl"], "does not exist"),
        (["run", "{teacup}", "--set", "Room Temp=3"], "Did you mean 'Room Temperature'"),
        (["run", "{teacup}", "--set", "Room Temperature=warm"], "not a number"),
        (["run", "{teacup}", "--final-time", "-1"], "final_time"),
        (["scenarios", "{teacup}", "missing.toml"], "does not exist"),
        (["run", "{teacup}", "--bogus-flag"], "unrecognized arguments"),
    ],
)
def test_user_errors_exit_2_without_traceback(args, needle, teacup_path):
    proc = run_cli(*[a.format(teacup=teacup_path) for a in args])
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr.replace("\n  ", " ")
    assert "Traceback" not in proc.stderr


def test_run_writes_csv_and_netcdf(teacup_path, tmp_path, capsys):
    csv = tmp_path / "out.csv"
    assert main(["run", str(teacup_path), "--set", "Room Temperature=50", "-v",
                 "Teacup Temperature", "--saveper", "1", "-o", str(csv)]) == 0
    long = pd.read_csv(csv)
    assert list(long.columns) == ["time", "variable", "units", "value"] and len(long) == 31
    assert set(long["variable"]) == {"Teacup Temperature"} and long["value"].iloc[-1] < 60  # cools towards 50
    assert '"model_sha256"' in (tmp_path / "out.provenance.json").read_text()
    assert main(["run", str(teacup_path), "-o", str(csv)]) == 2  # no silent overwrite
    assert "exists already" in " ".join(capsys.readouterr().err.split())  # wrapped at 100 columns
    nc = tmp_path / "out.nc"
    assert main(["run", str(teacup_path), "-o", str(nc), "--saveper", "1"]) == 0
    ds = xr.open_dataset(nc)
    assert ds.attrs["pysd_version"] and ds["Teacup Temperature"].shape == (31,)
    ds.close()


def test_scenarios_command_prints_table_and_writes_report(teacup_path, tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(SCEN)
    out = tmp_path / "rep"
    assert main(["scenarios", str(teacup_path), str(f), "-v", "Teacup Temperature",
                 "--years", "30", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cold" in text and "%" in text
    assert (out / "report.html").exists() and (out / "series.csv").exists()


def test_info(teacup_path, capsys):
    assert main(["info", str(teacup_path), "--kind", "stock", "--csv"]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].startswith("name,kind,units")
    assert "Teacup Temperature,stock" in table


def test_main_job_report_from_any_directory(tmp_path):
    """`pvsd report` with no arguments finds the bundled model and scenarios (package data)."""
    proc = subprocess.run([sys.executable, "-m", "pvsd", "report"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "pvsd-report-public_value_chain_v2"  # the reference model is v2
    assert str(out / "report.html") in proc.stdout
    html = (out / "report.html").read_text()
    assert "Technology + reform" in html and "Bigger budget, balanced mix" in html
    key = pd.read_csv(out / "key_results.csv", comment="#")
    assert set(key["scenario"]) >= {"baseline", "technology_alone", "technology_and_reform", "balanced_mix"}
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["model_file"].endswith("public_value_chain_v2.mdl") and len(prov["model_sha256"]) == 64
    # a second run never overwrites: it picks a new folder name
    again = subprocess.run([sys.executable, "-m", "pvsd", "report"], capture_output=True, text=True,
                           cwd=tmp_path, timeout=300)
    assert again.returncode == 0 and (tmp_path / "pvsd-report-public_value_chain_v2-2" / "report.html").exists()
    refused = subprocess.run([sys.executable, "-m", "pvsd", "report", "-o", str(out)], capture_output=True,
                             text=True, cwd=tmp_path, timeout=300)
    assert refused.returncode == 2 and "--force" in refused.stderr


def test_run_prints_every_shown_time_of_a_model_at_equilibrium(tmp_path, capsys):
    """Equal rows (a stock that never moves) are still different times: all are printed."""
    path = tmp_path / "still.mdl"
    path.write_text("{UTF-8}\nS = INTEG(0, 1) ~ u ~ |\nC = 3 ~ u ~ |\nINITIAL TIME = 0 ~ Year ~ |\n"
                    "FINAL TIME = 10 ~ Year ~ |\nTIME STEP = 1 ~ Year ~ |\nSAVEPER = TIME STEP ~ Year ~ |\n")
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(ln for ln in out if ln.startswith("time"))
    assert header.split()[1:] == [f"{t:.1f}" for t in range(11)]
    assert next(ln for ln in out if ln.startswith("S ")).split()[1:] == ["1"] * 11
