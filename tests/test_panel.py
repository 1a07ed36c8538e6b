"""Panel calibration: recovery of a synthetic panel, pooling, measurement, inputs, bad input, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.calibration.panel import calibrate_panel, load_panel_spec
from pvsd.calibration.panel.problem import PanelProblem
from pvsd.calibration.skill import compare, naive_forecasts
from pvsd.errors import DataError, SpecError

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests" / "models" / "panel_growth.mdl"
YEARS = list(range(2000, 2021, 2))
TRUE_SHARED = {"Ceiling": 0.85, "Drift": 0.004}
NOISE = 0.01


def _truth(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"unit": [f"U{i:03d}" for i in range(n)],
                         "Growth Rate": rng.uniform(0.15, 0.6, n),
                         "Initial Level": rng.uniform(0.05, 0.3, n)})


def _simulate(truth: pd.DataFrame, years: list[int], variable: str = "Level",
              params: dict | None = None) -> np.ndarray:
    m = pvsd.load(MODEL)
    ds = m.run_ensemble(truth[["Growth Rate", "Initial Level"]].reset_index(drop=True),
                        params={**TRUE_SHARED, **(params or {})}, outputs=[variable],
                        return_times=years, final_time=max(years), progress=False)
    return ds[variable].values


def _write_panel(path: Path, truth: pd.DataFrame, seed: int, keep: dict[str, int] | None = None,
                 offset: float = 0.0, noise: float = NOISE) -> Path:
    rng = np.random.default_rng(seed)
    y = _simulate(truth, YEARS) + rng.normal(0, noise, (len(truth), len(YEARS))) + offset
    rows = []
    for i, u in enumerate(truth["unit"]):
        k = (keep or {}).get(u, len(YEARS))
        rows += [(u, t, y[i, j]) for j, t in enumerate(YEARS[:k])]
    pd.DataFrame(rows, columns=["unit", "year", "value"]).to_csv(path, index=False)
    return path


def _spec(tmp: Path, scope: str = "unit", extra: str = "", series_extra: str = "",
          holdout: int = 1, min_obs: int = 4, data: str = "panel.csv") -> Path:
    p = tmp / "panel.toml"
    p.write_text(f"""
[calibration]
model = "{MODEL.as_posix()}"
time_step = 0.125
seed = 3
[panel]
unit_column = "unit"
min_observations = {min_obs}
holdout = {holdout}
[series.level]
file = "{data}"
variable = "Level"
{series_extra}
[parameters.Ceiling]
scope = "shared"
lower = 0.3
upper = 1.5
[parameters.Drift]
scope = "shared"
lower = -0.05
upper = 0.05
[parameters."Growth Rate"]
scope = "{scope}"
lower = 0.01
upper = 2
[parameters."Initial Level"]
scope = "{scope}"
lower = 0
upper = 1
{extra}
""", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("panel")
    truth = _truth(100, 11)
    _write_panel(tmp / "panel.csv", truth, 12)
    return tmp, truth


def test_synthetic_panel_is_recovered(synthetic: tuple[Path, pd.DataFrame]) -> None:
    tmp, truth = synthetic
    r = calibrate_panel(_spec(tmp))
    sh = r.shared.set_index("parameter")
    for name, true in TRUE_SHARED.items():
        z = abs(sh.loc[name, "value"] - true) / sh.loc[name, "stderr"]
        assert z < 2, (name, sh.loc[name, "value"], sh.loc[name, "stderr"])
    est = r.estimates.merge(truth.melt(id_vars="unit", var_name="parameter", value_name="true"),
                            on=["unit", "parameter"])
    covered = ((est["lower"] <= est["true"]) & (est["true"] <= est["upper"])).mean()
    assert 0.90 <= covered <= 0.99, covered
    assert abs(r.fit["sigma"]["level"] - NOISE) < 0.1 * NOISE
    # forecast.csv schema, held-out skill beside the naive forecasts
    assert list(r.forecast.columns[:6]) == ["unit", "series", "year", "value", "lo", "hi"]
    assert set(r.skill["method"]) == {"model", "last value", "linear trend", "last + drift"}
    assert len(r.skill_units) == 4 * 100


def test_pooled_model_shrinks_sparse_units(tmp_path: Path) -> None:
    truth = _truth(40, 21)
    sparse_units = {u: 3 for u in truth["unit"][:10]}
    _write_panel(tmp_path / "panel.csv", truth, 22, keep=sparse_units, noise=0.04)
    spec_u = _spec(tmp_path, "unit", holdout=0, min_obs=3)
    r_unit = calibrate_panel(spec_u)
    r_pool = calibrate_panel(_spec(tmp_path, "pooled", holdout=0, min_obs=3))
    pop = r_pool.population.set_index("parameter")
    name = "Growth Rate"
    lo, hi = 0.01, 2.0

    def logit(v: np.ndarray) -> np.ndarray:
        u = np.clip((v - lo) / (hi - lo), 1e-6, 1 - 1e-6)
        return np.log(u / (1 - u))

    mu = pop.loc[name, "mu_logit"]
    a = r_unit.estimates[r_unit.estimates["parameter"] == name].set_index("unit")["value"]
    b = r_pool.estimates[r_pool.estimates["parameter"] == name].set_index("unit")["value"]
    dist_u, dist_p = np.abs(logit(a.to_numpy()) - mu), np.abs(logit(b[a.index].to_numpy()) - mu)
    sparse_ix = a.index.isin(list(sparse_units))
    ratio_sparse = dist_p[sparse_ix].sum() / dist_u[sparse_ix].sum()
    ratio_dense = dist_p[~sparse_ix].sum() / dist_u[~sparse_ix].sum()
    # units with 3 observations move towards the population mean, and more than the others
    assert ratio_sparse < 0.7, ratio_sparse
    assert ratio_sparse < ratio_dense - 0.1, (ratio_sparse, ratio_dense)
    assert 0.15 < pop.loc[name, "population_median"] < 0.6


def test_posterior_sampler_runs_and_reports_rhat(tmp_path: Path) -> None:
    truth = _truth(12, 31)
    _write_panel(tmp_path / "panel.csv", truth, 32)
    extra = "[posterior]\nenabled = true\nchains = 4\niterations = 400\nwarmup = 150\ndraws = 50\n"
    r = calibrate_panel(_spec(tmp_path, "pooled", extra=extra))
    assert r.mcmc["chains"] == 4 and np.isfinite(r.mcmc["max_rhat"])
    assert r.mcmc["max_rhat"] < 1.2
    sh = r.shared.set_index("parameter")
    assert abs(sh.loc["Ceiling", "posterior_mean"] - 0.85) < 4 * sh.loc["Ceiling", "posterior_sd"]
    assert {"rhat", "ess"} <= set(r.estimates.columns)


def test_fitted_offset_and_two_instruments(tmp_path: Path) -> None:
    truth = _truth(30, 41)
    _write_panel(tmp_path / "panel.csv", truth, 42)
    _write_panel(tmp_path / "panel2.csv", truth, 43, offset=-0.1)
    # instrument 2 reads 0.1 lower: offset + scale * value is on the model's scale -> offset 0.1
    extra = """
[series.second]
file = "panel2.csv"
variable = "Level"
offset = { scope = "shared", lower = -0.5, upper = 0.5, value = 0 }
"""
    r = calibrate_panel(_spec(tmp_path, extra=extra.replace("[parameters", "[x")))
    sh = r.shared.set_index("parameter")
    assert abs(sh.loc["second: offset", "value"] - 0.1) < 3 * sh.loc["second: offset", "stderr"]
    assert sh.loc["second: offset", "stderr"] < 0.01
    assert any("different instruments" in w for w in r.warnings)


def test_diff_series_is_increment_of_cumulative(tmp_path: Path) -> None:
    truth = _truth(5, 51)
    years = list(range(2000, 2021))
    cum = _simulate(truth, years, "Cumulative Level")
    rows = [(u, years[j], cum[i, j] - cum[i, j - 1]) for i, u in enumerate(truth["unit"])
            for j in range(1, len(years))]
    pd.DataFrame(rows, columns=["unit", "year", "value"]).to_csv(tmp_path / "inc.csv", index=False)
    spec = _spec(tmp_path, data="inc.csv", series_extra="diff = true",
                 holdout=0).read_text().replace('variable = "Level"', 'variable = "Cumulative Level"')
    (tmp_path / "panel.toml").write_text(spec)
    pb = PanelProblem(load_panel_spec(tmp_path / "panel.toml"))
    s = np.array([(0.85 - 0.3) / 1.2, (0.004 + 0.05) / 0.1])
    U = np.column_stack([(truth["Growth Rate"] - 0.01) / 1.99, truth["Initial Level"]])
    pred = pb.predict(np.tile(s, (5, 1)), U, np.arange(5))
    np.testing.assert_allclose(pred[:, 0, :], pb.Y[0], rtol=1e-9, atol=1e-12)


def test_inputs_per_unit_drive_the_model(tmp_path: Path) -> None:
    truth = _truth(3, 61)
    _write_panel(tmp_path / "panel.csv", truth, 62)
    push = pd.DataFrame([(u, y, 0.01 * (i + 1) * (y - 2000) / 10) for i, u in enumerate(truth["unit"])
                         for y in (2000, 2010)], columns=["unit", "year", "value"])
    push.to_csv(tmp_path / "push.csv", index=False)
    extra = '[inputs.push]\nfile = "push.csv"\nvariable = "External Push"\nbeyond = "trend"\n'
    (tmp_path / "panel.toml").write_text(_spec(tmp_path, holdout=0).read_text() + extra)
    pb = PanelProblem(load_panel_spec(tmp_path / "panel.toml"))
    s = np.array([(0.85 - 0.3) / 1.2, (0.004 + 0.05) / 0.1])
    U = np.column_stack([(truth["Growth Rate"] - 0.01) / 1.99, truth["Initial Level"]])
    pred = pb.predict(np.tile(s, (3, 1)), U, np.arange(3))
    m = pvsd.load(MODEL)
    for i in range(3):
        # trend beyond 2010: the slope of the last values continues to FINAL TIME
        x = pd.Series([0.0, 0.01 * (i + 1), 0.01 * (i + 1) * 3.0], index=[2000.0, 2010.0, 2030.0])
        run = m.run(params={**TRUE_SHARED, "Growth Rate": truth["Growth Rate"][i],
                            "Initial Level": truth["Initial Level"][i], "External Push": x},
                    return_times=YEARS, final_time=2020)
        np.testing.assert_allclose(pred[i, 0], run["Level"].to_numpy(), rtol=1e-6)
    assert "trend" in pb.input_notes[0]


def test_naive_forecasts_by_hand() -> None:
    yrs, vals = np.array([2010, 2012, 2014, 2016, 2018.0]), np.array([1, 2, 2, 3, 5.0])
    f = naive_forecasts(yrs, vals, np.array([2020.0]))
    assert f["last value"][0] == 5
    slope, icpt = np.polyfit(yrs[-4:], vals[-4:], 1)
    assert f["linear trend"][0] == pytest.approx(icpt + slope * 2020)
    assert f["last + drift"][0] == pytest.approx(5 + (5 - 2) / 6 * 2)
    frame = pd.DataFrame({"unit": ["a", "b"], "series": "s", "year": 2020.0, "actual": [10.0, 20.0],
                          "model": [10.4, 25.0], "last value": [11.0, 20.0],
                          "linear trend": [10.0, 20.0], "last + drift": [9.0, 19.0]})
    overall, per_unit = compare(frame)
    assert len(per_unit) == 2 * 4
    m = overall.set_index("method")
    assert m.loc["model", "mape"] == pytest.approx(100 * (0.04 + 0.25) / 2)
    assert m.loc["model", "within_5pct"] == 0.5
    assert m.loc["last value", "units_model_worse"] == 1
    assert m.loc["linear trend", "rmse"] == 0


# ---------------------------------------------------------------------- bad input
def test_duplicate_unit_year_rows(tmp_path: Path) -> None:
    (tmp_path / "panel.csv").write_text("unit,year,value\nA,2000,0.1\nA,2002,0.2\nA,2000,0.3\n")
    with pytest.raises(DataError, match=r"unit A year 2000 appears on lines 2, 4"):
        PanelProblem(load_panel_spec(_spec(tmp_path)))


def test_unknown_units_and_too_few_observations(synthetic: tuple[Path, pd.DataFrame],
                                                tmp_path: Path) -> None:
    tmp, _ = synthetic
    text = _spec(tmp).read_text().replace('holdout = 1', 'holdout = 1\nunits = ["U001", "XYZ"]')
    p = tmp_path / "s.toml"
    p.write_text(text.replace('file = "panel.csv"', f'file = "{(tmp / "panel.csv").as_posix()}"'))
    with pytest.raises(SpecError, match=r"XYZ"):
        PanelProblem(load_panel_spec(p))
    rows = "unit,year,value\n" + "".join(f"A,{y},0.{k + 1}\n" for k, y in enumerate(YEARS[:6])) \
        + "B,2000,0.1\nB,2002,0.2\n"
    (tmp_path / "panel.csv").write_text(rows)
    pb = PanelProblem(load_panel_spec(_spec(tmp_path)))
    assert pb.units == ["A"] and list(pb.skipped["unit"]) == ["B"]
    assert any("B (2)" in w for w in pb.warnings)


def test_missing_values_declared(tmp_path: Path) -> None:
    (tmp_path / "panel.csv").write_text("unit,year,value\n" + "".join(
        f"A,{y},{0 if y < 2004 else 0.5}\n" for y in YEARS) + "A,2021,\n")
    with pytest.raises(DataError, match=r"line 13.*blank.*missing"):
        PanelProblem(load_panel_spec(_spec(tmp_path)))
    pb = PanelProblem(load_panel_spec(_spec(tmp_path, series_extra='missing = [0, ""]')))
    assert pb.n_missing["level"] == 3 and np.isfinite(pb.Y[0, 0]).sum() == len(YEARS) - 2


@pytest.mark.parametrize("change, message", [
    (('scope = "unit"', 'scope = "per-country"'), "unknown scope 'per-country'"),
    (("lower = 0.3\nupper = 1.5", "lower = 1.5\nupper = 0.3"), "lower bound 1.5 is not below"),
])
def test_bad_spec_paragraphs(tmp_path: Path, change: tuple[str, str], message: str,
                             capsys: pytest.CaptureFixture) -> None:
    from pvsd.cli import main

    (tmp_path / "panel.csv").write_text("unit,year,value\nA,2000,0.1\n")
    p = _spec(tmp_path)
    p.write_text(p.read_text().replace(*change, 1))
    with pytest.raises(SpecError, match=message):
        load_panel_spec(p)
    assert main(["calibrate", str(p), "-o", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err.replace("\n  ", " ") and "Traceback" not in err


def test_two_units_on_one_variable_without_panel(tmp_path: Path) -> None:
    from pvsd.calibration import calibrate

    (tmp_path / "d.csv").write_text("year,value,country\n2000,0.1,DNK\n2002,0.2,DNK\n2004,0.3,DNK\n"
                                    "2000,0.1,USA\n2002,0.2,USA\n2004,0.3,USA\n")
    head = f'[calibration]\nmodel = "{MODEL.as_posix()}"\n'
    par = '[parameters."Growth Rate"]\nlower = 0.01\nupper = 2\n'
    s = lambda name, c: f'[series.{name}]\nfile = "d.csv"\nvariable = "Level"\ncountry = "{c}"\n'  # noqa: E731
    (tmp_path / "a.toml").write_text(head + s("dk", "DNK") + s("us", "USA") + par)
    with pytest.raises(SpecError, match=r"dk \(DNK\); us \(USA\).*'Level'.*\[panel\]"):
        calibrate(tmp_path / "a.toml", mcmc=False)
    (tmp_path / "b.toml").write_text(head + s("dk", "DNK") + s("dk2", "DNK") + par
                                     + "[search]\nglobal = false\nstarts = 1\n")
    r = calibrate(tmp_path / "b.toml", mcmc=False, progress=False)
    assert np.isfinite(r.params["Growth Rate"])


def test_cli_panel_writes_forecast_and_report(synthetic: tuple[Path, pd.DataFrame], tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    from pvsd.cli import main

    tmp, _ = synthetic
    out = tmp_path / "out"
    assert main(["calibrate", str(_spec(tmp)), "-o", str(out), "--quiet", "--holdout", "2",
                 "--forecast", "2024", "2026"]) == 0
    fc = pd.read_csv(out / "forecast.csv", comment="#")
    assert set(fc["year"]) == {2018, 2020, 2024, 2026}
    assert (fc["lo"] <= fc["value"]).all() and (fc["value"] <= fc["hi"]).all()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Forecast skill" in html and "last value" in html
    import html as _html
    import re

    verdicts = [ln.strip() for ln in (out / "report.txt").read_text().splitlines()
                if " out of sample (MAPE " in ln]
    assert verdicts
    for s in verdicts:  # a loss is a warning box, a win plain text (every one was a box)
        assert (f'<div class="notice">{_html.escape(s)}</div>' in html) == (" loses to " in s), s

    body = re.sub(r"<script.*?</script>", "", html, flags=re.S)
    ids = re.findall(r'id="([^"]+)"', body)
    assert len(ids) == len(set(ids))
    assert (out / "results.nc").is_file() and (out / "estimates.csv").is_file()
    # report.txt closes with the provenance, as a single-unit calibration's does
    from pvsd.provenance import file_sha256

    text = (out / "report.txt").read_text()
    sha = re.search(r"^model_sha256: ([0-9a-f]{64})$", text, flags=re.M)
    assert "Provenance\n----------" in text and sha, text[-400:]
    assert sha.group(1) == file_sha256(MODEL)
    assert re.search(r"^seed: 3$", text, flags=re.M) and re.search(r"^pysd_version: ", text, flags=re.M)


def test_single_unit_report_compares_with_naive(tmp_path: Path) -> None:
    from pvsd.calibration import calibrate

    truth = _truth(1, 71)
    y = _simulate(truth, YEARS)[0] + np.random.default_rng(72).normal(0, NOISE, len(YEARS))
    pd.DataFrame({"year": YEARS, "value": y}).to_csv(tmp_path / "one.csv", index=False)
    (tmp_path / "one.toml").write_text(f"""
[calibration]
model = "{MODEL.as_posix()}"
fit_period = [2000, 2014]
holdout_period = [2016, 2020]
[series.level]
file = "one.csv"
variable = "Level"
[parameters."Growth Rate"]
lower = 0.01
upper = 2
[parameters."Initial Level"]
lower = 0
upper = 1
[search]
global = false
starts = 1
""")
    r = calibrate(tmp_path / "one.toml", mcmc=False, progress=False)
    sk = r.skill.set_index("method")
    assert list(sk.index) == ["model", "last value", "linear trend", "last + drift"]
    assert (sk["n"] == 3).all()
    last = y[YEARS.index(2014)]
    actual = y[-3:]
    assert sk.loc["last value", "rmse"] == pytest.approx(np.sqrt(np.mean((actual - last) ** 2)))
    assert len(r.skill_verdict) == 3 and "[[Forecast skill" in r.report()
    page = r.html_report().render()
    assert "Forecast skill" in page
    import html as _html

    for s in r.skill_verdict:  # a loss is a warning box, a win plain text (every one was a box)
        boxed = f'<div class="notice">{_html.escape(s)}</div>' in page
        assert boxed == (" loses to " in s) and _html.escape(s) in page, s


def test_input_outside_the_declared_range_names_file_line_and_unit(tmp_path: Path) -> None:
    """An input value the model's range refuses, or a trend that runs out of it: the error names
    the file, line, unit and year (or the rule), not an anonymous ensemble row."""
    truth = _truth(3, 61)
    _write_panel(tmp_path / "panel.csv", truth, 62)
    units = list(truth["unit"])
    rows = [(u, y, 0.5) for u in units for y in (2000, 2010)]
    rows[3] = (units[1], 2010, 1.7)  # External Push is declared in [-1, 1]
    pd.DataFrame(rows, columns=["unit", "year", "value"]).to_csv(tmp_path / "push.csv", index=False)
    extra = '[inputs.push]\nfile = "push.csv"\nvariable = "External Push"\nbeyond = "hold"\n'
    (tmp_path / "panel.toml").write_text(_spec(tmp_path, holdout=0).read_text() + extra)
    with pytest.raises(DataError, match=rf"push.csv, line 5: input 'push' of unit {units[1]} in 2010 is 1.7, "
                                        r"outside the range the model declares for 'External Push', \[-1, 1\]"):
        PanelProblem(load_panel_spec(tmp_path / "panel.toml"))
    rows[3] = (units[1], 2010, 0.9)  # in range, but its trend (0.04 a year) leaves it by 2020
    rows[2] = (units[1], 2000, 0.5)
    pd.DataFrame(rows, columns=["unit", "year", "value"]).to_csv(tmp_path / "push.csv", index=False)
    (tmp_path / "panel.toml").write_text(_spec(tmp_path, holdout=0).read_text()
                                         + extra.replace('"hold"', '"trend"'))
    with pytest.raises(DataError, match=rf"unit {units[1]}'s input \(trend\) reaches .* give lower/upper"):
        PanelProblem(load_panel_spec(tmp_path / "panel.toml"))
