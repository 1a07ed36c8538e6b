"""``pvsd explore --set``: every run uses the value, a slider starts at it, saves and reports record it.

The independent reference is ``Model.run(params=...)`` with the same values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pvsd
from pvsd.explorer import Explorer
from pvsd.timefunc import Step

pytest.importorskip("dash", reason="the explorer needs Dash (pip install dash)")

TRUST = "Public Trust"
TECH = "Technology Investment"  # a slider, declared [0, 1]
COPRO = "Coproduction Programme"
SCALE = "Value Creation Scale"  # no declared range: no slider
SETS = {TECH: 0.6, SCALE: 1.4}


@pytest.fixture(scope="module")
def model() -> pvsd.Model:
    return pvsd.load("public_value_chain")


@pytest.fixture(scope="module")
def explorer(model: pvsd.Model, tmp_path_factory: pytest.TempPathFactory) -> Explorer:
    from pvsd.resources import bundled_scenarios

    save_to = tmp_path_factory.mktemp("explorer-set") / "saved.toml"
    return Explorer(model, bundled_scenarios(model.name), None, save_to=save_to, band_runs=40,
                    sets={"technology investment": 0.6, SCALE: 1.4})


def trace(fig: dict, variable: str, run: str = "current") -> np.ndarray:
    for tr in fig["data"]:
        if tr.get("meta", {}).get("run") == run and tr["meta"].get("variable") == variable:
            return np.asarray(tr["y"], dtype=float)
    raise AssertionError(f"no {run} trace of {variable}")


def test_baseline_and_sliders_start_from_the_set_values(explorer: Explorer, model: pvsd.Model) -> None:
    assert explorer.sets == SETS
    assert explorer.by_name[TECH].default == 0.6 and explorer.model_values[TECH] == 0.3
    assert SCALE not in explorer.by_name
    up = explorer.update({}, None, [], False)
    ref = model.run(params=SETS, outputs=[TRUST])[TRUST].to_numpy()
    plain = model.run(outputs=[TRUST])[TRUST].to_numpy()
    assert not np.allclose(ref, plain)
    np.testing.assert_allclose(trace(up.figure, TRUST), ref, rtol=1e-10)
    np.testing.assert_allclose(trace(up.figure, TRUST, "baseline"), ref, rtol=1e-10)
    assert explorer.parse({TECH: 0.6}).is_baseline  # the slider at its start is no change


def test_moving_the_slider_wins_and_steps_start_from_the_set_value(explorer: Explorer, model: pvsd.Model) -> None:
    up = explorer.update({TECH: 0.2, COPRO: 0.4}, None, [], False)
    ref = model.run(params={SCALE: 1.4, TECH: 0.2, COPRO: 0.4}, outputs=[TRUST])[TRUST].to_numpy()
    np.testing.assert_allclose(trace(up.figure, TRUST), ref, rtol=1e-10)
    st = explorer.update({}, {TECH: {"on": True, "year": 2025, "to": 0.9}}, [], False)
    assert explorer.params(st.settings) == {**SETS, TECH: Step(2025.0, 0.9, 0.6)}
    ref = model.run(params={SCALE: 1.4, TECH: Step(2025, 0.9, 0.6)}, outputs=[TRUST])[TRUST].to_numpy()
    np.testing.assert_allclose(trace(st.figure, TRUST), ref, rtol=1e-10)


def test_scenario_overlays_carry_set_on_top(explorer: Explorer, model: pvsd.Model) -> None:
    from pvsd.overrides import scenario_with_sets

    name = next(iter(explorer.scenarios))
    fig = explorer.update({}, None, [name], False).figure
    ref = model.run(scenario=scenario_with_sets(model, explorer.scenarios[name], SETS), outputs=[TRUST])
    np.testing.assert_allclose(trace(fig, TRUST, f"scenario:{name}"), ref[TRUST].to_numpy(), rtol=1e-10)


def test_saved_scenario_replays_the_run(explorer: Explorer, model: pvsd.Model) -> None:
    values = {COPRO: 0.45}
    steps = {TECH: {"on": True, "year": 2030, "to": 0.8}}
    ok, msg = explorer.save("Set and push", values, steps)
    assert ok, msg
    scen = pvsd.load_scenarios(explorer.save_to, model)["set_and_push"]
    assert scen.constants == {SCALE: 1.4, COPRO: 0.45}
    assert scen.levers == {TECH: Step(2030.0, 0.8, 0.6)}
    direct = model.run(scenario=scen, outputs=explorer.outputs).data
    np.testing.assert_allclose(direct.to_numpy(), explorer.run(explorer.parse(values, steps)).to_numpy(),
                               rtol=1e-12)


def test_exported_report_records_set(explorer: Explorer) -> None:
    rep = explorer.report(explorer.parse({COPRO: 0.4}))
    assert rep.provenance["set"] == SETS
    assert rep.provenance["parameters"][SCALE] == 1.4 and rep.provenance["parameters"][TECH] == 0.6
    text = rep.render()
    assert "Run with --set " in text and f"{TECH}=0.6" in text and f"{SCALE}=1.4" in text


def test_bands_hold_set_constants(explorer: Explorer) -> None:
    if not explorer.uncertainty_available:
        pytest.skip(explorer.uncertainty_note)
    name = explorer.bands_config.space.names[0]
    ex = Explorer(explorer.model, None, explorer.bands_config.space, band_runs=20,
                  sets={name: explorer.by_name[name].default})
    b = ex.bands(ex.parse({}))
    assert name in b.held and name not in b.varied


@pytest.mark.parametrize(("sets", "expect"), [
    ({"Nope": 1.0}, "Unknown variable 'Nope' in --set"),
    ({TECH: 1.5}, "outside the range the model declares for it, [0, 1]"),
])
def test_bad_sets_are_refused(model: pvsd.Model, sets, expect: str) -> None:
    with pytest.raises(pvsd.PvsdError) as err:
        Explorer(model, None, False, sets=sets)
    assert expect in " ".join(str(err.value).split())


def test_set_outside_a_derived_slider_range_names_it(teacup: pvsd.Model) -> None:
    # teacup declares [0, ?] for Characteristic Time (10): the explorer's slider spans 0 to 20
    with pytest.raises(pvsd.PvsdError, match=r"also a slider, whose range is \[0, 20\]"):
        Explorer(teacup, None, False, sets={"Characteristic Time": 50})


def test_cli_bad_set_exits_2_before_serving(capsys) -> None:
    from pvsd.cli import main

    assert main(["explore", "public_value_chain", "--no-browser", "--port", "0", "--set", "Nope=1"]) == 2
    err = capsys.readouterr().err
    assert "Unknown variable 'Nope' in --set" in " ".join(err.split()) and "Traceback" not in err
    assert main(["explore", "--no-browser", "--set", f"{TECH}=x"]) == 2
    assert "is not a number" in capsys.readouterr().err


def test_layout_says_where_a_slider_starts(model: pvsd.Model, tmp_path: Path) -> None:
    from pvsd.explorer.app import create_app

    app = create_app(model, None, False, save_to=tmp_path / "s.toml", sets={TECH: 0.6})
    text = str(app.layout)
    assert "--set value 0.60 (model file: 0.30)" in text
    assert "Reset every slider to its starting value (--set or the model's)" in text
