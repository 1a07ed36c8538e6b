"""Settings that do something other than change a constant are never silent (issue 12 item 6)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import pvsd
from pvsd.errors import EquationOverrideWarning, IneffectiveSettingWarning

MODEL = Path(__file__).resolve().parent / "models" / "goal_seeking.mdl"


@pytest.fixture(scope="module")
def model():
    return pvsd.load(MODEL)


def test_setting_an_auxiliary_warns_and_says_what_happens(model) -> None:
    with pytest.warns(EquationOverrideWarning, match=r"'Gap' is an auxiliary.*replaces its equation"):
        res = model.run(params={"Gap": 10.0}, final_time=4, outputs=["Level"])
    # and it does what the warning says: Level grows by Gap/Adjustment Time = 2 per year
    df = res.to_dataframe()
    np.testing.assert_allclose(df["Level"].to_numpy(), 2.0 * df.index.to_numpy(), rtol=1e-12)


def test_setting_a_flow_warns(model) -> None:
    with pytest.warns(EquationOverrideWarning, match="'Adjustment' is a flow"):
        model.run(params={"Adjustment": 1.0}, final_time=2, outputs=["Level"])


def test_setting_a_constant_is_silent(model) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", EquationOverrideWarning)
        warnings.simplefilter("error", IneffectiveSettingWarning)
        model.run(params={"Goal": 50.0, "Adjustment Time": pvsd.Step(2, 2.0)}, final_time=5,
                  outputs=["Level"])


def test_step_after_the_run_warns(model) -> None:
    with pytest.warns(IneffectiveSettingWarning, match=r"'Goal'.*changes nothing.*0\.\.10"):
        res = model.run(params={"Goal": pvsd.Step(50, 200.0)}, final_time=10, outputs=["Level"])
    base = model.run(final_time=10, outputs=["Level"])
    np.testing.assert_array_equal(res.to_dataframe().to_numpy(), base.to_dataframe().to_numpy())


def test_ramp_after_the_run_warns(model) -> None:
    with pytest.warns(IneffectiveSettingWarning, match="'Adjustment Time'"):
        model.run(params={"Adjustment Time": pvsd.Ramp(20, 30, 1.0)}, final_time=10, outputs=["Level"])


def test_scenario_lever_outside_the_run_warns(model, tmp_path: Path) -> None:
    f = tmp_path / "s.toml"
    f.write_text('[scenarios.late]\n[scenarios.late.levers]\n"Goal" = { step = 90, to = 10 }\n')
    scen = pvsd.load_scenarios(f, model)
    with pytest.warns(IneffectiveSettingWarning):
        model.run(scenario=scen["late"], final_time=10, outputs=["Level"])
