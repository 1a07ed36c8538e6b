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
