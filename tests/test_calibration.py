"""Calibration: fit statistics, data and spec checks, the Bass nls benchmark, recovery, CLI."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.calibration import CalibrationSpec, SeriesSpec, load_spec, read_series
from pvsd.errors import DataError, SpecError, UnknownVariableError

ROOT = Path(__file__).resolve().parents[1]
BASS = ROOT / "tests" / "models" / "bass.mdl"
SALES = [840, 1470, 2110, 4000, 7590, 10950, 10530, 9470, 7790, 5890]
BASS_NAMES = ["Market Potential", "Innovation Coefficient", "Imitation Coefficient"]


def bass_density(t: np.ndarray, m: float, p: float, q: float) -> np.ndarray:
    e = np.exp(-(p + q) * t)
    return m * (p + q) ** 2 / p * e / (1 + q / p * e) ** 2


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def bass_spec(tmp_path: Path, likelihood: str = "sse", extra: str = "", search: str = "",
              q_upper: float = 2.0) -> Path:
    write(tmp_path / "sales.csv", "# annual sales\nyear,value\n"
          + "".join(f"{t},{v}\n" for t, v in enumerate(SALES, start=1)))
    return write(tmp_path / "bass.toml", f"""
[calibration]
title = "Bass"
model = "{BASS.as_posix()}"
seed = 7

[series.sales]
file = "sales.csv"
variable = "Adoption Rate"
likelihood = "{likelihood}"

[parameters."Market Potential"]
value = 60000
lower = 10000
upper = 200000

[parameters."Innovation Coefficient"]
value = 0.01
lower = 0.0001
upper = 0.1

[parameters."Imitation Coefficient"]
value = 0.5
lower = 0.05
upper = {q_upper}

[search]
starts = 2
popsize = 8
maxiter = 60
{search}
{extra}
""")


# --------------------------------------------------------------------------- statistics
def test_theil_hand_cases() -> None:
    s = pvsd.fit_statistics([2, 3, 4, 5], [1, 2, 3, 4])
    assert s["n"] == 4 and s["mse"] == pytest.approx(1.0) and s["rmse"] == pytest.approx(1.0)
    assert (s["theil_um"], s["theil_us"], s["theil_uc"]) == pytest.approx((1.0, 0.0, 0.0))
    assert s["r2"] == pytest.approx(1.0)
    assert s["mape"] == pytest.approx(100 * np.mean([1, 1 / 2, 1 / 3, 1 / 4]))
    s = pvsd.fit_statistics([4, 3, 2, 1], [1, 2, 3, 4])
    assert s["mse"] == pytest.approx(5.0)
    assert (s["theil_um"], s["theil_us"], s["theil_uc"]) == pytest.approx((0.0, 0.0, 1.0))
    # unequal variation only: S = 2 A - mean(A) has the same mean, perfect correlation
    s = pvsd.fit_statistics([-0.5, 1.5, 3.5, 5.5], [1, 2, 3, 4])
    assert (s["theil_um"], s["theil_us"], s["theil_uc"]) == pytest.approx((0.0, 1.0, 0.0))


def test_theil_sums_to_one_and_matches_definitions() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=25)
    s = 0.7 * a + rng.normal(scale=0.5, size=25) + 0.3
    st = pvsd.fit_statistics(s, a)
    assert st["theil_um"] + st["theil_us"] + st["theil_uc"] == pytest.approx(1.0)
    mse = np.mean((s - a) ** 2)
    assert st["theil_um"] == pytest.approx((s.mean() - a.mean()) ** 2 / mse)
    assert st["theil_us"] == pytest.approx((s.std() - a.std()) ** 2 / mse)
    assert st["r2"] == pytest.approx(np.corrcoef(s, a)[0, 1] ** 2)


def test_fit_statistics_edge_cases() -> None:
    st = pvsd.fit_statistics([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    assert st["n"] == 2 and st["mse"] == 0 and math.isnan(st["theil_um"])
    with pytest.raises(DataError, match="3 values but actual has 2"):
        pvsd.fit_statistics([1, 2, 3], [1, 2])
    st = pvsd.fit_statistics(pd.Series([1.0, 2.0], index=[2001, 2002]),
                             pd.Series([1.0, 2.5, 9.0], index=[2001, 2002, 2003]))
    assert st["n"] == 2


# --------------------------------------------------------------------------- data
def test_read_series_skips_missing_years_and_filters_country(tmp_path: Path) -> None:
    f = write(tmp_path / "d.csv", "# note\nyear,value,iso3\n2000,1.5,USA\n2003,2.5,USA\n2000,9,DNK\n")
    obs = read_series(f, country="usa")
    assert obs.times.tolist() == [2000, 2003] and obs.values.tolist() == [1.5, 2.5]
    assert obs.lines.tolist() == [3, 4]
    with pytest.raises(DataError, match="2 countries"):
        read_series(f)


@pytest.mark.parametrize(("text", "match"), [
    ("year,value\n2000,1\n2001,\n", r"d\.csv, line 3: the value is missing"),
    ("year,value\n2000,1\n2001,NaN\n", r"line 3: the value is missing"),
    ("year,value\n2000,1\n2001,2\n2000,3\n", r"line 4: year 2000 appears again \(first on line 2\)"),
    ("year,amount\n2000,1\n", r"no value column"),
    ("year,value\n2000,abc\n", r"line 2: the value 'abc' is not a number"),
])
def test_bad_data_is_a_clear_error(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        read_series(write(tmp_path / "d.csv", text))


# --------------------------------------------------------------------------- spec errors
def test_spec_errors_name_the_problem(tmp_path: Path) -> None:
    path = bass_spec(tmp_path)
    base = tomllib.loads(path.read_text())

    def spec_with(**edit) -> CalibrationSpec:
        d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
        for key, value in edit.items():
            table, _, sub = key.partition("__")
            d[table] = {**d[table], sub: value} if sub else value
        return CalibrationSpec.from_dict(d, source=path)

    with pytest.raises(SpecError, match=r"lower bound 0.5 is above upper bound 0.05"):
        spec_with(parameters={"Imitation Coefficient": {"lower": 0.5, "upper": 0.05}})
    with pytest.raises(SpecError, match="unknown likelihood 'cauchy'"):
        spec_with(series={"sales": {"file": "sales.csv", "variable": "Adoption Rate",
                                    "likelihood": "cauchy"}})
    with pytest.raises(SpecError, match="fit_period = \\[2010, 2000\\] ends before it starts"):
        spec_with(calibration__fit_period=[2010, 2000])
    bad_var = spec_with(series={"sales": {"file": "sales.csv", "variable": "Adoption Rte"}})
    with pytest.raises(UnknownVariableError, match="Adoption Rate"):
        pvsd.calibrate(bad_var)
    empty = spec_with(calibration__fit_period=[20, 30])
    with pytest.raises(SpecError, match=r"fit period \[20.0, 30.0\] contains no observation"):
        pvsd.calibrate(empty)
    overlap = spec_with(calibration__fit_period=[1, 8], calibration__holdout_period=[8, 10])
    with pytest.raises(SpecError, match="overlap"):
        pvsd.calibrate(overlap)
    stock = spec_with(parameters={"Adopters": {"lower": 0, "upper": 1}})
    with pytest.raises(SpecError, match="'Adopters' is a stock"):
        pvsd.calibrate(stock)
    with pytest.raises(SpecError, match="unknown key"):
        spec_with(series={"sales": {"file": "sales.csv", "variable": "Adoption Rate", "sigm": 1}})
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "nope.toml")


def test_nan_in_python_series_is_an_error() -> None:
    spec = CalibrationSpec(
        model=str(BASS), parameters={"Market Potential": {"lower": 1e4, "upper": 1e5}},
        series=(SeriesSpec("s", "Adoption Rate", data=pd.Series([1.0, np.nan], index=[1, 2])),),
    )
    with pytest.raises(DataError, match="row 1: value is NaN"):
        pvsd.calibrate(spec)


# --------------------------------------------------------------------------- Bass / nls
def test_bass_model_reproduces_the_continuous_density() -> None:
    m = pvsd.load(BASS)
    params = dict(zip(BASS_NAMES, [6.8e4, 6.59e-3, 0.638], strict=True))
    out = m.run(params=params, outputs=["Adoption Rate", "Bass Density"]).to_dataframe()
    t = out.index.to_numpy()
    np.testing.assert_allclose(out["Bass Density"], bass_density(t, *params.values()), rtol=1e-10)
    np.testing.assert_allclose(out["Adoption Rate"], out["Bass Density"], rtol=2e-3)


@pytest.fixture(scope="module")
def bass_fit(tmp_path_factory: pytest.TempPathFactory):
    path = bass_spec(tmp_path_factory.mktemp("bass"), extra='[uncertainty]\nprofile = ["Imitation Coefficient"]')
    return pvsd.calibrate(path, progress=False)


def test_bass_fit_reproduces_published_nls(bass_fit) -> None:
    from scipy.optimize import curve_fit

    r = bass_fit
    published = {"Market Potential": (6.80e4, 3.13e3), "Innovation Coefficient": (6.59e-3, 1.43e-3),
                 "Imitation Coefficient": (0.638, 0.0414)}
    for name, (value, se) in published.items():
        assert r.params[name] == pytest.approx(value, rel=0.01), name
        assert r.stderr[name] == pytest.approx(se, rel=0.05), name
    assert r.fit["residual_se"] == pytest.approx(727, rel=0.01)
    assert r.fit["dof"] == 7
    # independent reference: scipy's curve_fit on the closed-form density
    t = np.arange(1, 11.0)
    popt, pcov = curve_fit(bass_density, t, np.array(SALES, float), p0=[6e4, 0.01, 0.5])
    np.testing.assert_allclose(list(r.params.values()), popt, rtol=5e-3)
    np.testing.assert_allclose(list(r.stderr.values()), np.sqrt(np.diag(pcov)), rtol=0.02)
    corr = r.correlation.loc["Innovation Coefficient", "Imitation Coefficient"]
    assert corr == pytest.approx(pcov[1, 2] / np.sqrt(pcov[1, 1] * pcov[2, 2]), abs=0.01)
    assert r.convergence["converged"]


def test_bass_profile_interval_brackets_estimate(bass_fit) -> None:
    row = bass_fit.to_dataframe().loc["Imitation Coefficient"]
    assert row.profile_lower < row.value < row.profile_upper
    # nearly quadratic here: the profile interval is close to the Wald interval
    assert row.profile_lower == pytest.approx(row.lower, rel=0.03)
    assert row.profile_upper == pytest.approx(row.upper, rel=0.03)


def test_result_schema_report_and_scenario(bass_fit, tmp_path: Path) -> None:
    r = bass_fit
    assert list(r.stats.columns) == ["series", "period", "n", "rmse", "mape", "r2", "mse",
                                     "theil_um", "theil_us", "theil_uc"]
    st = r.stats.iloc[0]
    assert st.n == 10 and st.theil_um + st.theil_us + st.theil_uc == pytest.approx(1.0)
    assert st.rmse == pytest.approx(math.sqrt(r.fit["objective"] / 10))
    text = r.report()
    for part in ("[[Parameters]]", "[[Correlations]]", "Market Potential", "init = 60000",
                 "C(Innovation Coefficient, Imitation Coefficient)", "residual SE"):
        assert part in text
    with pytest.raises(AttributeError):
        r.params = {}  # frozen
    path = r.save_scenario(tmp_path / "fitted.toml")
    model = pvsd.load(BASS)
    sset = pvsd.load_scenarios(path, model)
    run = model.run(scenario=sset["calibrated"], outputs=["Adoption Rate"], return_times=[6])
    assert run.to_dataframe()["Adoption Rate"].iloc[0] == pytest.approx(
        r.fitted.loc[r.fitted["time"] == 6, "fitted"].iloc[0], rel=1e-9)
    fig = r.plot()
    assert len(fig.data) >= 3
    assert "CalibrationResult" in r._repr_html_()


def test_parameter_at_bound_is_warned(tmp_path: Path) -> None:
    r = pvsd.calibrate(bass_spec(tmp_path, q_upper=0.5), progress=False)
    assert r.params["Imitation Coefficient"] == pytest.approx(0.5)
    assert any("'Imitation Coefficient' is at its upper bound 0.5" in w for w in r.warnings)
    assert math.isnan(r.stderr["Imitation Coefficient"])


def test_poisson_likelihood_matches_direct_maximisation(tmp_path: Path) -> None:
    from scipy.optimize import minimize
    from scipy.special import gammaln

    r = pvsd.calibrate(bass_spec(tmp_path, likelihood="poisson"), progress=False)
    y = np.array(SALES, float)
    t = np.arange(1, 11.0)

    def nll(x: np.ndarray) -> float:
        mu = bass_density(t, x[0] * 1e4, x[1] * 1e-3, x[2])
        return float(np.sum(mu - y * np.log(mu) + gammaln(y + 1)))

    ref = minimize(nll, [6.8, 6.6, 0.64], method="Nelder-Mead",
                   options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    np.testing.assert_allclose(list(r.params.values()), ref.x * [1e4, 1e-3, 1], rtol=5e-3)
    # near-optimal for the closed-form objective too (the simulated flow differs from the
    # density by the Euler error, about 0.1%, which shifts the log-likelihood itself by ~0.5)
    assert nll(np.array(list(r.params.values())) / [1e4, 1e-3, 1]) - ref.fun < 0.05


def test_mcmc_posterior_and_bands(tmp_path: Path) -> None:
    path = bass_spec(tmp_path, extra="[mcmc]\nenabled = true\nwalkers = 12\nsteps = 120\ndraws = 60")
    spec = load_spec(path)
    r = pvsd.calibrate(spec, progress=False)
    post = r.posterior.set_index("parameter")
    assert set(post.columns) >= {"mean", "sd", "lower", "upper", "tau", "ess", "rhat"}
    assert r.mcmc["walkers"] == 12 and 0 < r.mcmc["acceptance_fraction"] < 1
    # the posterior of q lies around the estimate
    assert abs(post.loc["Imitation Coefficient", "median"] - 0.638) < 3 * 0.0414
    band = r.bands[(r.bands["band"] == "predictive") & (r.bands["source"] == "posterior")]
    assert (band["lower"] <= band["upper"]).all() and not band.empty
    again = pvsd.calibrate(spec, progress=False)
    pd.testing.assert_frame_equal(r.posterior, again.posterior)  # seeded


# --------------------------------------------------------------------------- recovery
def recovery_fit(seed: int, sigma: float = 0.01):
    """Fit three time constants of the reference model to its own noisy output."""
    model = pvsd.load("public_value_chain")
    truth = {"Obsolescence Time": 15.0, "Quality Adjustment Time": 2.0, "Trust Adjustment Time": 4.0}
    years = np.arange(2001, 2031, dtype=float)
    outs = ["Digital Capability", "Service Quality", "Public Trust"]
    sim = model.run(params=truth, outputs=outs, return_times=years, time_step=0.125).to_dataframe()
    rng = np.random.default_rng(seed)
    series = tuple(
        SeriesSpec(v.lower().replace(" ", "_"), v, data=pd.Series(sim[v].to_numpy() + rng.normal(0, sigma, len(years)),
                                                                   index=years), sigma=sigma)
        for v in outs
    )
    params = {"Obsolescence Time": {"lower": 5, "upper": 25, "value": 10},
              "Quality Adjustment Time": {"lower": 0.5, "upper": 8, "value": 4},
              "Trust Adjustment Time": {"lower": 1, "upper": 15, "value": 8}}
    spec = CalibrationSpec(model="public_value_chain", series=series, parameters=params,
                           time_step=0.125, seed=seed, fit_period=(2001, 2030),
                           search={"starts": 1, "global": False})
    return pvsd.calibrate(spec, model=model, progress=False), truth


def test_parameter_recovery_single_seed() -> None:
    r, truth = recovery_fit(seed=2)  # one seed; coverage over many seeds: test_calibration_slow.py
    table = r.to_dataframe()
    for name, value in truth.items():
        row = table.loc[name]
        assert abs(row.value - value) < 3 * row.stderr, name
        assert row.lower <= value <= row.upper, name
        assert row.stderr < 0.5 * value, name  # the data are informative about it


# --------------------------------------------------------------------------- CLI
def test_cli_calibrate_writes_report_and_scenario(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from pvsd.cli import main

    spec = bass_spec(tmp_path, search="global = false")
    out = tmp_path / "out"
    assert main(["calibrate", str(spec), "-o", str(out), "--quiet"]) == 0
    for name in ("report.html", "fitted_parameters.toml", "fitted_parameters.csv", "fit_statistics.csv",
                 "parameters.csv", "report.txt"):
        assert (out / name).is_file(), name
    html = (out / "report.html").read_text()
    assert "plotly" in html and "Fit statistics" in html and "Market Potential" in html
    from htmlcheck import repeated_ids

    assert repeated_ids(html) == []  # the profile section and its plot no longer share an id
    scen = tomllib.loads((out / "fitted_parameters.toml").read_text())
    assert scen["scenarios"]["calibrated"]["set"]["Imitation Coefficient"] == pytest.approx(0.638, rel=0.01)
    table = pd.read_csv(out / "fitted_parameters.csv", comment="#")
    assert table.set_index("parameter").loc["Market Potential", "value"] == pytest.approx(6.8e4, rel=0.01)
    capsys.readouterr()
    assert main(["calibrate", str(spec), "-o", str(out), "--quiet"]) == 2
    # the CLI wraps its message at 100 columns: a longer tmp path moves the line break
    assert "exists already" in " ".join(capsys.readouterr().err.split())
    assert main(["calibrate", str(tmp_path / "missing.toml")]) == 2


def test_negative_binomial_with_fitted_dispersion(tmp_path: Path) -> None:
    r = pvsd.calibrate(bass_spec(tmp_path, likelihood="negbin", search="global = false"), progress=False)
    table = r.to_dataframe()
    assert table.loc["sales: dispersion", "kind"] == "nuisance"
    alpha = table.loc["sales: dispersion", "value"]
    assert 1e-4 < alpha < 0.1 and np.isfinite(table.loc["sales: dispersion", "stderr"])
    # the mean curve stays close to the least-squares fit
    assert r.params["Imitation Coefficient"] == pytest.approx(0.638, rel=0.05)
    assert not any("at its lower bound" in w for w in r.warnings)
    assert "sales: dispersion" not in r.params and "sales: dispersion" not in r.to_scenario().constants


def test_convergence_note_explains_a_line_search_stop_and_counts_the_starts() -> None:
    from pvsd.calibration.fit import _convergence_note

    stop = {"local": {"message": "ABNORMAL: "}, "starts": 3, "starts_at_best": 3}
    note = _convergence_note(stop)
    assert "(ABNORMAL)" in note and "line search" in note and "3 of 3 local starts" in note
    assert "--profile" in note
    alone = _convergence_note({"local": {"message": "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT"},
                               "starts": 4, "starts_at_best": 1})
    assert "line search" not in alone and "1 of 4" in alone and "[search] starts" in alone


def test_observations_after_the_last_period_are_named_not_dropped_quietly(tmp_path: Path) -> None:
    """A later wave added to the data, outside both periods: the warning says so and how to use it."""
    from pvsd.calibration import load_spec
    from pvsd.calibration.problem import Problem

    spec = bass_spec(tmp_path)
    text = spec.read_text().replace("seed = 7\n", "seed = 7\nfit_period = [1, 6]\nholdout_period = [7, 8]\n")
    spec.write_text(text)
    warnings = Problem(load_spec(spec)).warnings
    later = [w for w in warnings if "neither fit_period nor holdout_period" in w]
    assert len(later) == 1 and "2 observation(s) after 8 (9, 10)" in later[0]
    assert "extend holdout_period to 10" in later[0]
    spec.write_text(text.replace("holdout_period = [7, 8]", "holdout_period = [7, 10]"))
    assert not [w for w in Problem(load_spec(spec)).warnings if "neither" in w]


def test_report_says_where_the_model_loses_once_in_the_summary(tmp_path: Path) -> None:
    """Each loss to a naive forecast was a notice in the summary and again under Forecast skill."""
    import re

    from pvsd.calibration.report import calibration_report

    spec = bass_spec(tmp_path)
    spec.write_text(spec.read_text().replace("seed = 7\n", "seed = 7\nfit_period = [1, 6]\n"
                                             "holdout_period = [7, 10]\n"))
    import dataclasses

    fitted = pvsd.calibrate(spec, progress=False)
    assert len(fitted.skill_verdict) == 3 and not any(" loses to " in s for s in fitted.skill_verdict)
    # the same result, as if it lost to the last value: the loss is a warning and a verdict
    loss = fitted.skill_verdict[0].replace(" beats ", " loses to ")
    lost = dataclasses.replace(fitted, skill_verdict=(loss, *fitted.skill_verdict[1:]),
                               warnings=(*fitted.warnings, loss))
    for r, n_lost in ((fitted, 0), (lost, 1)):
        page = calibration_report(r).render()
        summary, rest = re.split(r"<h2>Fit statistics</h2>", page, maxsplit=1)
        for s in r.skill_verdict:  # in full under Forecast skill only
            esc = s.replace("'", "&#x27;")
            assert esc not in summary and rest.count(esc) == 1
        said = "Out of sample the model loses to a naive forecast in 1 of 3 comparisons (sales)"
        assert (said in summary) == bool(n_lost)
