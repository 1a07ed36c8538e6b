"""Subscripted models through the front end: names, settings, results, scenarios, specs.

References: plain PySD runs with xarray parameters, and the exact Euler solution of
engagement decay in the bundled actor model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.errors import ParameterError, UnknownVariableError
from pvsd.timefunc import Step, Table

ACTORS = ["Government", "Firms", "Civil Society"]


@pytest.fixture(scope="module")
def actors():
    return pvsd.load("public_value_actors")


def _plain(model, params):
    import pysd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pysd.load(str(model.source.py_path))
        return m.run(params={model._py[k]: v for k, v in params.items()})


def test_dims_and_names(actors):
    assert actors.subscripts == {"Actor": tuple(ACTORS)}
    v = actors.variables.set_index("name")
    assert v.loc["Engagement", "dims"] == "Actor" and v.loc["Public Trust", "dims"] == ""
    assert actors.resolve("engagement[civil_society]") == "Engagement[Civil Society]"
    assert actors.elements("Engagement") == [f"Engagement[{a}]" for a in ACTORS]
    assert actors.expand("Collaboration Investment[*]") == [
        f"Collaboration Investment[{a}]" for a in ACTORS]
    assert actors.default("Engagement Lifetime[Firms]") == 5.0
    with pytest.raises(UnknownVariableError, match="Government, Firms, Civil Society"):
        actors.resolve("Engagement[Farms]")
    with pytest.raises(UnknownVariableError, match="one element per dimension"):
        actors.resolve("Engagement[Firms, Government]")


def test_settings_in_every_form_equal_plain_pysd(actors):
    import xarray as xr

    want = xr.DataArray([0.3, 0.05, 0.2], {"Actor": ACTORS}, ["Actor"])
    ref = _plain(actors, {"Collaboration Investment": want})
    forms = [
        {"Collaboration Investment": [0.3, 0.05, 0.2]},
        {"Collaboration Investment": {"government": 0.3, "Firms": 0.05, "Civil Society": 0.2}},
        {"Collaboration Investment": want},
        {"Collaboration Investment": 0.2, "Collaboration Investment[Government]": 0.3,
         "Collaboration Investment[firms]": 0.05},
    ]
    for params in forms:
        res = actors.run(params=params).to_dataframe()
        for a in ACTORS:
            np.testing.assert_allclose(res[f"Engagement[{a}]"], ref[f"Engagement[{a}]"],
                                       rtol=1e-12)
        np.testing.assert_allclose(res["Public Trust"], ref["Public Trust"], rtol=1e-12)


def test_broadcast_scalar_matches_exact_euler_decay(actors):
    res = actors.run(params={"Collaboration Investment": 0.0})
    dt, t = actors.time_step, res.times - actors.initial_time
    for a, e0, life in zip(ACTORS, [0.3, 0.2, 0.1], [8, 5, 6], strict=True):
        np.testing.assert_allclose(res[f"Engagement[{a}]"], e0 * (1 - dt / life) ** (t / dt),
                                   rtol=1e-12)


def test_bounds_checked_per_element(actors):
    with pytest.raises(ParameterError, match=r"Collaboration Investment\[Firms\]|outside"):
        actors.run(params={"Collaboration Investment[Firms]": 2.0})
    with pytest.raises(ParameterError, match="outside"):
        actors.run(params={"Collaboration Investment": [0.1, 0.1, 5.0]})
    with pytest.raises(ParameterError, match="expected 3 values"):
        actors.run(params={"Collaboration Investment": [0.1, 0.1]})


def test_results_shapes_and_labels(actors, tmp_path):
    res = actors.run(outputs=["Engagement", "Public Trust", "engagement growth[firms]"])
    assert list(res.to_dataframe().columns) == [f"Engagement[{a}]" for a in ACTORS] + [
        "Public Trust", "engagement growth[Firms]"]
    ds = res.to_xarray()
    assert ds["Engagement"].dims == ("time", "Actor")
    assert list(ds["Actor"].values) == ACTORS
    np.testing.assert_array_equal(ds["Engagement"].sel(Actor="Firms"),
                                  res["Engagement[Firms]"])
    assert res["Engagement"].shape == (len(res.times), 3)
    out = res.to_csv(tmp_path / "run.csv")
    back = pd.read_csv(out, comment="#", index_col=0)
    names = set(back["variable"]) if "variable" in back.columns else set(back.columns)
    assert "Engagement[Civil Society]" in names
    fig = res.plot(["Engagement[Firms]"])
    assert len(fig.data) >= 1


def test_time_levers_per_element(actors):
    base = actors.run().to_dataframe()
    stepped = actors.run(params={"Collaboration Investment[Firms]": Step(2025, 0.4)}
                         ).to_dataframe()
    before = stepped.index < 2025
    np.testing.assert_allclose(stepped[before], base[before], rtol=1e-14)
    assert (stepped.loc[2030, "Engagement[Firms]"] > base.loc[2030, "Engagement[Firms]"])
    # a flat table on one element equals the constant setting of that element
    flat = actors.run(params={"Collaboration Investment[Firms]": Table((2020, 2050), (0.4, 0.4))})
    const = actors.run(params={"Collaboration Investment[Firms]": 0.4})
    np.testing.assert_allclose(flat.to_dataframe(), const.to_dataframe(), rtol=1e-12)


def test_bundled_scenarios_per_element(actors):
    sc = pvsd.load_scenarios(pvsd.resources.scenario_file("public_value_actors")
                             if hasattr(pvsd, "resources") and hasattr(
                                 pvsd.resources, "scenario_file")
                             else actors.path.parent / "scenarios" / "public_value_actors.toml",
                             actors)
    comp = pvsd.run_scenarios(actors, sc)
    t = comp.table()
    assert {"Engagement[Firms]", "Public Trust"} <= set(t["variable"])
    gov = t[(t.scenario == "government_alone") & (t.variable == "Engagement[Government]")]
    assert (gov["difference"] > 0).all()


def test_ensemble_dims_and_netcdf(actors, tmp_path):
    import xarray as xr

    samples = pd.DataFrame({"Collaboration Investment[Firms]": [0.1, 0.2, 0.3],
                            "Trust Adjustment Time": [3, 4, 5]})
    ds = actors.run_ensemble(samples, outputs=["Engagement", "Public Trust"], workers=1)
    assert ds["Engagement"].dims == ("run", "time", "Actor")
    for i in range(3):
        one = actors.run(params={"Collaboration Investment[Firms]": samples.iloc[i, 0],
                                 "Trust Adjustment Time": float(samples.iloc[i, 1])})
        np.testing.assert_allclose(ds["Engagement"].isel(run=i).sel(Actor="Firms"),
                                   one["Engagement[Firms]"], rtol=1e-9)
    path = tmp_path / "ens.nc"
    ds.to_netcdf(path)
    with xr.open_dataset(path) as back:
        assert back["Engagement"].dims == ("run", "time", "Actor")


def test_parameter_space_each_element(actors):
    from pvsd.parameters import ParameterSpace

    space = ParameterSpace.from_dict({"parameters": {
        "Collaboration Investment[*]": {"lower": 0.05, "upper": 0.3}}}).validate(actors)
    assert space.names == [f"Collaboration Investment[{a}]" for a in ACTORS]
    samples = space.sample(8, seed=1)
    ds = actors.run_ensemble(samples, outputs=["Coproduced Value"], workers=1)
    assert ds["Coproduced Value"].dims == ("run", "time")
