"""Feedback-loop analysis (Loops that Matter) against analytic references."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import pvsd
from pvsd.loops import LoopResult

HERE = Path(__file__).parent
MODELS = HERE / "models"
ROOT = HERE.parent


@pytest.fixture(scope="module")
def logistic() -> pvsd.Model:
    return pvsd.load(MODELS / "logistic.mdl")


def _crossing(t: np.ndarray, y: np.ndarray) -> float:
    """First time where ``y`` changes sign from + to -, linearly interpolated."""
    k = int(np.flatnonzero((y[:-1] > 0) & (y[1:] <= 0))[0])
    return float(t[k] + (t[k + 1] - t[k]) * y[k] / (y[k] - y[k + 1]))


def test_logistic_one_reinforcing_one_balancing_loop(logistic: pvsd.Model) -> None:
    res = pvsd.loops(logistic)
    assert isinstance(res, LoopResult)
    assert res.method == "enumeration"
    table = res.loops.set_index("id")
    assert len(table) == 2
    assert sorted(table["polarity"]) == ["B", "R"]
    by_pol = {r.polarity: set(r.variables) for r in table.itertuples()}
    assert by_pol["R"] == {"Population", "Births"}
    assert by_pol["B"] == {"Population", "Deaths"}
    assert not table["polarity_changes"].any()
    # one partition: the two relative scores add up to 1 in absolute value at every step
    s = res.scores.iloc[1:]
    assert np.allclose(s.abs().sum(axis=1), 1.0)


def test_logistic_dominance_switches_at_the_inflection_point(logistic: pvsd.Model) -> None:
    r, k, p0 = 1.0, 1000.0, 10.0
    t_star = math.log((k - p0) / p0) / r  # analytic inflection of the continuous logistic
    errors = {}
    for dt in (1 / 32, 1 / 128):
        res = pvsd.loops(logistic, time_step=dt)
        ids = res.loops.set_index("polarity")["id"]
        rel = res.scores.iloc[1:]
        t = rel.index.to_numpy()
        margin = rel[ids["R"]].abs().to_numpy() - rel[ids["B"]].abs().to_numpy()
        # R dominates before, B after, one switch only. |B|/|R| = 2P/K, so near K the
        # balancing loop explains 2/3 of the change and the reinforcing loop 1/3
        assert margin[0] > 0.9 and margin[-1] == pytest.approx(-1 / 3, abs=0.01)
        assert np.count_nonzero(np.diff(np.sign(margin)) != 0) == 1
        # scores at t describe the step [t - dt, t]: centre the crossing on the step
        t_switch = _crossing(t, margin) - dt / 2
        pop = res.run["Population"].to_numpy()
        t_sim = _crossing(res.run.times, k / 2 - pop)  # simulated (Euler) inflection P = K/2
        assert abs(t_switch - t_sim) <= dt
        errors[dt] = t_switch - t_star
        dom = res.dominance()
        assert list(dom["polarity"]) == ["R", "B"]
        assert abs(dom["end"].iloc[0] - t_sim) <= 2 * dt
    # against the analytic time: Euler's first-order error, so it shrinks with dt
    assert abs(errors[1 / 128]) <= 0.03
    assert abs(errors[1 / 128]) < abs(errors[1 / 32]) / 3


@pytest.mark.parametrize("dt", [1 / 16, 1 / 32])
def test_logistic_switch_within_one_step_of_analytic_time(logistic: pvsd.Model, dt: float) -> None:
    # Starting at P0 = K/10 keeps Euler's own lag of the inflection under one step, so the
    # loop-dominance switch can be held to the analytic time itself (from P0 = 10 the
    # simulated inflection alone lags t* by 1.6 steps at any dt; see the test above).
    r, k, p0 = 1.0, 1000.0, 100.0
    t_star = math.log((k - p0) / p0) / r
    res = pvsd.loops(logistic, params={"Initial Population": p0}, time_step=dt)
    ids = res.loops.set_index("polarity")["id"]
    rel = res.scores.iloc[1:]
    margin = rel[ids["R"]].abs().to_numpy() - rel[ids["B"]].abs().to_numpy()
    assert margin[0] > 0 and margin[-1] < 0
    t_switch = _crossing(rel.index.to_numpy(), margin) - dt / 2
    assert abs(t_switch - t_star) <= dt


def test_goal_seeking_has_one_balancing_loop_with_relative_score_one() -> None:
    res = pvsd.loops(pvsd.load(MODELS / "goal_seeking.mdl"))
    assert len(res.loops) == 1
    row = res.loops.iloc[0]
    assert row["polarity"] == "B"
    assert set(row["variables"]) == {"Level", "Adjustment", "Gap"}
    rel = res.scores[row["id"]].iloc[1:]
    assert np.allclose(rel.abs(), 1.0)
    assert (rel < 0).all()  # balancing: negative relative score
    # an isolated loop has loop score exactly -1, whatever its gain
    assert np.allclose(res.loop_scores[row["id"]].iloc[1:], -1.0)
    assert res.dominance()["dominant"].tolist() == [row["id"]]


def test_model_without_feedback_reports_no_loops_not_an_error() -> None:
    m = pvsd.load(MODELS / "no_feedback.mdl")
    res = pvsd.loops(m)
    assert res.loops.empty and res.scores.shape[1] == 0
    assert "no feedback loops" in res.message
    assert res.dominance().empty
    assert res.to_dataframe().empty
    fig = res.plot()
    assert len(fig.data) == 1  # the variable's trajectory only
    assert res.cld().layout.annotations[0].text.startswith("No feedback loops")
    assert "no feedback loops" in res._repr_html_()


def test_enumeration_counts_cycles_of_a_complete_digraph() -> None:
    """k stocks, each one's flow driven by every other stock: the stock graph is complete."""
    k = 5
    expected = sum(math.comb(k, n) * math.factorial(n - 1) for n in range(2, k + 1))  # no self-loops
    res = pvsd.loops(pvsd.load(MODELS / "complete_coupling.mdl"))
    assert expected == 84
    assert len(res.loops) == expected
    # each loop of L stocks passes through L flows
    counts = res.loops["length"].value_counts().to_dict()
    assert counts == {2 * n: math.comb(k, n) * math.factorial(n - 1) for n in range(2, k + 1)}
    assert (res.loops["polarity"] == "R").all()
    assert res.loops["id"].is_unique
    # a length bound keeps only the short loops
    short = pvsd.loops(pvsd.load(MODELS / "complete_coupling.mdl"), max_length=4)
    assert len(short.loops) == math.comb(k, 2)


def test_ids_are_stable() -> None:
    m = pvsd.load(MODELS / "complete_coupling.mdl")
    a = pvsd.loops(m).loops[["id", "variables"]]
    b = pvsd.loops(pvsd.load(MODELS / "complete_coupling.mdl")).loops[["id", "variables"]]
    assert a.equals(b)


def test_strongest_path_search_replaces_enumeration_beyond_the_threshold() -> None:
    m = pvsd.load(MODELS / "complete_coupling.mdl")
    full = pvsd.loops(m)
    res = pvsd.loops(m, max_loops=10)
    assert res.method == "strongest_path"
    assert "strongest-path search" in res.message and "strongest-path" in res.notes[0]
    assert 0 < len(res.loops) <= len(full.loops)
    every = {frozenset(v) for v in full.loops["variables"]}
    assert {frozenset(v) for v in res.loops["variables"]} <= every
    # the loop with the largest mean score overall is among those found
    best = full.loops.sort_values("mean_abs_relative_score").iloc[-1]["variables"]
    assert frozenset(best) in {frozenset(v) for v in res.loops["variables"]}


def _readme_loops() -> list[tuple[str, str, list[str]]]:
    path = ROOT / "models" / "README.md"
    if not path.exists():
        pytest.skip("models/README.md is absent")
    text = path.read_text(encoding="utf-8")
    section = text.split("## Feedback loops", 1)[1].split("\n## ", 1)[0]
    out = []
    for line in section.splitlines():
        m = re.match(r"\|\s*\*\*([RB]\d+)\*\*([^|]*)\|\s*(reinforcing|balancing)[^|]*\|([^|]+)\|", line)
        if m:
            names = [v.strip() for v in m.group(4).split("→")]
            assert names[0] == names[-1], line
            out.append((f"{m.group(1)}{m.group(2).rstrip()}", "R" if m.group(3) == "reinforcing" else "B",
                        names[:-1]))
    assert out, "no loop table found in models/README.md"
    return out


@pytest.fixture(scope="module")
def reference_loops() -> LoopResult:
    return pvsd.loops(pvsd.load("public_value_chain"))


@pytest.mark.parametrize("loop", _readme_loops(), ids=lambda lp: lp[0].split()[0])
def test_reference_model_loops_named_in_readme_are_found(reference_loops: LoopResult,
                                                         loop: tuple[str, str, list[str]]) -> None:
    name, polarity, names = loop
    t = reference_loops.loops
    hits = t[[set(v) == set(names) for v in t["variables"]]]
    assert not hits.empty, f"{name}: no loop through exactly {names}"
    row = hits.iloc[0]
    assert row["polarity"] == polarity, f"{name}: expected {polarity}, the run gives {row['polarity']}"
    seq = list(row["variables"])
    assert any(seq[i:] + seq[:i] == names for i in range(len(seq))), f"{name}: variables in another order"


def _named_loops_file() -> list[dict]:
    import tomllib

    path = ROOT / "models" / "public_value_chain_loops.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))["loop"]


def test_readme_loops_and_loop_names_file_agree() -> None:
    # the README table is for readers, the TOML file for pvsd: one must not drift from the other
    readme = {name: names for name, _, names in _readme_loops()}
    named = {lp["name"]: lp["variables"] for lp in _named_loops_file()}
    assert readme == named


@pytest.mark.parametrize("loop", _readme_loops(), ids=lambda lp: lp[0].split()[0])
def test_reference_model_loops_carry_their_names(reference_loops: LoopResult,
                                                 loop: tuple[str, str, list[str]]) -> None:
    name, polarity, names = loop
    t = reference_loops.loops
    rows = t[t["name"] == name]
    assert len(rows) == 1, f"{name}: {len(rows)} loops carry this name"
    row = rows.iloc[0]
    assert set(row["variables"]) == set(names)
    assert row["polarity"] == polarity == name[0]
    assert reference_loops.label(row["id"]) == f"{row['id']} {name}"


def test_reference_model_strongest_loops_are_named(reference_loops: LoopResult) -> None:
    # the loops that matter most over the baseline run are the ones a reader asks about
    for lid in reference_loops.top(2):
        assert reference_loops.name(lid).startswith("R6 "), lid
    assert any(reference_loops.name(i) for i in reference_loops.leading()["id"])


def test_reference_model_result_api(reference_loops: LoopResult) -> None:
    res = reference_loops
    assert res.method == "enumeration"
    assert set(res.loops["polarity"]) <= {"R", "B", "U"}
    assert list(res.scores.columns) == res.ids
    assert np.isnan(res.scores.iloc[0]).all()
    assert (res.scores.iloc[1:].abs() <= 1 + 1e-12).all().all()
    long = res.to_dataframe()
    assert set(long.columns) == {"time", "id", "polarity", "relative_score", "loop_score"}
    dom = res.dominance()
    assert dom["start"].iloc[0] == pytest.approx(2000.0) and dom["end"].iloc[-1] == pytest.approx(2050.0)
    assert (dom["mean_share"] >= 0.5 - 1e-9).all()
    fig = res.plot("public trust")
    assert fig.layout.annotations[1].text.startswith("Public Trust")
    cld = res.cld()
    assert len(cld.layout.annotations) > 5
    assert "Trust Reference" in res.graph.nodes  # the SMOOTH owner is a node
    assert res.graph.nodes["Trust Reference"]["kind"] == "smooth"


def test_scenario_changes_scores_not_loops() -> None:
    m = pvsd.load("public_value_chain")
    base = pvsd.loops(m, final_time=2010)
    scen = pvsd.Scenario("reform", constants={"Organisational Reform Effort": 0.6})
    res = pvsd.loops(m, scen, final_time=2010)
    assert res.scenario == "reform"
    assert res.loops["id"].tolist() == base.loops["id"].tolist()
    assert not np.allclose(res.scores.iloc[1:].to_numpy(), base.scores.iloc[1:].to_numpy())


def test_bad_arguments_are_pvsd_errors(logistic: pvsd.Model) -> None:
    with pytest.raises(pvsd.ParameterError):
        pvsd.loops(logistic, method="magic")
    with pytest.raises(pvsd.ParameterError):
        pvsd.loops(logistic, max_length=0)
    with pytest.raises(pvsd.UnknownVariableError):
        pvsd.loops(logistic).plot("Nonexistent")
    with pytest.raises(pvsd.ParameterError):
        pvsd.loops(logistic).loop("L9")


def test_cli_writes_a_self_contained_report(tmp_path: Path) -> None:
    from pvsd.cli import main

    out = tmp_path / "loops"
    assert main(["loops", str(MODELS / "logistic.mdl"), "-o", str(out), "--variable", "population"]) == 0
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "2 feedback loops (1 reinforcing, 1 balancing)" in page
    assert "Causal-loop diagram" in page and "How to read this" in page
    from htmlcheck import repeated_ids

    assert repeated_ids(page) == []
    # plotly.js in pvsd-assets/ beside the report folder (shared by every report there), no network
    assert '<script src="../pvsd-assets/plotly-' in page and list((tmp_path / "pvsd-assets").glob("plotly-*.min.js"))
    assert "<script src=\"http" not in page
    loops_csv = (out / "loops.csv").read_text(encoding="utf-8")
    assert "Population → Births → Population" in loops_csv
    # an existing folder is never replaced silently
    assert main(["loops", str(MODELS / "logistic.mdl"), "-o", str(out)]) == 2
    assert main(["loops", str(MODELS / "logistic.mdl"), "-o", str(out), "--force"]) == 0


def test_cli_no_feedback_and_bad_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pvsd.cli import main

    assert main(["loops", str(MODELS / "no_feedback.mdl"), "-o", str(tmp_path / "a")]) == 0
    assert "no feedback loops" in capsys.readouterr().out
    assert main(["loops", str(MODELS / "logistic.mdl"), "--scenario", "x", "-o", str(tmp_path / "b")]) == 2
    assert "--scenarios" in capsys.readouterr().err


def test_model_of_constants_only_gets_a_report_not_a_crash(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """No stock, flow or auxiliary changes over time: nothing to plot, said in words."""
    from pvsd.cli import main
    from pvsd.errors import UnsupportedModelError

    path = tmp_path / "constants.mdl"
    path.write_text("{UTF-8}\nA = 1 ~ u ~ |\nB = 2 ~ u ~ |\nINITIAL TIME = 0 ~ Year ~ |\n"
                    "FINAL TIME = 10 ~ Year ~ |\nTIME STEP = 1 ~ Year ~ |\nSAVEPER = TIME STEP ~ Year ~ |\n")
    res = pvsd.loops(pvsd.load(path))
    assert res.loops.empty and res.default_variable() is None
    with pytest.raises(UnsupportedModelError, match=r"nothing|no variables"):
        res.plot()
    assert main(["loops", str(path), "-o", str(tmp_path / "rep")]) == 0
    assert "no feedback loops" in capsys.readouterr().out
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "nothing to plot" in html


def test_report_draws_without_errors_in_a_browser(tmp_path: Path) -> None:
    from browser import browser_page

    from pvsd.report.loops_report import loops_report

    m = pvsd.load(MODELS / "goal_seeking.mdl")
    path = loops_report(pvsd.loops(m), m).write(tmp_path / "rep")
    with browser_page() as (page, seen):
        page.goto(path.as_uri())
        page.wait_for_selector("[id$=\"-cld\"] .main-svg")
        page.wait_for_selector("[id$=\"-loop-scores\"] .main-svg")
        assert page.evaluate("window.pvsdErrors.length") == 0
    assert not seen["page_errors"] and not seen["console_errors"]
    assert all(r.startswith("file:") for r in seen["requests"])


LOGISTIC_NAMES = {"R births": ["Population", "Births"], "B crowding": ["deaths", "population"]}


def test_loop_names_from_a_mapping(logistic: pvsd.Model) -> None:
    res = pvsd.loops(logistic, names=LOGISTIC_NAMES)
    by_name = res.loops.set_index("name")
    assert by_name.loc["R births", "polarity"] == "R"
    assert by_name.loc["B crowding", "polarity"] == "B"
    assert set(by_name.loc["B crowding", "variables"]) == {"Population", "Deaths"}
    assert set(res.leading()["name"]) == {"R births", "B crowding"}
    legend = {tr.name for tr in res.plot().data}
    ids = by_name["id"]
    assert {f"{ids['R births']} R births (R)", f"{ids['B crowding']} B crowding (B)"} <= legend
    assert "Loop names from the loop names given: 2 of 2 named loops found." in res.notes
    assert set(pvsd.loops(logistic).loops["name"]) == {""}  # no file next to it: no names


def test_loop_names_file_next_to_the_model_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from pvsd.cli import main

    shutil.copyfile(MODELS / "logistic.mdl", tmp_path / "logistic.mdl")
    (tmp_path / "logistic_loops.toml").write_text(
        '[[loop]]\nname = "R1 Births"\nvariables = ["Population", "Births"]\nmeaning = "more people, more births"\n'
        '[[loop]]\nname = "B1 Crowding"\nvariables = ["Population", "Deaths", "Population"]\n',
        encoding="utf-8")
    res = pvsd.loops(pvsd.load(tmp_path / "logistic.mdl"))
    assert sorted(res.loops["name"]) == ["B1 Crowding", "R1 Births"]
    assert pvsd.loops(pvsd.load(tmp_path / "logistic.mdl"), names=False).loops["name"].eq("").all()
    out = tmp_path / "rep"
    assert main(["loops", str(tmp_path / "logistic.mdl"), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "R1 Births (R)" in printed and "B1 Crowding (B)" in printed
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "R1 Births" in page and "logistic_loops.toml: 2 of 2 named loops found" in page
    assert "R1 Births" in (out / "loops.csv").read_text(encoding="utf-8")


def test_named_loop_left_out_by_the_search_is_reported(tmp_path: Path) -> None:
    m = pvsd.load(MODELS / "goal_seeking.mdl")
    (variables,) = [list(r.variables) for r in pvsd.loops(m).loops.itertuples()]
    short = pvsd.loops(m, names={"B1 goal": variables}, max_length=len(variables) - 1)
    assert short.ids == []
    assert any("Named loops not among the loops found" in n and "B1 goal" in n for n in short.notes)


@pytest.mark.parametrize(("names", "error", "match"), [
    ({"R x": ["Population", "Birthz"]}, pvsd.UnknownVariableError, r"Births"),
    ({"R x": ["Population", "Births", "Deaths"]}, pvsd.SpecError, r"'Births' does not act on 'Deaths'"),
    ({"R x": ["Population", "Births", "Population", "Deaths"]}, pvsd.SpecError, "twice"),
    ({"R x": []}, pvsd.SpecError, "needs variables"),
    ({"R x": "Population, Births"}, pvsd.SpecError, "needs variables"),
])
def test_bad_loop_names_are_clear_errors(logistic: pvsd.Model, names, error, match) -> None:
    with pytest.raises(error, match=match):
        pvsd.loops(logistic, names=names)


def test_bad_loop_names_files(logistic: pvsd.Model, tmp_path: Path) -> None:
    with pytest.raises(pvsd.SpecError, match="does not exist"):
        pvsd.loops(logistic, names=tmp_path / "missing.toml")
    with pytest.raises(pvsd.SpecError, match=r"logistic_loops\.toml"):
        pvsd.loops(logistic, names=True)
    cases = {
        "[[loop]]\nvariables = ['Population', 'Births']\n": "has no name",
        "[[loop]]\nname = 'a'\nvariables = ['Population', 'Births']\n"
        "[[loop]]\nname = 'a'\nvariables = ['Population', 'Deaths']\n": "used twice",
        "[[loop]]\nname = 'a'\nvariabels = ['Population', 'Births']\n": "unknown key",
        "[loops]\nname = 'a'\n": "unknown table",
        "[[loop]\nname = 'a'\n": "not valid TOML",
    }
    for k, (text, match) in enumerate(cases.items()):
        f = tmp_path / f"n{k}.toml"
        f.write_text(text, encoding="utf-8")
        with pytest.raises(pvsd.SpecError, match=match) as info:
            pvsd.loops(logistic, names=f)
        assert f.name in str(info.value)
