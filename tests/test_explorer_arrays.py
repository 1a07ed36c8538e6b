"""The explorer offers a slider per element of an arrayed constant (issue 11: explorer levers)."""

from __future__ import annotations

import numpy as np

import pvsd
from pvsd.explorer.levers import discover_levers


def test_arrayed_constants_get_one_slider_per_element() -> None:
    model = pvsd.load("public_value_actors")
    levers = {lv.name: lv for lv in discover_levers(model)}
    defaults = model.defaults("Collaboration Investment")  # xarray over Actor
    for actor in model.subscripts["Actor"]:
        lv = levers[f"Collaboration Investment[{actor}]"]
        assert lv.default == float(defaults.sel(Actor=actor))
    # moving one element's slider is the same what-if as setting that element
    lv = levers["Collaboration Investment[Firms]"]
    full = defaults.copy()
    full.loc[{"Actor": "Firms"}] = lv.default * 2
    by_slider = model.run(params={lv.name: lv.default * 2}, outputs=["Public Trust"])
    by_array = model.run(params={"Collaboration Investment": full}, outputs=["Public Trust"])
    np.testing.assert_array_equal(by_slider.to_dataframe().to_numpy(), by_array.to_dataframe().to_numpy())
    assert not np.array_equal(by_slider.to_dataframe().to_numpy(),
                              model.run(outputs=["Public Trust"]).to_dataframe().to_numpy())


def test_arrayed_outputs_get_one_chart_per_element() -> None:
    """The dashboard charts Engagement element by element (it raised KeyError 'Engagement'),
    each line equal to Model.run at the same settings."""
    from pvsd.explorer.core import Explorer

    model = pvsd.load("public_value_actors")
    ex = Explorer(model)
    eng = [f"Engagement[{a}]" for a in model.subscripts["Actor"]]
    assert all(e in ex.outputs for e in eng) and "Engagement" not in ex.outputs
    assert ex.units["Engagement[Firms]"] == model.units["Engagement"]
    settings = ex.parse({"Collaboration Investment[Firms]": 0.3})
    fig = ex.figure(settings)
    want = model.run(params={"Collaboration Investment[Firms]": 0.3}, outputs=eng).to_dataframe()
    k = ex.outputs.index("Engagement[Firms]")
    axis = "y" if k == 0 else f"y{k + 1}"
    current = [t for t in fig["data"] if t.get("yaxis") == axis
               and (t.get("legendgroup") == "current" or "Current" in str(t.get("name")))]
    assert current, [t.get("name") for t in fig["data"] if t.get("yaxis") == axis]
    np.testing.assert_allclose(current[0]["y"], want["Engagement[Firms]"].to_numpy(), rtol=1e-12)
    # a named arrayed output also becomes its elements
    assert Explorer(model, outputs=["Engagement"]).outputs == eng
