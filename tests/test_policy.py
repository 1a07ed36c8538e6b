"""Policy design: optimisation against analytic optima and fronts, PRIM against planted boxes."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.cli import main
from pvsd.policy import prim
from pvsd.scenarios import load_scenarios

MODELS = Path(__file__).parent / "models"
QUAD = MODELS / "policy_quadratic.mdl"
ZDT1 = MODELS / "policy_zdt1.mdl"
BOX = MODELS / "policy_box.mdl"


def _quad_spec(**extra):
    spec = {"settings": {"population": 30, "generations": 60, "seed": 3},
            "levers": {"X": {"lower": 0, "upper": 1}, "Y": {"lower": 0, "upper": 1}},
            "objectives": [{"variable": "Score", "stat": "final", "sense": "max"}]}
    spec.update(extra)
    return spec


def test_known_optimum_within_1e3():
    res = pvsd.optimize(pvsd.load(QUAD), _quad_spec())
    best = res.best
    assert best["Score (final)"] == pytest.approx(1.0, rel=1e-3)
    assert best["X"] == pytest.approx(0.3, abs=0.02) and best["Y"] == pytest.approx(0.7, abs=0.02)
    conv = res.convergence()
    assert conv["best Score (final)"].is_monotonic_increasing
    # every generation was one ensemble of the whole population
    assert res.n_runs == 30 * 61 + 1


def test_budget_constraint_optimum_on_the_boundary():
    # max 1 - (x-.3)^2 - (y-.7)^2 subject to x + y <= 0.6: (0.1, 0.5), value 0.92
    res = pvsd.optimize(pvsd.load(QUAD), _quad_spec(constraints=[{"budget": 0.6}]))
    b = res.best
    assert b["X"] + b["Y"] <= 0.6 + 1e-12
    assert b["Score (final)"] == pytest.approx(0.92, rel=1e-3)


def test_minimise_and_sum_objective():
    spec = _quad_spec(objectives=[{"variable": "Accumulated Score", "stat": "sum", "period": [0, 10],
                                   "sense": "min"}])
    res = pvsd.optimize(pvsd.load(QUAD), spec)
    # worst corner (1, 0): Score = 1 - .49 - .49 = 0.02; Accumulated Score(t) = 0.02 t, integral 0-10 = 1
    assert res.best["X"] == pytest.approx(1, abs=0.02) and res.best["Y"] == pytest.approx(0, abs=0.02)
    assert res.best.iloc[-1] == pytest.approx(1.0, rel=1e-2)


def test_step_lever_level_found():
    spec = {"settings": {"population": 10, "generations": 15, "seed": 1},
            "levers": {"X": {"type": "step", "year": [1, 5], "level": [0, 1]},
                       "Y": {"type": "ramp", "start": [1, 2], "duration": [0, 3], "level": [0, 1]}},
            "objectives": [{"variable": "Score", "stat": "mean", "period": [6, 10], "sense": "max"}]}
    res = pvsd.optimize(pvsd.load(QUAD), spec)
    assert res.best["X: level"] == pytest.approx(0.3, abs=0.03)
    assert res.best["Y: level"] == pytest.approx(0.7, abs=0.03)
    assert res.best.iloc[-1] == pytest.approx(1.0, rel=1e-3)
    text = res.to_scenarios_toml()
    assert "step" in text


def test_robust_mean_optimum_is_expected_target(tmp_path):
    unc = tmp_path / "unc.toml"
    unc.write_text('[parameters."Target X"]\nlower = 0.1\nupper = 0.5\n')
    spec = _quad_spec(robust={"uncertainties": str(unc), "n": 20, "statistic": "mean"})
    spec["settings"]["generations"] = 40
    res = pvsd.optimize(pvsd.load(QUAD), spec)
    worlds = pvsd.ParameterSpace.from_toml(unc).sample(20, seed=3)
    # E[(X - T)^2] is least at X = mean(T) over the sampled worlds
    rob = res.chosen.set_index("policy")
    assert rob.loc["robust optimum", "X"] == pytest.approx(worlds["Target X"].mean(), abs=0.01)
    assert rob.loc["nominal optimum", "X"] == pytest.approx(0.3, abs=0.01)
    assert set(res.robustness["policy"]) == {"robust optimum", "nominal optimum"}


def test_zdt1_front_small_generational_distance():
    spec = {"settings": {"population": 60, "generations": 80, "seed": 2},
            "levers": {f"X{i}": {"lower": 0, "upper": 1} for i in (1, 2, 3)},
            "objectives": [{"variable": "F1", "stat": "final", "sense": "min"},
                           {"variable": "F2", "stat": "final", "sense": "min"}]}
    res = pvsd.optimize(pvsd.load(ZDT1), spec)
    F = res.chosen[["F1 (final)", "F2 (final)"]].to_numpy()
    f1 = np.linspace(0, 1, 20001)
    front = np.c_[f1, 1 - np.sqrt(f1)]
    gd = np.sqrt(((F[:, None, :] - front[None]) ** 2).sum(-1)).min(1).mean()
    assert gd < 5e-3
    assert len(F) >= 30 and F[:, 0].min() < 0.05 and F[:, 0].max() > 0.9  # spread along the front


def _box_spec(n=10_000):
    return {"parameters": {**{k: {"lower": 0, "upper": 1} for k in "ABCD"},
                           "Noise": {"dist": "normal", "mean": 0, "sd": 0.1, "lower": -1, "upper": 1}},
            "settings": {"n": n, "seed": 5},
            "case": {"variable": "Outcome", "stat": "final", "above": 0.5}}


def test_prim_recovers_planted_box():
    res = pvsd.discover(pvsd.load(BOX), _box_spec())
    s = res.prim.stats
    assert s["coverage"] >= 0.9 and s["density"] >= 0.9
    box = res.prim.box
    assert set(box.index) == {"A", "B"}
    assert box.loc["A", "min"] == pytest.approx(0.2, abs=0.03) and box.loc["A", "max"] == pytest.approx(0.6, abs=0.03)
    assert box.loc["B", "min"] == pytest.approx(0.3, abs=0.03) and box.loc["B", "max"] == pytest.approx(0.8, abs=0.03)
    assert (box[["qp min", "qp max"]].max(axis=1) < 1e-6).all()
    t = res.prim.trajectory
    assert t["mass"].is_monotonic_decreasing or t["pasted"].any()


def test_prim_matches_reference_implementation():
    ref = pytest.importorskip("prim", reason="the standalone prim package is not installed")
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.uniform(0, 1, (3000, 4)), columns=list("abcd"))
    y = ((X.a > 0.3) & (X.c < 0.6) | (rng.uniform(size=3000) < 0.05)).to_numpy(float)
    ours = prim(X, y, paste=False)
    theirs = ref.Prim(X, y, threshold=0.5, threshold_type=">", peel_alpha=0.05, mass_min=0.05)
    theirs.find_box()
    tr = theirs._boxes[0].peeling_trajectory
    n = min(len(tr), len(ours.trajectory))
    assert n > 10
    np.testing.assert_allclose(ours.trajectory["coverage"].to_numpy()[:n], tr["coverage"].to_numpy()[:n], atol=0.02)
    np.testing.assert_allclose(ours.trajectory["density"].to_numpy()[:n], tr["density"].to_numpy()[:n], atol=0.02)


def test_prim_bad_input():
    X = pd.DataFrame({"a": [0.1, 0.2, 0.3]})
    with pytest.raises(pvsd.PvsdError, match="never happens"):
        prim(X, [0, 0, 0])
    with pytest.raises(pvsd.PvsdError, match="0/1"):
        prim(X, [0, 2, 1])


def _write(tmp_path, text, name="spec.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


BASE = """
[settings]
population = 6
generations = 2
seed = 1
{levers}
[[objectives]]
variable = "{obj}"
stat = "final"
sense = "max"
{cons}
"""
LEVERS = '[levers.X]\nlower = 0\nupper = 1\n[levers.Y]\nlower = 0\nupper = 1\n'


@pytest.mark.parametrize("levers,obj,cons,needle", [
    (LEVERS.replace("levers.Y", "levers.Zed"), "Score", "", "unknown lever 'Zed'"),
    ("[levers.X]\nlower = 1\nupper = 0\n", "Score", "", "wrong way round"),
    (LEVERS, "Target X", "", "not a model output"),
    (LEVERS, "Nope", "", "Unknown variable 'Nope'"),
    (LEVERS.replace("lower = 0\nupper = 1\n[levers.Y]", "lower = 0.5\nupper = 1\n[levers.Y]")
     .replace("lower = 0\nupper = 1\n", "lower = 0.4\nupper = 1\n"), "Score", "[[constraints]]\nbudget = 0.8\n",
     "infeasible"),
    (LEVERS, "Score", '[[constraints]]\nvariable = "Score"\nstat = "final"\nmin = 2\n', "no policy among"),
])
def test_bad_specs_one_paragraph_exit_2(tmp_path, capsys, levers, obj, cons, needle):
    spec = _write(tmp_path, BASE.format(levers=levers, obj=obj, cons=cons))
    code = main(["optimize", str(QUAD), str(spec), "-o", str(tmp_path / "out"), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err.replace("\n  ", " ")
    assert "Traceback" not in err and err.count("pvsd: error") == 1
    assert not (tmp_path / "out").exists()


def test_cli_optimize_writes_report_and_runnable_scenarios(tmp_path, capsys):
    spec = _write(tmp_path, BASE.format(levers=LEVERS, obj="Score", cons="[[constraints]]\nbudget = 1.5\n"))
    out = tmp_path / "out"
    assert main(["optimize", str(QUAD), str(spec), "-o", str(out), "--no-progress", "--generations", "5"]) == 0
    html = (out / "report.html").read_text()
    assert re.search(r'id="pvsd-[0-9a-f]+-fig\d+-policy-convergence"', html)
    assert re.search(r'id="pvsd-[0-9a-f]+-fig\d+-policy-trajectories"', html)
    scen = load_scenarios(out / "scenarios.toml", pvsd.load(QUAD))
    chosen = pd.read_csv(out / "chosen.csv", comment="#")
    m = pvsd.load(QUAD)
    run = m.run(scenario=scen["optimum"], outputs=["Score"]).to_dataframe()
    assert run["Score"].iloc[-1] == pytest.approx(chosen["Score (final)"].iloc[0], rel=1e-9)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["model_sha256"] == m.sha256 and prov["seed"] == 1 and prov["method"] == "differential_evolution"
    assert m.sha256 in (out / "scenarios.toml").read_text()
    # never overwrites
    assert main(["optimize", str(QUAD), str(spec), "-o", str(out), "--no-progress"]) == 2


def test_cli_discover_writes_box_scenarios(tmp_path, capsys):
    spec = _write(tmp_path, """
        [parameters.A]
        lower = 0
        upper = 1
        [parameters.B]
        lower = 0
        upper = 1
        [parameters.C]
        lower = 0
        upper = 1
        [settings]
        n = 2000
        seed = 4
        [case]
        variable = "Outcome"
        stat = "final"
        above = 0.5
        """)
    out = tmp_path / "disc"
    assert main(["discover", str(BOX), str(spec), "-o", str(out), "--no-progress"]) == 0
    html = (out / "report.html").read_text()
    assert re.search(r'id="pvsd-[0-9a-f]+-fig\d+-prim-tradeoff"', html)
    assert re.search(r'id="pvsd-[0-9a-f]+-fig\d+-prim-box-limits"', html)
    m = pvsd.load(BOX)
    scen = load_scenarios(out / "scenarios.toml", m)
    assert m.run(scenario=scen["box_centre"], outputs=["Outcome"]).to_dataframe()["Outcome"].iloc[-1] == 1
    box = pd.read_csv(out / "box.csv", comment="#", index_col=0)
    assert set(box.index) == {"A", "B"}


@pytest.mark.browser
def test_v2_discovery_report_shows_every_box_limit_at_700px(tmp_path):
    """The box limits were bar text cut at the plot's edge in a 700 px column ("0.238 to 1 (qp 0.02")."""
    from browser import browser_page

    spec = Path(__file__).resolve().parent.parent / "models" / "public_value_chain_v2_discover.toml"
    out = tmp_path / "disc"
    assert main(["discover", "public_value_chain_v2", str(spec), "-n", "2000", "-q", "-o", str(out)]) == 0
    with browser_page(700, 900) as (page, seen):
        page.goto((out / "report.html").as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
        found = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => {
            const svg = gd.querySelector('.main-svg').getBoundingClientRect();
            const texts = [...gd.querySelectorAll('.annotation-text, .gtitle')];
            return {texts: texts.map(t => t.textContent),
                    cut: texts.filter(t => { const r = t.getBoundingClientRect();
                                             return r.right > svg.right + 1 || r.left < svg.left - 1; })
                              .map(t => t.textContent)};
        })""")
        assert seen["page_errors"] == []
    box = next(f for f in found if any("box limits" in t for t in f["texts"]))
    assert sum(" to " in t and "(qp " in t for t in box["texts"]) >= 1
    assert all(f["cut"] == [] for f in found), found
