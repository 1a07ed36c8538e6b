"""Scenario files: parsing, validation, levers inside the simulation, comparisons."""

from __future__ import annotations

import numpy as np
import pytest

import pvsd
from pvsd.scenarios import scenarios_from_dict

GOOD = """
[compare]
outputs = ["Teacup Temperature"]
years = [10, 30]

[scenarios.cold]
title = "Cold room"
set = { "Room Temperature" = 50 }

[scenarios.cold_then_warm]
extends = "cold"
levers = { "Room Temperature" = { step = 15, to = 90 } }

[scenarios.table]
levers = { "Room Temperature" = { table = [[0, 60], [30, 80]] } }
"""


@pytest.fixture
def sfile(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(GOOD)
    return f


def test_parse_and_extend(sfile, teacup):
    sset = pvsd.load_scenarios(sfile, teacup)
    assert sset.names == ["cold", "cold_then_warm", "table"]
    assert sset.outputs == ("Teacup Temperature",) and sset.years == (10, 30)
    child = sset["cold_then_warm"]
    assert child.constants == {} and isinstance(child.levers["Room Temperature"], pvsd.Step)


def test_comparison_table_against_separate_runs(sfile, teacup):
    sset = pvsd.load_scenarios(sfile, teacup)
    comp = pvsd.run_scenarios(teacup, sset)
    table = comp.table().set_index(["scenario", "variable", "year"])
    base = teacup.run(outputs=["Teacup Temperature"])["Teacup Temperature"]
    cold = teacup.run(params={"Room Temperature": 50}, outputs=["Teacup Temperature"])["Teacup Temperature"]
    row = table.loc[("cold", "Teacup Temperature", 30.0)]
    assert row["value"] == pytest.approx(cold.loc[30])
    assert row["baseline"] == pytest.approx(base.loc[30])
    assert row["pct_difference"] == pytest.approx((cold.loc[30] - base.loc[30]) / base.loc[30] * 100)
    # the step acts at t = 15 inside the run: identical to "cold" before, warmer after
    ctw = comp.runs["cold_then_warm"]["Teacup Temperature"]
    np.testing.assert_allclose(ctw.loc[:15].to_numpy(), cold.loc[:15].to_numpy())
    assert ctw.loc[30] > cold.loc[30] + 20
    assert len(comp.plot().data) == 4


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"scenarios": {}}, "defines no scenarios"),
        ({"scenarios": {"a": {"sett": {}}}}, "unknown key"),
        ({"scenarios": {"a": {"set": {"Room Temperature": "hot"}}}}, "must be a number"),
        ({"scenarios": {"a": {"levers": {"Room Temperature": {"ramp": [20, 10], "to": 1}}}}}, "must end after"),
        ({"scenarios": {"a": {"levers": {"Room Temperature": {"step": 5}}}}}, "needs 'to'"),
        ({"scenarios": {"a": {"levers": {"Room Temperature": {"table": [[5, 1], [2, 1]]}}}}}, "increase"),
        ({"scenarios": {"a": {"extends": "b"}}}, "unknown scenario 'b'"),
        ({"scenarios": {"a": {"extends": "b"}, "b": {"extends": "a"}}}, "circle"),
        ({"scenarios": {"baseline": {}}}, "reserved"),
        ({"scenario": {}}, "unknown top-level"),
    ],
)
def test_malformed_scenarios(data, needle):
    with pytest.raises(pvsd.ScenarioError, match=needle):
        scenarios_from_dict(data)


def test_scenario_checked_against_model_before_running(teacup, tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[scenarios.a]\nset = { "Room Temprature" = 3 }\n')
    with pytest.raises(pvsd.UnknownVariableError, match="scenario 'a'"):
        pvsd.load_scenarios(f, teacup)
    f.write_text("[scenarios.a\n")
    with pytest.raises(pvsd.ScenarioError, match="not valid TOML"):
        pvsd.load_scenarios(f)


def test_scenario_roundtrips_through_toml(sfile, teacup, tmp_path):
    import tomli_w

    sset = pvsd.load_scenarios(sfile, teacup)
    out = tmp_path / "back.toml"
    out.write_text(tomli_w.dumps({"scenarios": {s.name: s.to_toml_table() for s in sset}}))
    back = pvsd.load_scenarios(out, teacup)
    for a, b in zip(sset, back, strict=True):
        ra = teacup.run(scenario=a, outputs=["Teacup Temperature"]).data
        rb = teacup.run(scenario=b, outputs=["Teacup Temperature"]).data
        np.testing.assert_array_equal(ra.to_numpy(), rb.to_numpy())
