"""Reference model v2: structure, ranges by construction, levers, measurement layer, loops.

Fast checks only; the full validation (panel forecast skill, US calibration, 1,000-draw claims)
is calibration/validate_v2.py.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.scenarios import load_scenarios

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "public_value_chain_v2.mdl"
SCEN = ROOT / "models" / "scenarios" / "public_value_chain_v2.toml"
INDICATORS = ROOT.parent / "shared" / "data" / "indicators"
sys.path.insert(0, str(ROOT / "calibration"))

STOCKS = [
    "Agile Capability",
    "Collaboration Capacity",
    "Digital Capability",
    "Hierarchical Control",
    "Measured Performance",
    "Public Expectations",
    "Public Trust",
    "Service Quality",
    "Technology Organisation Fit",
    "Value Understanding",
]


@pytest.fixture(scope="module")
def model():
    return pvsd.load(str(MODEL))


@pytest.fixture(scope="module")
def scenarios(model):
    return load_scenarios(SCEN, model)


def test_every_variable_has_units_and_comment(model):
    t = model.variables
    t = t[t["kind"] != "control"]
    assert (t["units"].fillna("").str.len() > 0).all(), t.loc[t["units"].fillna("") == "", "name"].tolist()
    assert (t["comment"].fillna("").str.len() > 10).all()


def test_runs_on_the_vectorised_engine_and_matches_plain_pysd(model):
    draws = pd.DataFrame({"Digital Government Budget": [0.2, 0.9], "Partner Selectivity": [0.1, 0.9]})
    ens = model.run_ensemble(draws, outputs=["Public Trust", "EGDI Indicator"], progress=False)
    assert ens.attrs["engine"] == "vectorized", ens.attrs.get("fallback_reason")
    import pysd

    py = pysd.read_vensim(str(MODEL))
    ref = py.run(
        params={"Digital Government Budget": 0.9, "Partner Selectivity": 0.9},
        return_columns=["Public Trust"],
        return_timestamps=list(range(2000, 2051)),
    )
    np.testing.assert_allclose(ens["Public Trust"].isel(run=1).to_numpy(), ref["Public Trust"].to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("dt", [0.25, 0.125])
@pytest.mark.parametrize("name", ["baseline", "technology_alone", "severe_trust_shock", "bigger_budget_balanced"])
def test_stocks_stay_in_range_at_every_step(model, scenarios, name, dt):
    rng = np.random.default_rng(7)
    draws = pd.DataFrame(
        {
            "Capability Build Time": rng.uniform(0.5, 5, 50),
            "Trust Adjustment Time": rng.uniform(2, 15, 50),
            "Trust Loss Asymmetry": rng.uniform(1, 2, 50),
            "Fit Sensitivity to New Technology": rng.uniform(0, 2, 50),
            "Frontier Growth Rate": rng.uniform(0, 0.2, 50),
        }
    )
    ens = model.run_ensemble(
        draws,
        outputs=STOCKS,
        scenario=None if name == "baseline" else scenarios[name],
        time_step=dt,
        save_every=dt,
        progress=False,
    )
    for v in STOCKS:
        x = ens[v].to_numpy()
        assert x.min() >= 0 and x.max() <= 1, (v, x.min(), x.max())


def test_shock_loss_is_independent_of_the_time_step(model, scenarios):
    s = scenarios["severe_trust_shock"]
    a = model.run(scenario=s, outputs=["Public Trust"], time_step=0.25).to_dataframe()["Public Trust"]
    b = model.run(scenario=s, outputs=["Public Trust"], time_step=0.0625).to_dataframe()["Public Trust"]
    assert abs(a.loc[2031] - b.loc[2031]) < 0.01
    base = model.run(outputs=["Public Trust"]).to_dataframe()["Public Trust"]
    assert b.loc[2031] < 0.2 * base.loc[2030] + 0.05  # 90% lost within half a year, little regained yet


def test_budget_is_finite_and_has_diminishing_returns(model):
    """Spreading a budget beats concentrating it; doubling a lever's share less than doubles it."""
    r = model.run(
        params={
            "Technology Allocation": 1,
            "Reform Allocation": 0,
            "Collaboration Allocation": 0,
            "Agile Allocation": 0,
        },
        outputs=["Technology Intensity", "Reform Programme Intensity"],
    )
    df = r.to_dataframe()
    assert (df["Reform Programme Intensity"] == 0).all()
    h = 0.2
    s = df["Technology Intensity"].iloc[0]
    # Available Budget at t0 = 0.5 * (0.5 + 0.5 * 0.35) with the default Budget Support
    avail = 0.5 * (0.5 + 0.5 * 0.35)
    assert math.isclose(s, avail * (1 + h) / (avail + h), rel_tol=1e-9)
    half = avail / 2 * (1 + h) / (avail / 2 + h)
    assert half > s / 2  # concave


def test_value_weights_come_from_participation(model):
    r = model.run(
        outputs=["Service Value Weight", "Responsiveness Value Weight", "Legitimacy Value Weight", "Participation"]
    ).to_dataframe()
    tot = r[["Service Value Weight", "Responsiveness Value Weight", "Legitimacy Value Weight"]].sum(axis=1)
    assert np.allclose(tot, 1, atol=2e-3)
    r0 = model.run(
        params={
            "Participation Floor": 0,
            "Initial Collaboration Capacity": 0,
            "Initial Digital Capability": 0,
            "Digital Government Budget": 0,
        },
        outputs=["Service Value Weight", "Participation"],
    ).to_dataframe()
    assert r0["Participation"].iloc[0] == 0 and math.isclose(r0["Service Value Weight"].iloc[0], 1 / 3)


def test_egdi_indicator_is_the_mean_of_its_components(model):
    r = model.run(
        params={"Human Capital Index Input": 0.8, "Telecom Reference Level": 0.6, "Telecom Diffusion Rate": 0.1},
        outputs=["EGDI Indicator", "Online Service Index Indicator", "Telecom Infrastructure Index Input"],
    ).to_dataframe()
    np.testing.assert_allclose(
        r["EGDI Indicator"], (r["Online Service Index Indicator"] + 0.8 + r["Telecom Infrastructure Index Input"]) / 3
    )
    assert math.isclose(r.loc[2020, "Telecom Infrastructure Index Input"], 0.6)
    # logistic diffusion: the log-odds grow by rate x years (0.1 x 10 = 1)
    assert math.isclose(r.loc[2030, "Telecom Infrastructure Index Input"], 1 / (1 + (0.4 / 0.6) * math.exp(-1.0)))


def test_service_quality_is_not_capped_by_a_constant(model):
    r = model.run(
        params={
            "Digital Government Budget": 1,
            "Traditional Service Base": 0.6,
            "Technology Allocation": 0.3,
            "Reform Allocation": 0.3,
            "Collaboration Allocation": 0.2,
            "Agile Allocation": 0.2,
            "Partner Selectivity": 1,
        },
        outputs=["Service Quality"],
    ).to_dataframe()
    assert r["Service Quality"].iloc[-1] > 0.8


def test_named_loops_carry_half_the_loop_score(model):
    from pvsd.loops import loops

    L = loops(model).loops
    named = L["name"].fillna("") != ""
    share = L.loc[named, "mean_abs_relative_score"].sum() / L["mean_abs_relative_score"].sum()
    assert share >= 0.5, share


@pytest.mark.skipif(not (INDICATORS / "un_egdi_panel_2003_2022_long.csv").exists(), reason="shared indicators absent")
def test_panel_loader_and_naive_forecasts():
    import egdi_panel_v2 as panel

    data = panel.load_panel(INDICATORS, 2020)
    assert len(data.units) >= 150 and "DNK" in data.units
    nv = panel.naive_forecasts(data.egdi.loc[["DNK"]], 2020, 2022)
    e = data.egdi.loc["DNK", [2014, 2016, 2018, 2020]].to_numpy(float)
    assert math.isclose(nv.loc["DNK", "last_value"], e[-1])
    assert math.isclose(nv.loc["DNK", "drift"], e[-1] + (e[-1] - e[0]) / 6 * 2)
    slope, icpt = np.polyfit([2014, 2016, 2018, 2020], e, 1)
    assert math.isclose(nv.loc["DNK", "linear_trend"], slope * 2022 + icpt)


def test_capability_seeks_its_sustainable_level(model):
    """With Capability Build Time = Obsolescence Time = tau and no frontier drift the capability
    equation is exactly dC/dt = (Sustainable Capability - C) / tau (first-order goal seeking)."""
    tau = 4.0
    res = model.run(
        params={"Capability Build Time": tau, "Obsolescence Time": tau, "Frontier Growth Rate": 0.0},
        outputs=["Digital Capability", "Sustainable Capability", "Capability Building", "Capability Obsolescence"],
    ).to_dataframe()
    net = res["Capability Building"] - res["Capability Obsolescence"]
    np.testing.assert_allclose(net, (res["Sustainable Capability"] - res["Digital Capability"]) / tau, atol=1e-12)
    # and a run that starts at the sustainable level of a steady state stays there
    assert ((res["Sustainable Capability"] >= 0) & (res["Sustainable Capability"] <= 1)).all()


@pytest.mark.skipif(not (INDICATORS / "un_egdi_panel_2003_2022_long.csv").exists(), reason="shared indicators absent")
def test_wave_ahead_fit_starts_from_the_observed_wave_and_sees_no_later_data(model):
    import egdi_panel_v2 as panel

    data = panel.load_panel(INDICATORS, 2018)
    # inputs are built from waves up to the last fitted one only
    assert data.inputs["Input Reference Year"].max() <= 2018
    assert data.years.max() == 2018
    keep = [data.units.index(u) for u in ("DNK", "USA", "IND", "NGA", "BRA")]
    sub = panel.PanelData(
        [data.units[i] for i in keep], data.years, data.osi[keep], data.hci[keep], data.tii[keep],
        data.egdi.iloc[keep], data.inputs.iloc[keep],
    )
    wf = panel.WaveFit(model, sub)
    x = wf.x0()
    # every pair of consecutive assessed waves is a member, starting from the observed OSI
    assert len(wf.seg) == sum(int((np.isfinite(r) & (r > 0)).sum()) - 1 for r in sub.osi)
    # a forecast with horizon 0 is the measurement layer at the observed state: the UN's own
    # EGDI (mean of the three components) of the last fitted wave, reproduced to rounding
    fc = wf.forecast(x, 2018.0)
    np.testing.assert_allclose(fc["egdi"].to_numpy(), sub.egdi[2018].to_numpy(float), atol=2e-4)
    # one residual per pair, zero-length-free, finite
    r = wf.residuals(x)
    assert r.shape == (len(wf.seg),) and np.isfinite(r).all()


def test_engine_checks_an_unread_bounded_stock(tmp_path):
    """Regression: a stock with a declared range that nothing reads and that is not an output
    must still be computed (its range is checked every step), not raise NameError."""
    mdl = tmp_path / "unread.mdl"
    mdl.write_text(
        "{UTF-8}\nRate=\n\t0.5\n\t~\t1/Year [0,1]\n\t~\tinflow.\n\t|\n\n"
        "Other=\n\tRate * 2\n\t~\t1/Year\n\t~\tread by nobody else.\n\t|\n\n"
        "Total= INTEG (\n\tRate,\n\t\t0)\n\t~\tDmnl [0,?]\n\t~\tstock nobody reads.\n\t|\n\n"
        "FINAL TIME  = 10\n\t~\tYear\n\t~\tend.\n\t|\n\nINITIAL TIME  = 0\n\t~\tYear\n\t~\tstart.\n\t|\n\n"
        "SAVEPER  = 1\n\t~\tYear\n\t~\tsave.\n\t|\n\nTIME STEP  = 0.25\n\t~\tYear\n\t~\tstep.\n\t|\n"
    )
    m = pvsd.load(str(mdl))
    ens = m.run_ensemble(pd.DataFrame({"Rate": [0.1, 0.9]}), outputs=["Other"], progress=False)
    assert ens.attrs["engine"] == "vectorized", ens.attrs.get("fallback_reason")
    np.testing.assert_allclose(ens["Other"].isel(time=-1).to_numpy(), [0.2, 1.8])


@pytest.mark.skipif(not (INDICATORS / "un_egdi_panel_2003_2022_long.csv").exists(), reason="shared indicators absent")
def test_panel_script_takes_a_later_wave_and_refuses_duplicates(tmp_path):
    """A later wave (a file nobody here has seen) becomes the target by default; the fit sees
    none of it; duplicated country-years are refused by name."""
    import egdi_panel_v2 as panel

    d = pd.read_csv(INDICATORS / "un_egdi_panel_2003_2022_long.csv")
    later = d[d["survey_year"] == 2022].copy()
    later["survey_year"] = 2024
    rng = np.random.default_rng(7)
    later["osi"] = np.clip(later["osi"] + rng.normal(0, 0.05, len(later)), 0, 1)
    later["egdi"] = (later["osi"] + later["hci"] + later["tii"]) / 3
    folder = tmp_path / "indicators"
    folder.mkdir()
    d.to_csv(folder / "un_egdi_panel_2003_2022_long.csv", index=False)
    pd.concat([d, later]).to_csv(folder / "un_egdi_panel_2003_2024_long.csv", index=False)
    assert panel.egdi_file(folder).name == "un_egdi_panel_2003_2024_long.csv"
    assert panel.default_waves(folder) == (2022, 2024)
    data = panel.load_panel(folder, 2022)
    assert data.years.max() == 2022 and data.inputs["Input Reference Year"].max() <= 2022
    base = panel.load_panel(INDICATORS, 2022)
    assert data.units == base.units
    np.testing.assert_array_equal(data.osi, base.osi)
    pd.concat([d, d.iloc[:1]]).to_csv(folder / "un_egdi_panel_2003_2026_long.csv", index=False)
    with pytest.raises(SystemExit, match="duplicate country-years"):
        panel.load_panel(folder, 2022)


@pytest.mark.parametrize("loss", ["huber", "soft_l1", "cauchy"])
def test_panel_script_robust_residuals_give_scipys_loss(loss, monkeypatch):
    """Sum of squares of the transformed residuals = f^2 sum rho((r / f)^2), with rho from
    scipy's least_squares (the reference implementation of these losses)."""
    import egdi_panel_v2 as panel

    lsq = pytest.importorskip("scipy.optimize._lsq.least_squares", reason="scipy moved its losses")
    IMPLEMENTED_LOSSES = lsq.IMPLEMENTED_LOSSES
    monkeypatch.setattr(panel, "ROBUST", loss)
    r = np.random.default_rng(7).normal(0, 0.1, 200) * np.r_[np.ones(190), np.full(10, 8.0)]
    f = 0.05
    got = panel._robust(r, f)
    z = (r / f) ** 2
    rho = np.empty((3, z.size))
    IMPLEMENTED_LOSSES[loss](z, rho, cost_only=False)
    np.testing.assert_allclose(got**2, f**2 * rho[0], rtol=1e-12, atol=1e-15)
    assert np.all(np.sign(got) == np.sign(r))
    small = np.abs(r) < 0.01 * f  # quadratic near 0: plain residuals there
    np.testing.assert_allclose(got[small], r[small], rtol=1e-3)
    monkeypatch.setattr(panel, "ROBUST", "tukey")
    with pytest.raises(ValueError, match="huber"):
        panel._robust(r, f)


def test_collocation_recovers_known_error_variances_and_the_best_linear_predictor():
    """Three measurements with known scales and independent errors: triple collocation gives the
    error variances, and its weights are the analytic best linear predictor of c from (y, z)."""
    import egdi_panel_v2 as panel

    rng = np.random.default_rng(11)
    n = 400_000
    c = rng.normal(0.5, 0.2, n)
    sd = np.array([0.05, 0.08, 0.12])
    x = 0.1 + 0.9 * c + rng.normal(0, sd[0], n)
    y = c + rng.normal(0, sd[1], n)
    z = -0.2 + 1.5 * c + rng.normal(0, sd[2], n)
    got = panel.collocation(x, y, z)
    assert got["valid"] and got["n"] == n
    np.testing.assert_allclose(got["error_var"], sd**2, rtol=0.03)
    np.testing.assert_allclose(got["scale"], [0.9, 1.0, 1.5], rtol=0.01)
    np.testing.assert_allclose(got["var_c"], 0.04, rtol=0.01)
    # analytic weights: cov([y, z])^-1 cov([y, z], c) with the true moments
    cov = np.array([[0.04 + sd[1] ** 2, 1.5 * 0.04], [1.5 * 0.04, 1.5**2 * 0.04 + sd[2] ** 2]])
    np.testing.assert_allclose(got["beta"], np.linalg.solve(cov, [0.04, 1.5 * 0.04]), rtol=0.02)
    # a measurement that does not measure c (negative covariance): no estimate, and it says why
    bad = panel.collocation(-x, y, z)
    assert not bad["valid"] and "covariance" in bad["reason"] and "beta" not in bad
    # errors shared by two measurements break the assumptions: an error variance goes negative
    e = rng.normal(0, 0.3, n)
    shared = panel.collocation(x, c + e, -0.2 + 1.5 * c + 3 * e)
    assert not shared["valid"] and "negative" in shared["reason"]


@pytest.mark.skipif(not (INDICATORS / "wb_govtech_gtmi_2020_2022.csv").exists(), reason="shared indicators absent")
def test_gtmi_edition_is_never_later_than_the_last_fitted_wave(tmp_path):
    import egdi_panel_v2 as panel

    g20, note = panel.read_gtmi(INDICATORS, 2020)
    raw = pd.read_csv(INDICATORS / "wb_govtech_gtmi_2020_2022.csv")
    want = raw[raw["Year"] == 2020].set_index("Code")["GTMI"].astype(float)
    assert "2020 edition" in note and math.isclose(g20["DNK"], want["DNK"])
    assert panel.read_gtmi(INDICATORS, 2021)[1].startswith("GTMI 2020 edition")  # the year before
    assert "2022 edition" in panel.read_gtmi(INDICATORS, 2022)[1]
    none, why = panel.read_gtmi(INDICATORS, 2018)
    assert none is None and "no GTMI edition of 2018 or 2017" in why
    # a file given directly (--egdi-file) looks in its folder; a folder without GTMI says so
    assert panel.read_gtmi(INDICATORS / "un_egdi_panel_2003_2022_long.csv", 2020)[0] is not None
    assert panel.read_gtmi(tmp_path, 2020)[0] is None and "no GovTech" in panel.read_gtmi(tmp_path, 2020)[1]
    dup = pd.concat([raw, raw[raw["Year"] == 2020].head(1)])
    dup.to_csv(tmp_path / "wb_govtech_gtmi_2020_2022.csv", index=False)
    with pytest.raises(SystemExit, match="duplicate economies"):
        panel.read_gtmi(tmp_path, 2020)


@pytest.mark.skipif(not (INDICATORS / "wb_govtech_gtmi_2020_2022.csv").exists(), reason="shared indicators absent")
def test_forecast_start_state_combines_osi_and_gtmi_by_collocation(model):
    import egdi_panel_v2 as panel

    data = panel.load_panel(INDICATORS, 2020)
    keep = list(range(0, len(data.units), 6))  # 32 countries, a fast ensemble
    sub = panel.PanelData([data.units[i] for i in keep], data.years, data.osi[keep], data.hci[keep],
                          data.tii[keep], data.egdi.iloc[keep], data.inputs.iloc[keep])
    wf = panel.WaveFit(model, sub)
    x = wf.x0()
    gtmi, _ = panel.read_gtmi(INDICATORS, 2020)
    gtmi = gtmi.drop(sub.units[0])  # one country without GTMI keeps its observed OSI
    obs = sub.osi[np.arange(wf.n), wf.last_waves()]
    start, info = wf.start_state(x, gtmi)
    assert info["valid"] and info["used"] == wf.n - 1
    assert start[0] == obs[0]
    # the weights are collocation's on (model prediction of 2020, OSI 2020, GTMI 2020)
    pred = wf.ends(x, wf.start_osi)[wf.last_pair]
    ref = panel.collocation(pred[1:], obs[1:], gtmi.reindex(sub.units[1:]).to_numpy(float))
    np.testing.assert_allclose(info["beta"], ref["beta"], rtol=1e-12)
    m = ref["mean"]
    np.testing.assert_allclose(start[1:], np.clip(m[1] + ref["beta"][0] * (obs[1:] - m[1])
                                                  + ref["beta"][1] * (gtmi.reindex(sub.units[1:]).to_numpy() - m[2]),
                                                  1e-3, 1), rtol=1e-12)
    # without a second measurement the forecast starts from the observed OSI: at horizon 0 it is
    # the UN's EGDI of 2020
    same, none = wf.start_state(x, None)
    assert none["used"] == 0 and np.array_equal(same, obs)
    fc = wf.forecast(x, 2020.0, same)
    np.testing.assert_allclose(fc["egdi"].to_numpy(), sub.egdi[2020].to_numpy(float), atol=2e-4)


@pytest.mark.skipif(not (INDICATORS / "wb_govtech_gtmi_2020_2022.csv").exists(), reason="shared indicators absent")
def test_start_state_bootstrap_sample_and_parameter_change_set_their_own_weights(model):
    """A bootstrap sample sets the weights from its rows alone, and a new parameter vector gets its
    own prediction of the last wave (the cached prediction is keyed on the whole vector)."""
    import egdi_panel_v2 as panel

    data = panel.load_panel(INDICATORS, 2020)
    keep = list(range(0, len(data.units), 6))
    sub = panel.PanelData([data.units[i] for i in keep], data.years, data.osi[keep], data.hci[keep],
                          data.tii[keep], data.egdi.iloc[keep], data.inputs.iloc[keep])
    wf = panel.WaveFit(model, sub)
    x = wf.x0()
    gtmi, _ = panel.read_gtmi(INDICATORS, 2020)
    z = gtmi.reindex(sub.units).to_numpy(float)
    obs = sub.osi[np.arange(wf.n), wf.last_waves()]
    rows = np.random.default_rng(0).integers(0, wf.n, wf.n)
    _, info_b = wf.start_state(x, gtmi, sample=rows)
    pred = wf.ends(x, wf.start_osi)[wf.last_pair]
    ref = panel.collocation(pred[rows], obs[rows], z[rows])
    assert info_b["valid"] and ref["valid"]
    np.testing.assert_allclose(info_b["beta"], ref["beta"], rtol=1e-12)
    assert not np.allclose(info_b["beta"], wf.start_state(x, gtmi)[1]["beta"])
    # a resample of 32 countries on which the collocation fails: every unit keeps its observed OSI
    bad_rows = np.random.default_rng(1).integers(0, wf.n, wf.n)
    assert not panel.collocation(pred[bad_rows], obs[bad_rows], z[bad_rows])["valid"]
    start_bad, info_bad = wf.start_state(x, gtmi, sample=bad_rows)
    assert info_bad["used"] == 0 and "negative" in info_bad["reason"] and np.array_equal(start_bad, obs)
    x2 = x.copy()
    x2[-1] *= 1.2
    _, info2 = wf.start_state(x2, gtmi)
    pred2 = wf.ends(x2, wf.start_osi)[wf.last_pair]
    assert not np.allclose(pred2, pred)
    np.testing.assert_allclose(info2["error_var"], panel.collocation(pred2, obs, z)["error_var"], rtol=1e-12)


@pytest.mark.skipif(not (INDICATORS / "wb_govtech_gtmi_2020_2022.csv").exists(), reason="shared indicators absent")
def test_panel_script_saves_each_csv_with_a_provenance_sidecar(tmp_path):
    import argparse
    import hashlib
    import json

    import egdi_panel_v2 as panel

    a = argparse.Namespace(egdi_file=None, indicators=INDICATORS, no_second_measure=False, bootstrap=0, seed=1,
                           max_nfev=100, save=tmp_path / "out", force=False)
    table = pd.DataFrame({"MAPE %": [5.0, 5.3]}, index=["model", "last_value"])
    out = {"last_fit": 2020, "target": 2022, "shared": {"Obsolescence Time": 6.9}, "table": table,
           "state": {"used": 3, "beta": np.array([0.6, 0.36])}, "second_measure": "GTMI 2020 edition"}
    est = pd.DataFrame({"iso3": ["DNK"], "egdi_forecast": [0.97]})
    panel.save(a, out, est)
    got = pd.read_csv(a.save / "egdi_panel_v2_fit2020_estimates.csv")
    assert got["egdi_forecast"].tolist() == [0.97]
    for name in ("estimates", "skill"):
        rec = json.loads((a.save / f"egdi_panel_v2_fit2020_{name}.provenance.json").read_text())
        assert rec["model_sha256"] == hashlib.sha256(panel.MODEL.read_bytes()).hexdigest()
        gtmi = INDICATORS / "wb_govtech_gtmi_2020_2022.csv"
        assert rec["data_files"][gtmi.name] == hashlib.sha256(gtmi.read_bytes()).hexdigest()
        assert rec["start_weights"] == {"osi": 0.6, "gtmi": 0.36} and rec["parameters"] == {"Obsolescence Time": 6.9}
        assert rec["seed"] is None  # no random draw without --bootstrap
    assert not [p for p in a.save.iterdir() if p.name.startswith(".")]  # no staged file left behind
    # results already there are kept unless --force
    from pvsd.errors import OutputExistsError

    with pytest.raises(OutputExistsError, match="--force"):
        panel.save(a, out, est.assign(egdi_forecast=[0.5]))
    assert pd.read_csv(a.save / "egdi_panel_v2_fit2020_estimates.csv")["egdi_forecast"].tolist() == [0.97]
    a.force = True
    panel.save(a, out, est.assign(egdi_forecast=[0.5]))
    assert pd.read_csv(a.save / "egdi_panel_v2_fit2020_estimates.csv")["egdi_forecast"].tolist() == [0.5]


def test_panel_script_refuses_to_replace_saved_results_before_fitting(tmp_path):
    """``--save`` into a folder that has this fit's results stops at once, exit 2, one paragraph."""
    import subprocess

    (tmp_path / "egdi_panel_v2_fit2018_skill.csv").write_text("kept\n")
    script = Path(__file__).resolve().parents[1] / "calibration" / "egdi_panel_v2.py"
    r = subprocess.run([sys.executable, str(script), "--indicators", str(INDICATORS), "--last-fit", "2018",
                        "--target", "2020", "--save", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "egdi_panel_v2_fit2018_skill.csv" in r.stderr and "--force" in r.stderr
    assert r.stdout == ""  # nothing fitted
    assert (tmp_path / "egdi_panel_v2_fit2018_skill.csv").read_text() == "kept\n"
    # the script's other bad-input errors exit the same way
    r = subprocess.run([sys.executable, str(script), "--indicators", str(tmp_path / "no such folder")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no EGDI panel file" in r.stderr and "Traceback" not in r.stderr
