"""Variables whose equations cover only part of their array (``y[region, north] = ...``).

Vensim lets a variable be defined on some elements of a dimension only; PySD then
returns it with just those coordinates (or NaN elsewhere). pvsd lists and addresses
only the defined elements, keeps the others NaN in full arrays, and never fills them
with copies of the defined ones. References: the exact values of the equations, and
plain PySD on the same translation.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import pvsd
from pvsd.errors import UnknownVariableError

MDL = """{UTF-8}
region:
\tnorth, south, east
\t~\t
\t~\t\t|

sex:
\tfemale, male
\t~\t
\t~\t\t|

base[region, sex]=
\t1, 2; 3, 4; 5, 6;
\t~\tpeople
\t~\t\t|

women only[region, female]=
\tbase[region, female] * 10
\t~\tpeople
\t~\t\t|

weight[region, female]=
	2
	~	dmnl
	~		|

growth[region, sex] :EXCEPT: [east, male]=
\t0.1
\t~\t1/Month
\t~\t\t|

stock[region, female]= INTEG (
\tstock[region, female] * growth[region, female],
\t\tbase[region, female])
\t~\tpeople
\t~\t\t|

FINAL TIME  = 4
\t~\tMonth
\t~\t\t|

INITIAL TIME  = 0
\t~\tMonth
\t~\t\t|

SAVEPER  = 1
\t~\tMonth
\t~\t\t|

TIME STEP  = 1
\t~\tMonth
\t~\t\t|
"""

REGIONS = ["north", "south", "east"]
BASE_F = np.array([1.0, 3.0, 5.0])


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> pvsd.Model:
    path: Path = tmp_path_factory.mktemp("partial") / "partial.mdl"
    path.write_text(MDL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pvsd.load(path)


def test_only_defined_elements_are_listed_and_addressable(model):
    assert model.elements("women only") == [f"women only[{r},female]" for r in REGIONS]
    assert model.elements("stock") == [f"stock[{r},female]" for r in REGIONS]
    # an EXCEPT clause removes its element
    assert model.elements("growth") == [f"growth[{r},{s}]" for r in REGIONS
                                        for s in ("female", "male")
                                        if (r, s) != ("east", "male")]
    assert model.elements("base") == [f"base[{r},{s}]" for r in REGIONS
                                      for s in ("female", "male")]
    with pytest.raises(UnknownVariableError, match="no equation for this element"):
        model.resolve("women only[north, male]")
    with pytest.raises(UnknownVariableError, match="no equation"):
        model.run(outputs=["growth[east, male]"])


def _check(res, rate=0.1):
    df = res.to_dataframe()
    assert not any("male]" in c and "female" not in c for c in df.columns
                   if c.startswith(("women only", "stock"))), df.columns
    t = df.index.to_numpy()
    for k, r in enumerate(REGIONS):
        np.testing.assert_allclose(df[f"women only[{r},female]"], 10 * BASE_F[k], rtol=1e-12)
        # Euler with dt = 1: (1 + rate)^t exactly at whole months
        np.testing.assert_allclose(df[f"stock[{r},female]"], BASE_F[k] * (1 + rate) ** t,
                                   rtol=1e-12)
    xa = res.to_xarray()["stock"]
    assert xa.dims == ("time", "region", "sex")
    assert np.isnan(xa.sel(sex="male")).all()
    np.testing.assert_allclose(xa.sel(sex="female", time=4.0), BASE_F * 1.1**4, rtol=1e-12)


def test_run_gives_the_exact_values_and_nan_only_where_undefined(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the engine must agree with PySD
        res = model.run(outputs=["women only", "stock", "growth"])
    _check(res)


def test_pysd_path_gives_the_same_frame(model, monkeypatch):
    res_engine = model.run(outputs=["women only", "stock"])
    frame = model._simulate_pysd({}, 0.0, 4.0, 1.0, np.arange(5.0), ["women only", "stock"])
    assert list(frame.columns) == list(res_engine.to_dataframe().columns)
    np.testing.assert_allclose(frame.to_numpy(), res_engine.to_dataframe().to_numpy(),
                               rtol=1e-12)


def test_ensemble_sets_a_defined_element_and_keeps_the_rest_nan(model):
    import pandas as pd

    frame = pd.DataFrame({"growth[north, female]": [0.1, 0.2]})
    ds = model.run_ensemble(frame, outputs=["stock"], workers=1)
    assert ds.attrs["engine"] == "vectorized"
    got = ds["stock"].sel(region="north", sex="female").to_numpy()
    np.testing.assert_allclose(got, BASE_F[0] * np.array([[1.1], [1.2]]) ** np.arange(5.0),
                               rtol=1e-12)
    assert np.isnan(ds["stock"].sel(sex="male")).all()
    # a mapping over the defined elements is a full setting: no "element has no value" error
    assert model.elements("weight") == [f"weight[{r},female]" for r in REGIONS]
    res = model.run(params={"weight": {"north, female": 1.0, "south, female": 2.5,
                                       "east, female": 3.0}}, outputs=["weight"])
    np.testing.assert_allclose(res.to_dataframe().iloc[0].to_numpy(), [1.0, 2.5, 3.0])
    res = model.run(params={"weight[south, female]": 4.0}, outputs=["weight"])
    np.testing.assert_allclose(res.to_dataframe().iloc[0].to_numpy(), [2.0, 4.0, 2.0])
    with pytest.raises(UnknownVariableError, match="no equation"):
        model.run(params={"weight[south, male]": 4.0})
