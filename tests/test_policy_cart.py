"""Scenario discovery with CART: planted boxes, agreement with PRIM, reports, bad input."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.cli import main
from pvsd.policy import cart
from pvsd.scenarios import load_scenarios

BOX = Path(__file__).parent / "models" / "policy_box.mdl"
PLANTED = {"A": (0.2, 0.6), "B": (0.3, 0.8)}  # the box written into policy_box.mdl


def _box_spec(n=10_000, **settings):
    return {"parameters": {**{k: {"lower": 0, "upper": 1} for k in "ABCD"},
                           "Noise": {"dist": "normal", "mean": 0, "sd": 0.1, "lower": -1, "upper": 1}},
            "settings": {"n": n, "seed": 5, **settings},
            "case": {"variable": "Outcome", "stat": "final", "above": 0.5}}


def _agrees_with_planted(box: pd.DataFrame, tol: float = 0.03) -> None:
    assert set(box.index) == set(PLANTED)
    for k, (lo, hi) in PLANTED.items():
        assert box.loc[k, "min"] == pytest.approx(lo, abs=tol)
        assert box.loc[k, "max"] == pytest.approx(hi, abs=tol)


def test_cart_and_prim_recover_the_planted_box():
    res = pvsd.discover(pvsd.load(BOX), _box_spec(method="cart"))
    assert res.method == "cart" and res.prim is None
    s = res.stats
    assert s["coverage"] >= 0.9 and s["density"] >= 0.9
    _agrees_with_planted(res.box)
    assert (res.box[["qp min", "qp max"]].max(axis=1) < 1e-6).all()
    # the leaf statistics are those of the box limits applied to the ensemble (lower < x <= upper)
    X, case = res.inputs, res.case
    inside = np.ones(len(X), dtype=bool)
    for k, r in res.box.iterrows():
        inside &= (X[k] > r["min"]) & (X[k] <= r["max"])
    assert inside.sum() == s["n"]
    assert case[inside].mean() == pytest.approx(s["density"])
    assert case[inside].sum() / case.sum() == pytest.approx(s["coverage"])
    # PRIM on the same ensemble (no rerun) finds the same box
    p = res.with_method("prim")
    assert p.method == "prim" and p.cart is None
    assert p.stats["coverage"] >= 0.9 and p.stats["density"] >= 0.9
    _agrees_with_planted(p.box)
    assert p.provenance["method"] == "prim" and res.provenance["method"] == "cart"


def test_cart_finds_two_separate_boxes_where_one_prim_box_cannot():
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.uniform(0, 1, (6000, 3)), columns=["a", "b", "c"])
    one = (X.a < 0.3) & (X.b < 0.3)
    two = (X.a > 0.7) & (X.b > 0.7)
    y = (one | two).to_numpy()
    res = cart(X, y, max_depth=4, seed=0)
    assert len(res.boxes) == 2
    found = sorted((b.loc["a", "max"], b.loc["b", "max"], b.loc["a", "min"]) for b in res.boxes)
    assert found[0][0] == pytest.approx(0.3, abs=0.02) and found[0][1] == pytest.approx(0.3, abs=0.02)
    assert found[1][2] == pytest.approx(0.7, abs=0.02)
    assert res.covered >= 0.95
    assert (res.case_leaves["density"] >= 0.95).all()
    # one box covers only about half of the cases at that density
    assert res.stats["coverage"] < 0.6


def test_cart_seeded_and_bad_input():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.uniform(0, 1, (800, 2)), columns=["a", "b"])
    y = (X.a > 0.5).to_numpy()
    a, b = cart(X, y, seed=1), cart(X, y, seed=1)
    pd.testing.assert_frame_equal(a.leaves, b.leaves)
    with pytest.raises(pvsd.PvsdError, match="max_depth"):
        cart(X, y, max_depth=0)
    with pytest.raises(pvsd.PvsdError, match="never happens"):
        cart(X, np.zeros(800))
    with pytest.raises(pvsd.PvsdError, match="no leaf in which the case is the majority"):
        cart(X, rng.uniform(size=800) < 0.02, max_depth=1)


def _write(tmp_path, text, name="spec.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


SPEC = """
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
    {extra}
    [case]
    variable = "Outcome"
    stat = "final"
    above = 0.5
    """


def test_cli_discover_cart_report_and_runnable_scenarios(tmp_path):
    spec = _write(tmp_path, SPEC.format(extra=""))
    out = tmp_path / "disc"
    assert main(["discover", str(BOX), str(spec), "--algorithm", "cart", "-o", str(out), "--no-progress"]) == 0
    html = (out / "report.html").read_text()
    assert re.search(r'id="pvsd-[0-9a-f]+-fig\d+-cart-leaves"', html)
    assert re.search(r'id="pvsd-[0-9a-f]+-fig\d+-cart-box-limits"', html)
    assert "export_text" in html and "class: 1" in html
    leaves = pd.read_csv(out / "leaves.csv", comment="#")
    assert leaves["case"].sum() >= 1 and leaves["n"].sum() == 2000
    box = pd.read_csv(out / "box.csv", comment="#", index_col=0)
    assert set(box.index) == {"A", "B"}
    m = pvsd.load(BOX)
    scen = load_scenarios(out / "scenarios.toml", m)
    for name in ("box_centre", "box_low_corner", "box_high_corner"):
        assert m.run(scenario=scen[name], outputs=["Outcome"]).to_dataframe()["Outcome"].iloc[-1] == 1
    assert '"method": "cart"' in (out / "provenance.json").read_text()


@pytest.mark.parametrize("args,extra,needle", [
    (["--algorithm", "tree"], "", "unknown discovery method 'tree'"),
    ([], 'method = "tree"', "unknown discovery method 'tree'"),
    (["--algorithm", "cart", "--max-depth", "0"], "", "max_depth must be a whole number of at least 1"),
    ([], 'method = "cart"\nmax_depth = -2', "max_depth must be a whole number of at least 1"),
    ([], 'method = "cart"\nmin_leaf = 0.7', "min_leaf"),
    (["--max-depth", "3"], "", "max_depth (--max-depth) is a setting of CART"),
])
def test_cli_discover_bad_method_or_depth_exit_2(tmp_path, capsys, args, extra, needle):
    spec = _write(tmp_path, SPEC.format(extra=extra))
    out = tmp_path / "disc"
    code = main(["discover", str(BOX), str(spec), *args, "-o", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err.replace("\n  ", " ")
    assert "Traceback" not in err and err.count("pvsd: error") == 1
    assert not out.exists()


def test_case_against_another_policy_in_the_same_world(tmp_path):
    # Outcome = in-box + Noise. Under "plus" Noise is 0.5: y < 0.5 x (in-box + 0.5) exactly outside the box.
    _write(tmp_path, '[scenarios.none]\ntitle = "none"\nset = { "Noise" = 0.0 }\n'
                     '[scenarios.plus]\ntitle = "plus"\nset = { "Noise" = 0.5 }\n', "scen.toml")
    spec = {"parameters": {"A": {"lower": 0, "upper": 1}, "B": {"lower": 0, "upper": 1}},
            "settings": {"n": 500, "seed": 2, "method": "cart"},
            "policy": {"scenarios": str(tmp_path / "scen.toml"), "scenario": "none"},
            "case": {"variable": "Outcome", "stat": "final",
                     "below": {"variable": "Outcome", "stat": "final", "scenario": "plus", "factor": 0.5}}}
    m = pvsd.load(BOX)
    res = pvsd.discover(m, spec)
    X = res.inputs
    outside = ~((X.A > 0.2) & (X.A < 0.6) & (X.B > 0.3) & (X.B < 0.8)).to_numpy()
    np.testing.assert_array_equal(res.case, outside)
    assert res.provenance["n_runs"] == 1000 and "under 'plus' in the same world" in res.spec.case_label
    # against the baseline: y = in-box + 0.3 > 2 x in-box exactly outside the box
    _write(tmp_path, '[scenarios.up]\ntitle = "up"\nset = { "Noise" = 0.3 }\n', "up.toml")
    spec["policy"] = {"scenarios": str(tmp_path / "up.toml"), "scenario": "up"}
    spec["case"] = {"variable": "Outcome", "stat": "final",
                    "above": {"variable": "Outcome", "stat": "final", "scenario": "baseline", "factor": 2}}
    np.testing.assert_array_equal(pvsd.discover(m, spec).case, outside)
    spec["case"]["above"]["scenario"] = "nope"
    with pytest.raises(pvsd.PvsdError, match="nope"):
        pvsd.discover(m, spec)
