"""A campaign of bad inputs: every one ends in a PvsdError (Python) or exit code 2 (CLI).

Issue 12's "Done when": model files, scenario, sensitivity and calibration specs,
data and sample CSVs, CLI flags, output paths and Python API types. Each case
names what must appear in the message (the thing at fault), so a vague or
misleading message fails too. No case may raise anything but a PvsdError, print
a traceback, or hang (pytest-timeout).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.cli import main
from pvsd.errors import PvsdError

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
GOAL = TESTS / "models" / "goal_seeking.mdl"
BASS = TESTS / "models" / "bass.mdl"

CONTROL = "INITIAL TIME = 0 ~ Year ~ |\nFINAL TIME = 10 ~ Year ~ |\nTIME STEP = 1 ~ Year ~ |\n" \
          "SAVEPER = TIME STEP ~ Year ~ |\n"


def mdl(body: str) -> str:
    return "{UTF-8}\n" + textwrap.dedent(body) + CONTROL


# ------------------------------------------------------------------ model files
# (id, file name, content, words the message must contain)
MODEL_FILES: list[tuple[str, str, str | bytes, tuple[str, ...]]] = [
    ("undefined-variable", "m.mdl", mdl("Gap = Goal - Level ~ u ~ |\nLevel = INTEG(Gap / Adjustmnt Time, 0) ~ u ~ |\n"
                                        "Goal = 1 ~ u ~ |\nAdjustment Time = 5 ~ Year ~ |\n"),
     ("Adjustmnt Time", "Level", "never defined", "Adjustment Time")),
    ("circular", "m.mdl", mdl("A = B + 1 ~ u ~ |\nB = A * 2 ~ u ~ |\n"), ("circular", "'A'", "'B'")),
    ("circular-three", "m.mdl", mdl("A = B ~ u ~ |\nB = C ~ u ~ |\nC = A + 1 ~ u ~ |\nS = INTEG(A, 0) ~ u ~ |\n"),
     ("circular",)),
    ("defined-twice", "m.mdl", mdl("A = 1 ~ u ~ |\nA = 2 ~ u ~ |\nS = INTEG(A, 0) ~ u ~ |\n"),
     ("'A'", "defined 2 times", "line")),
    ("integ-one-argument", "m.mdl", mdl("A = 1 ~ u ~ |\nS = INTEG(A) ~ u ~ |\n"), ("INTEG", "'S'", "two")),
    ("integ-three-arguments", "m.mdl", mdl("A = 1 ~ u ~ |\nS = INTEG(A, 0, 1) ~ u ~ |\n"), ("INTEG", "3 arguments")),
    ("integ-empty-initial", "m.mdl", mdl("A = 1 ~ u ~ |\nS = INTEG(A, ) ~ u ~ |\n"), ("INTEG",)),
    ("operator-typo", "m.mdl", mdl("A = 1 +* 2 ~ u ~ |\nS = INTEG(A, 0) ~ u ~ |\n"), ("line 2", "'A'")),
    ("unbalanced-parenthesis", "m.mdl", mdl("A = (1 + 2 ~ u ~ |\nS = INTEG(A, 0) ~ u ~ |\n"), ("m.mdl",)),
    ("bad-subscript-bracket", "m.mdl", mdl("Region : North, South ~ ~ |\nA[Region = 1 ~ u ~ |\n"), ("'A'",)),
    ("empty-file", "m.mdl", "", ("m.mdl",)),
    ("binary-junk", "m.mdl", bytes(range(256)) * 8, ("m.mdl",)),
    ("not-a-model-text", "m.mdl", "hello world, this is not a model\n", ("m.mdl",)),
    ("xmile-not-xml", "m.xmile", "<xmile><model><variables>", ("m.xmile",)),
    ("xmile-placeholder-equation", "m.xmile",
     '<xmile xmlns="http://docs.oasis-open.org/xmile/ns/XMILE/v1.0"><header/><sim_specs><start>0</start>'
     '<stop>10</stop><dt>1</dt></sim_specs><model><variables><aux name="Rate"><eqn>???</eqn></aux>'
     '</variables></model></xmile>', ("Rate", "???")),
    ("wrong-suffix", "m.txt", "A = 1 ~ u ~ |", (".txt",)),
    ("unknown-function", "m.mdl", mdl("A = FOOBARIZE(1) ~ u ~ |\nS = INTEG(A, 0) ~ u ~ |\n"), ("m.mdl",)),
    ("integ-of-nothing", "m.mdl", mdl("S = INTEG(, 0) ~ u ~ |\n"), ("INTEG",)),
    # pre-standard XMILE (variables straight under <model>): PySD would read an empty model
    ("xmile-legacy-layout", "m.stmx",
     '<?xml version="1.0"?>\n<xmile version="1.0" xmlns="http://www.systemdynamics.org/XMILE">'
     '<header/><sim_specs><start>0</start><stop>10</stop><dt>1</dt></sim_specs>\n<model>\n'
     '<stock name="S"><eqn>1</eqn><inflow>f</inflow></stock><flow name="f"><eqn>0.1</eqn></flow>'
     '</model></xmile>', ("m.stmx", "line 4", "<variables>", "every run would be empty")),
    # the data file the model reads is not in its folder: named with the model's line and
    # folder, not as a broken cache entry
    ("missing-external-data-file", "m.mdl",
     mdl("Rate := GET DIRECT CONSTANTS('rates.csv', ',', 'B2') ~ u ~ |\nS = INTEG(Rate, 0) ~ u ~ |\n"),
     ("'rates.csv'", "line 2", "Rate", "put the file next to it")),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "fname", "content", "words"), MODEL_FILES, ids=[c[0] for c in MODEL_FILES])
def test_bad_model_files(tmp_path: Path, name: str, fname: str, content: str | bytes, words: tuple[str, ...]) -> None:
    path = tmp_path / fname
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(PvsdError) as info:
        pvsd.load(path).run()
    msg = str(info.value)
    for w in words:
        assert w in msg, f"{w!r} not in: {msg}"
    assert "Traceback" not in msg and len(msg) < 2000


def test_missing_model_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(PvsdError, match="does not exist"):
        pvsd.load(tmp_path / "nope.mdl")
    with pytest.raises(PvsdError, match="is a folder"):
        pvsd.load(tmp_path)


# ------------------------------------------------------------------ Python API
@pytest.fixture(scope="module")
def goal() -> pvsd.Model:
    return pvsd.load(GOAL)


API: list[tuple[str, Callable[[pvsd.Model], Any], str]] = [
    ("load-int", lambda m: pvsd.load(5), "5"),
    ("load-none", lambda m: pvsd.load(None), "None"),
    ("load-list", lambda m: pvsd.load(["a.mdl"]), "a.mdl"),
    ("outputs-int", lambda m: m.run(outputs=5), "outputs"),
    ("outputs-unknown", lambda m: m.run(outputs=["Levle"]), "Levle"),
    ("outputs-list-of-int", lambda m: m.run(outputs=[1, 2]), "outputs"),
    ("params-string", lambda m: m.run(params="Goal=3"), "params"),
    ("params-list-of-pairs", lambda m: m.run(params=[("Goal", 3)]), "params"),
    ("params-unknown-name", lambda m: m.run(params={"Gaol": 3}), "Gaol"),
    ("params-nan", lambda m: m.run(params={"Goal": float("nan")}), "Goal"),
    ("params-inf", lambda m: m.run(params={"Goal": float("inf")}), "Goal"),
    ("params-text-value", lambda m: m.run(params={"Goal": "high"}), "Goal"),
    ("params-bool-value", lambda m: m.run(params={"Goal": True}), "Goal"),
    ("params-none-value", lambda m: m.run(params={"Goal": None}), "Goal"),
    ("params-stock", lambda m: m.run(params={"Level": 3}), "Level"),
    ("params-control", lambda m: m.run(params={"TIME STEP": 0.5}), "time_step"),
    ("params-array-in-run", lambda m: m.run(params={"Goal": np.array([1.0, 2.0])}), "Goal"),
    ("params-int-key", lambda m: m.run(params={5: 1.0}), "5"),
    ("final-before-initial", lambda m: m.run(final_time=-5), "final"),
    ("time-step-zero", lambda m: m.run(time_step=0), "time_step"),
    ("time-step-negative", lambda m: m.run(time_step=-1), "time_step"),
    ("time-step-text", lambda m: m.run(time_step="fast"), "time_step"),
    ("time-step-nan", lambda m: m.run(time_step=float("nan")), "time_step"),
    ("saveper-negative", lambda m: m.run(saveper=-1), "saveper"),
    ("final-time-text", lambda m: m.run(final_time="2040"), "final_time"),
    ("scenario-wrong-type", lambda m: m.run(scenario="technology_alone"), "scenario"),
    ("method-unknown", lambda m: m.run(method="rk45"), "rk45"),
    ("seed-negative", lambda m: m.run(seed=-1), "seed"),
    ("ensemble-string", lambda m: m.run_ensemble("Goal"), "samples"),
    ("ensemble-nan-samples", lambda m: m.run_ensemble(pd.DataFrame({"Goal": [1.0, np.nan]})), "Goal"),
    ("ensemble-unknown-column", lambda m: m.run_ensemble(pd.DataFrame({"Gaol": [1.0]})), "Gaol"),
    ("ensemble-empty", lambda m: m.run_ensemble(pd.DataFrame({"Goal": []})), "sample"),
    ("ensemble-text-column", lambda m: m.run_ensemble(pd.DataFrame({"Goal": ["a", "b"]})), "Goal"),
    ("calibrate-dict", lambda m: pvsd.calibrate({"model": "x"}), "spec"),
    ("calibrate-int", lambda m: pvsd.calibrate(5), "spec"),
    ("calibrate-missing", lambda m: pvsd.calibrate("nope.toml"), "nope.toml"),
    ("loops-int", lambda m: pvsd.loops(5), "model"),
    ("loops-unknown-model", lambda m: pvsd.loops("no_such_model"), "no_such_model"),
    ("sensitivity-int-spec", lambda m: pvsd.sensitivity(m, 5), "spec"),
    ("sensitivity-missing-spec", lambda m: pvsd.sensitivity(m, "nope.toml"), "nope.toml"),
    ("scenarios-missing", lambda m: pvsd.load_scenarios("nope.toml"), "nope.toml"),
    ("default-unknown", lambda m: m.default("Gaol"), "Gaol"),
    ("resolve-unknown", lambda m: m.resolve("Adjustmnet Time"), "Adjustment Time"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "call", "word"), API, ids=[c[0] for c in API])
def test_bad_api_calls(goal: pvsd.Model, name: str, call: Callable[[pvsd.Model], Any], word: str) -> None:
    with pytest.raises(PvsdError) as info:
        call(goal)
    assert word.lower() in str(info.value).lower(), str(info.value)


# ------------------------------------------------------------------ scenario files
SCENARIO_FILES: list[tuple[str, str, str]] = [
    ("not-toml", "[scenarios.a\nset = 1", "not valid TOML"),
    ("unknown-top-level", "[scenario.a]\nset = {}\n", "scenario"),
    ("no-scenarios", "[compare]\noutputs = []\n", "no scenarios"),
    ("baseline-reserved", "[scenarios.baseline]\n", "baseline"),
    ("compare-string", 'compare = "x"\n[scenarios.a]\n', "compare"),
    ("compare-list", "compare = [1, 2]\n[scenarios.a]\n", "compare"),
    ("compare-outputs-string", '[compare]\noutputs = "Level"\n[scenarios.a]\n', "outputs"),
    ("compare-years-strings", '[compare]\nyears = ["2030"]\n[scenarios.a]\n', "years"),
    ("compare-unknown-key", '[compare]\nyear = [2030]\n[scenarios.a]\n', "year"),
    ("compare-unknown-output", '[compare]\noutputs = ["Levle"]\n[scenarios.a]\n', "Levle"),
    ("extends-int", "[scenarios.a]\nextends = 5\n", "extends"),
    ("extends-nested-list", '[scenarios.a]\nextends = [["b"]]\n[scenarios.b]\n', "extends"),
    ("extends-unknown", '[scenarios.a]\nextends = "zzz"\n', "zzz"),
    ("extends-circle", '[scenarios.a]\nextends = "b"\n[scenarios.b]\nextends = "a"\n', "circle"),
    ("scenario-not-table", "[scenarios]\na = 5\n", "'a'"),
    ("scenario-unknown-key", "[scenarios.a]\nsett = {}\n", "sett"),
    ("set-not-table", "[scenarios.a]\nset = 5\n", "set"),
    ("set-text-value", '[scenarios.a]\nset = { "Goal" = "high" }\n', "Goal"),
    ("set-unknown-variable", '[scenarios.a]\nset = { "Gaol" = 1 }\n', "Gaol"),
    ("set-nan", '[scenarios.a]\nset = { "Goal" = nan }\n', "Goal"),
    ("lever-not-table", '[scenarios.a]\nlevers = { "Goal" = 5 }\n', "Goal"),
    ("lever-two-kinds", '[scenarios.a.levers]\n"Goal" = { step = 2, ramp = [1, 2], to = 1 }\n', "exactly one"),
    ("lever-step-without-to", '[scenarios.a.levers]\n"Goal" = { step = 2 }\n', "to"),
    ("lever-ramp-backwards", '[scenarios.a.levers]\n"Goal" = { ramp = [5, 2], to = 1 }\n', "ramp"),
    ("lever-ramp-one-year", '[scenarios.a.levers]\n"Goal" = { ramp = [5], to = 1 }\n', "ramp"),
    ("lever-table-unsorted", '[scenarios.a.levers]\n"Goal" = { table = [[5, 1], [2, 3]] }\n', "Goal"),
    ("lever-unknown-key", '[scenarios.a.levers]\n"Goal" = { step = 2, to = 1, by = 3 }\n', "by"),
    ("lever-on-stock", '[scenarios.a.levers]\n"Level" = { step = 2, to = 1 }\n', "Level"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("name", "text", "word"), SCENARIO_FILES, ids=[c[0] for c in SCENARIO_FILES])
def test_bad_scenario_files(goal: pvsd.Model, tmp_path: Path, name: str, text: str, word: str) -> None:
    f = tmp_path / "s.toml"
    f.write_text(text)
    with pytest.raises(PvsdError) as info:
        pvsd.load_scenarios(f, goal)
    assert word.lower() in str(info.value).lower(), str(info.value)


# ------------------------------------------------------------------ sensitivity specs
SENS_BASE = '[parameters."Goal"]\ndist = "uniform"\nlower = 50\nupper = 150\n'
SENS_SPECS: list[tuple[str, str, dict[str, Any], str]] = [
    ("bound-wrong-way", '[parameters."Goal"]\ndist = "uniform"\nlower = 150\nupper = 50\n', {}, "Goal"),
    ("unknown-distribution", '[parameters."Goal"]\ndist = "cauchyish"\nlower = 1\nupper = 2\n', {},
     "cauchyish"),
    ("unknown-parameter", '[parameters."Gaol"]\ndist = "uniform"\nlower = 1\nupper = 2\n', {}, "Gaol"),
    ("parameter-is-stock", '[parameters."Level"]\ndist = "uniform"\nlower = 1\nupper = 2\n', {}, "Level"),
    ("no-parameters", '[outcomes]\n', {}, "parameter"),
    ("missing-upper", '[parameters."Goal"]\ndist = "uniform"\nlower = 1\n', {}, "upper"),
    ("text-bound", '[parameters."Goal"]\ndist = "uniform"\nlower = "one"\nupper = 2\n', {}, "lower"),
    ("unknown-method", SENS_BASE, {"method": "sobolev"}, "sobolev"),
    ("negative-n", SENS_BASE, {"method": "sobol", "n": -4}, "n"),
    ("zero-n", SENS_BASE, {"method": "morris", "n": 0}, "n"),
    ("unknown-outcome", SENS_BASE, {"method": "sobol", "n": 8, "outcomes": ["Levle"]}, "Levle"),
    ("not-toml", "[parameters.Goal\n", {}, "TOML"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "text", "kwargs", "word"), SENS_SPECS, ids=[c[0] for c in SENS_SPECS])
def test_bad_sensitivity_specs(goal: pvsd.Model, tmp_path: Path, name: str, text: str, kwargs: dict,
                               word: str) -> None:
    f = tmp_path / "sens.toml"
    f.write_text(text)
    kwargs = {"method": "sobol", "n": 8, **kwargs}
    with pytest.raises(PvsdError) as info:
        pvsd.sensitivity(goal, f, **kwargs)
    assert word.lower() in str(info.value).lower(), str(info.value)


# ------------------------------------------------------------------ calibration specs and data
def _cal(tmp_path: Path, data: str = "year,value\n1,100\n2,250\n3,400\n", series: str = "",
         params: str = "", extra: str = "") -> Path:
    (tmp_path / "sales.csv").write_text(data)
    keys = {"file": '"sales.csv"', "variable": '"Adoption Rate"'}
    for line in series.splitlines():  # a case's own series keys replace the defaults
        k, _, v = line.partition("=")
        keys[k.strip()] = v.strip()
    body = "".join(f"{k} = {v}\n" for k, v in keys.items())
    text = f"""
[calibration]
model = "{BASS.as_posix()}"
{extra}
[series.sales]
{body}
"""
    text += params or """
[parameters."Market Potential"]
value = 60000
lower = 10000
upper = 200000
"""
    f = tmp_path / "cal.toml"
    f.write_text(text)
    return f


CAL_SPECS: list[tuple[str, dict[str, str], str]] = [
    ("bound-wrong-way", {"params": '[parameters."Market Potential"]\nvalue = 5\nlower = 10\nupper = 1\n'},
     "Market Potential"),
    ("value-outside-bounds", {"params": '[parameters."Market Potential"]\nvalue = 5\nlower = 10\nupper = 100\n'},
     "Market Potential"),
    ("unknown-parameter", {"params": '[parameters."Market Potentail"]\nvalue = 5\nlower = 1\nupper = 10\n'},
     "Market Potentail"),
    ("parameter-is-flow", {"params": '[parameters."Adoption Rate"]\nvalue = 5\nlower = 1\nupper = 10\n'},
     "Adoption Rate"),
    ("unknown-series-variable", {"series": 'variable = "Adoptoin Rate"\n'}, "Adoptoin"),
    ("missing-data-file", {"series": 'file = "nope.csv"\n'}, "nope.csv"),
    ("nan-in-data", {"data": "year,value\n1,100\n2,nan\n3,400\n"}, "NaN"),
    ("duplicate-years", {"data": "year,value\n1,100\n1,250\n3,400\n"}, "appears again"),
    ("text-year", {"data": "year,value\none,100\n2,250\n"}, "year"),
    ("no-value-column", {"data": "year,sales\n1,100\n2,250\n"}, "value"),
    ("empty-data", {"data": "year,value\n"}, "sales"),
    ("unknown-likelihood", {"series": 'likelihood = "cauchy"\n'}, "cauchy"),
    ("time-step-not-dividing", {"extra": "time_step = 0.3\n"}, "time_step"),
    ("no-parameters", {"params": "\n"}, "parameter"),
    ("missing-model", {"extra": ""}, "model"),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "parts", "word"), CAL_SPECS, ids=[c[0] for c in CAL_SPECS])
def test_bad_calibration_specs(tmp_path: Path, name: str, parts: dict[str, str], word: str) -> None:
    f = _cal(tmp_path, **parts)
    if name == "missing-model":
        f.write_text(f.read_text().replace(f'model = "{BASS.as_posix()}"', 'model = "no_such.mdl"'))
        word = "no_such.mdl"
    with pytest.raises(PvsdError) as info:
        pvsd.calibrate(f, mcmc=False, progress=False)
    assert word.lower() in str(info.value).lower(), str(info.value)


# ------------------------------------------------------------------ CLI: flags, samples, output paths
def _blocker(tmp_path: Path) -> Path:
    b = tmp_path / "blocker"
    b.write_text("a file, not a folder")
    return b


CLI: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("unknown-command", lambda t: ["frobnicate"], "frobnicate"),
    ("run-missing-model", lambda t: ["run", str(t / "no.mdl")], "no.mdl"),
    ("run-set-without-equals", lambda t: ["run", str(GOAL), "--set", "Goal"], "--set"),
    ("run-set-unknown", lambda t: ["run", str(GOAL), "--set", "Gaol=3"], "Gaol"),
    ("run-set-text", lambda t: ["run", str(GOAL), "--set", "Goal=high"], "Goal"),
    ("run-outputs-unknown", lambda t: ["run", str(GOAL), "-v", "Levle"], "Levle"),
    ("run-final-time-text", lambda t: ["run", str(GOAL), "--final-time", "soon"], "final-time"),
    ("run-time-step-zero", lambda t: ["run", str(GOAL), "--time-step", "0"], "time_step"),
    ("run-method-unknown", lambda t: ["run", str(GOAL), "--method", "rk45"], "rk45"),
    ("run-out-bad-suffix", lambda t: ["run", str(GOAL), "-o", str(t / "out.txt")], ".csv"),
    ("run-out-parent-is-file", lambda t: ["run", str(GOAL), "-o", str(_blocker(t) / "x.csv")], "blocker"),
    ("run-out-existing-folder", lambda t: ["run", str(GOAL), "-o", str(t)], "exists"),
    ("run-plot-parent-is-file", lambda t: ["run", str(GOAL), "--plot", str(_blocker(t) / "p.html")], "blocker"),
    ("report-out-parent-is-file", lambda t: ["report", str(GOAL), "-o", str(_blocker(t) / "r")], "blocker"),
    ("doc-markdown-parent-is-file", lambda t: ["doc", str(GOAL), "-o", str(t / "card.html"), "--markdown",
                                               str(_blocker(t) / "c.md")], "blocker"),
    ("diagram-highlight-unknown", lambda t: ["diagram", str(GOAL), "--highlight", "Nope", "-o",
                                             str(t / "d.svg")], "Nope"),
    ("diagram-loop-unknown", lambda t: ["diagram", str(GOAL), "--loop", "L9999", "-o", str(t / "d.svg")], "L9999"),
    ("scenarios-missing-file", lambda t: ["scenarios", str(GOAL), str(t / "nope.toml")], "nope.toml"),
    ("ensemble-missing-samples", lambda t: ["ensemble", str(GOAL), "--samples", str(t / "nope.csv"), "-o",
                                            str(t / "e.nc")], "nope.csv"),
    ("calibrate-missing-spec", lambda t: ["calibrate", str(t / "nope.toml")], "nope.toml"),
    ("info-missing-model", lambda t: ["info", "no_such_model"], "no_such_model"),
    ("loops-names-missing", lambda t: ["loops", str(GOAL), "--names", str(t / "nope.toml"), "-o",
                                       str(t / "l")], "nope.toml"),
]

SAMPLES: list[tuple[str, str, str]] = [
    ("ragged", "Goal,Adjustment Time\n1,2\n3\n4,5,6\n", "line"),
    ("nan", "Goal\n1\nnan\n", "Goal"),
    ("unknown-column", "Gaol\n1\n", "Gaol"),
    ("text-values", "Goal\nhigh\nlow\n", "Goal"),
    ("header-only", "Goal\n", "sample"),
    ("empty-file", "", "samples"),
    ("duplicate-columns", "Goal,Goal\n1,2\n", "Goal"),
    ("stock-column", "Level\n1\n", "Level"),
]


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "argv", "word"), CLI, ids=[c[0] for c in CLI])
def test_bad_cli_calls(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
                       argv: Callable[[Path], list[str]], word: str) -> None:
    code, err = _cli(argv(tmp_path), capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert word.lower() in err.lower(), err


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("name", "text", "word"), SAMPLES, ids=[c[0] for c in SAMPLES])
def test_bad_sample_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str,
                          word: str) -> None:
    f = tmp_path / "samples.csv"
    f.write_text(text)
    code, err = _cli(["ensemble", str(GOAL), "--samples", str(f), "-o", str(tmp_path / "e.nc")], capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert word.lower() in err.lower(), err
    assert not (tmp_path / "e.nc").exists()


def test_campaign_has_at_least_100_distinct_inputs() -> None:
    n = len(MODEL_FILES) + 2 + len(API) + len(SCENARIO_FILES) + len(SENS_SPECS) + len(CAL_SPECS) \
        + len(CLI) + len(SAMPLES)
    assert n >= 100, n
