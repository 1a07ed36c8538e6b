"""Panel calibration of a subscripted model whose dimension holds the units (issue 13).

The arrayed model ``panel_growth_arrayed.mdl`` is the scalar ``panel_growth.mdl`` with one
element per unit; fitting the same panel on both must give the same estimates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.calibration.panel import calibrate_panel, load_panel_spec
from pvsd.calibration.panel.problem import PanelProblem
from pvsd.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
SCALAR = ROOT / "tests" / "models" / "panel_growth.mdl"
ARRAYED = ROOT / "tests" / "models" / "panel_growth_arrayed.mdl"
YEARS = list(range(2000, 2021))
SHARED = {"Ceiling": 0.85, "Drift": 0.004}


def _write(tmp: Path, seed: int = 7) -> pd.DataFrame:
    """AAA-EEE fully observed, FFF with two observations (skipped), GGG without data."""
    rng = np.random.default_rng(seed)
    units = ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"]
    truth = pd.DataFrame({"unit": units, "Growth Rate": rng.uniform(0.15, 0.6, 6),
                          "Initial Level": rng.uniform(0.05, 0.3, 6)})
    m = pvsd.load(SCALAR)  # the data come from the scalar model: independent of the array engine
    ds = m.run_ensemble(truth[["Growth Rate", "Initial Level"]], params=SHARED, outputs=["Level"],
                        return_times=YEARS, final_time=2020, progress=False)
    y = ds["Level"].values + rng.normal(0, 0.01, (6, len(YEARS)))
    rows = [(u.lower() if u == "BBB" else u, t, y[i, j]) for i, u in enumerate(units)
            for j, t in enumerate(YEARS) if u != "FFF" or j < 2]
    pd.DataFrame(rows, columns=["country", "year", "value"]).to_csv(tmp / "panel.csv", index=False)
    return truth


def _spec(tmp: Path, model: Path, dimension: bool, extra: str = "", name: str = "s.toml") -> Path:
    p = tmp / name
    p.write_text(f"""
[calibration]
model = "{model.as_posix()}"
time_step = 0.125
[panel]
unit_column = "country"
min_observations = 4
holdout = 2
{'dimension = "country"' if dimension else ''}
[series.level]
file = "panel.csv"
variable = "Level"
[parameters.Ceiling]
scope = "shared"
lower = 0.3
upper = 1.5
[parameters.Drift]
scope = "shared"
lower = -0.05
upper = 0.05
[parameters."Growth Rate"]
scope = "unit"
lower = 0.01
upper = 2
[parameters."Initial Level"]
scope = "unit"
lower = 0
upper = 1
{extra}
""", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("dim")
    truth = _write(tmp)
    # the scalar twin: BBB is spelled bbb in the data; the arrayed run maps it to element BBB
    scalar_csv = pd.read_csv(tmp / "panel.csv").replace({"country": {"bbb": "BBB"}})
    (tmp / "scalar").mkdir()
    scalar_csv.to_csv(tmp / "scalar" / "panel.csv", index=False)
    r_arr = calibrate_panel(_spec(tmp, ARRAYED, True))
    r_sc = calibrate_panel(_spec(tmp / "scalar", SCALAR, False))
    return r_arr, r_sc, truth


def test_subscripted_panel_equals_scalar_twin(both: tuple) -> None:
    r_arr, r_sc, _ = both
    assert r_arr.units == r_sc.units == ("AAA", "BBB", "CCC", "DDD", "EEE")
    a, b = r_arr.shared.set_index("parameter"), r_sc.shared.set_index("parameter")
    np.testing.assert_allclose(a["value"], b["value"], rtol=1e-6)
    np.testing.assert_allclose(a["stderr"], b["stderr"], rtol=1e-4)
    ea = r_arr.estimates.set_index(["unit", "parameter"]).sort_index()
    eb = r_sc.estimates.set_index(["unit", "parameter"]).sort_index()
    np.testing.assert_allclose(ea["value"], eb["value"], rtol=1e-6)
    np.testing.assert_allclose(ea["stderr"], eb["stderr"], rtol=1e-4)
    fa = r_arr.forecast.set_index(["unit", "year"])["value"].sort_index()
    fb = r_sc.forecast.set_index(["unit", "year"])["value"].sort_index()
    np.testing.assert_allclose(fa, fb, rtol=1e-6)
    # one model run holds every unit: far fewer members than unit-runs
    assert r_arr.fit["ensemble_calls"] <= r_sc.fit["ensemble_calls"]
    assert any("GGG" in w and "model's own values" in w for w in r_arr.warnings)
    assert list(r_arr.skipped["unit"]) == ["FFF"]


def test_subscripted_panel_recovers_truth(both: tuple) -> None:
    r_arr, _, truth = both
    sh = r_arr.shared.set_index("parameter")
    for k, v in SHARED.items():
        assert abs(sh.loc[k, "value"] - v) < 3 * sh.loc[k, "stderr"], (k, sh.loc[k].to_dict())
    est = r_arr.estimates.merge(truth.melt(id_vars="unit", var_name="parameter",
                                           value_name="true"), on=["unit", "parameter"])
    z = (est["value"] - est["true"]) / est["stderr"]
    assert (np.abs(z) < 3.5).all(), est
    assert abs(r_arr.fit["sigma"]["level"] - 0.01) < 0.004


def test_subscripted_bad_input(tmp_path: Path) -> None:
    _write(tmp_path)
    with pytest.raises(SpecError, match=r"'Region' is not a dimension.*Country"):
        PanelProblem(load_panel_spec(_spec(tmp_path, ARRAYED, True).with_suffix(".toml")).with_options(
            dimension="Region"))
    df = pd.read_csv(tmp_path / "panel.csv")
    pd.concat([df, pd.DataFrame({"country": ["ZZZ"], "year": [2000], "value": [0.1]})]).to_csv(
        tmp_path / "bad.csv", index=False)
    p = _spec(tmp_path, ARRAYED, True)
    p.write_text(p.read_text().replace('"panel.csv"', '"bad.csv"'))
    with pytest.raises(SpecError, match=r"1 unit\(s\).*not elements of dimension 'Country': ZZZ\. "
                                        r"Its elements are: AAA, BBB"):
        PanelProblem(load_panel_spec(p))
    p = _spec(tmp_path, ARRAYED, True)
    p.write_text(p.read_text().replace('[parameters.Ceiling]\nscope = "shared"',
                                       '[parameters.Ceiling]\nscope = "unit"'))
    with pytest.raises(SpecError, match=r"parameter 'Ceiling' is a scalar; it varies by unit, so it "
                                        r"must be arrayed over Country"):
        PanelProblem(load_panel_spec(p))


def test_inputs_and_from_first_on_a_unit_dimension(tmp_path: Path) -> None:
    """Per-unit input series and first-observation initial values go to each unit's element."""
    _write(tmp_path)
    units = ["AAA", "BBB", "CCC", "DDD", "EEE"]
    push = pd.DataFrame([(u, y, 0.004 * (i + 1) * (y - 2000) / 10) for i, u in enumerate(units)
                         for y in (2000, 2010, 2016)], columns=["country", "year", "value"])
    push.to_csv(tmp_path / "push.csv", index=False)
    extra = '[inputs.push]\nfile = "push.csv"\nvariable = "External Push"\nbeyond = "trend"\n'
    specs = []
    for model, dim, name in ((ARRAYED, True, "a.toml"), (SCALAR, False, "b.toml")):
        p = _spec(tmp_path, model, dim, name=name)
        text = p.read_text().replace('[parameters."Initial Level"]\nscope = "unit"\nlower = 0\n'
                                     'upper = 1', '[parameters."Initial Level"]\nfrom_first = '
                                     '"level"')
        p.write_text(text + extra)
        specs.append(load_panel_spec(p))
    # the scalar twin reads BBB's rows under the element's spelling
    d = pd.read_csv(tmp_path / "panel.csv").replace({"country": {"bbb": "BBB"}})
    d.to_csv(tmp_path / "panel_scalar.csv", index=False)
    from dataclasses import replace

    specs[1] = replace(specs[1], series=(replace(specs[1].series[0],
                                                 file=tmp_path / "panel_scalar.csv"),))
    pa, ps = PanelProblem(specs[0]), PanelProblem(specs[1])
    assert pa.K == ps.K == 1 and "Initial Level" in pa.from_first
    np.testing.assert_allclose(pa.from_first["Initial Level"], ps.from_first["Initial Level"])
    rng = np.random.default_rng(3)
    s, U = np.repeat(rng.uniform(0.2, 0.8, (3, 2)), 5, axis=0), rng.uniform(0.1, 0.9, (15, 1))
    unit = np.tile(np.arange(5), 3)
    np.testing.assert_allclose(pa.predict(s, U, unit), ps.predict(s, U, unit), rtol=1e-10)
    assert pa.n_members == 3 and ps.n_members == 15


def test_fitted_step_paths_on_a_unit_dimension_replay_as_a_scenario(tmp_path: Path) -> None:
    """A unit-scope step year on the subscripted model: paths name each unit's element, and
    scenarios.toml replays the fitted run of every unit in one run of the model."""
    from pvsd.scenarios import load_scenarios
    from pvsd.timefunc import Step

    rng = np.random.default_rng(9)
    units = ["AAA", "BBB", "CCC", "DDD"]
    at = rng.uniform(2006, 2014, 4)
    m = pvsd.load(SCALAR)
    ds = m.run_ensemble(pd.DataFrame({"Growth Rate": rng.uniform(0.2, 0.5, 4),
                                      "Initial Level": rng.uniform(0.05, 0.3, 4),
                                      "External Push": [Step(a, 0.03, 0.0) for a in at]}),
                        params={"Ceiling": 0.85, "Drift": 0.004}, outputs=["Level"],
                        return_times=YEARS, final_time=2020, progress=False)
    y = ds["Level"].values + rng.normal(0, 0.01, (4, len(YEARS)))
    pd.DataFrame([(u, t, y[i, j]) for i, u in enumerate(units) for j, t in enumerate(YEARS)],
                 columns=["country", "year", "value"]).to_csv(tmp_path / "panel.csv", index=False)
    push = ('[parameters."External Push"]\npath = "step"\nfrom = 0\n'
            'at = { scope = "unit", lower = 2002, upper = 2018 }\n'
            'to = { scope = "shared", lower = 0, upper = 0.1 }\n')
    r = calibrate_panel(_spec(tmp_path, ARRAYED, True, extra=push))
    assert list(r.paths["variable"]) == [f"External Push[{u}]" for u in units]
    out = r.write(tmp_path / "out")
    arrayed = pvsd.load(ARRAYED)
    sc = load_scenarios(out.parent / "scenarios.toml", model=arrayed)["fitted"]
    run = arrayed.run(scenario=sc, return_times=YEARS, final_time=2020, time_step=0.125)
    frame = run.to_dataframe()
    for u in units:
        traj = r.trajectories[r.trajectories["unit"] == u].set_index("year")["fitted"]
        np.testing.assert_allclose(frame[f"Level[{u}]"].to_numpy(), traj.loc[YEARS].to_numpy(),
                                   rtol=1e-9)
