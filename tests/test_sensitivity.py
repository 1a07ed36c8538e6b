"""Sensitivity analysis against analytic references (Ishigami, linear model), on model files pvsd runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.errors import SpecError, UnknownVariableError
from pvsd.model import Model
from pvsd.sensitivity import (
    MorrisResult,
    Outcome,
    ParameterSpace,
    SobolResult,
    UncertaintyBands,
    sensitivity,
    uncertainty_bands,
)

MODELS = Path(__file__).parent / "models"
REPO = Path(__file__).resolve().parent.parent

# Ishigami (a = 7, b = 0.1, inputs uniform on [-pi, pi]): analytic indices.
ISHIGAMI_S1 = np.array([0.3139, 0.4424, 0.0])
ISHIGAMI_ST = np.array([0.5576, 0.4424, 0.2437])

# Linear model Y = 1 X1 + 2 X2 + 3 X3, X1 ~ U[0, 1], X2 ~ U[0, 2], X3 ~ U[-1, 1]:
# a_i^2 var(x_i) = 1/12, 16/12, 36/12, so S1 = ST = (1, 16, 36) / 53.
LINEAR_PARAMS = {"X1": {"lower": 0, "upper": 1}, "X2": {"lower": 0, "upper": 2},
                 "X3": {"lower": -1, "upper": 1}}
LINEAR_S = np.array([1.0, 16.0, 36.0]) / 53.0


@pytest.fixture(scope="module")
def ishigami() -> Model:
    return pvsd.load(MODELS / "ishigami.mdl")


@pytest.fixture(scope="module")
def linear() -> Model:
    return pvsd.load(MODELS / "linear.mdl")


def ishigami_problem() -> dict:
    return {"names": ["X1", "X2", "X3"], "bounds": [[-math.pi, math.pi]] * 3, "outputs": ["Y"]}


@pytest.fixture(scope="module")
def ishigami_sobol(ishigami) -> SobolResult:
    return sensitivity(ishigami, ishigami_problem(), method="sobol", n=8192, seed=12345, progress=False)


def test_ishigami_sobol_recovers_analytic_indices(ishigami_sobol):
    res = ishigami_sobol
    assert isinstance(res, SobolResult)
    assert res.runs == 8192 * 5
    df = res.to_dataframe()
    assert list(df.index) == ["X1", "X2", "X3"]
    assert df.index.name == "parameter"
    for col in ("S1", "S1_conf", "ST", "ST_conf"):
        assert col in df.columns
    s1, st = df["S1"].to_numpy(), df["ST"].to_numpy()
    assert np.abs(s1 - ISHIGAMI_S1).max() < 0.02, s1
    assert np.abs(st - ISHIGAMI_ST).max() < 0.02, st
    # the bootstrap intervals cover the analytic values
    assert (np.abs(s1 - ISHIGAMI_S1) <= df["S1_conf"].to_numpy()).all()
    assert (np.abs(st - ISHIGAMI_ST) <= df["ST_conf"].to_numpy()).all()
    assert res.converged  # every interval narrower than the default tolerance 0.1
    assert res.ranking() == ["X1", "X2", "X3"]


def test_result_object_schema_and_display(ishigami_sobol):
    res = ishigami_sobol
    with pytest.raises(AttributeError):
        res.n = 3  # frozen
    assert list(res.to_dataframe().columns) == ["outcome", "time", "S1", "S1_conf", "ST", "ST_conf", "converged"]
    assert res.to_dataframe()["time"].isna().all()
    assert res.indices("Y").shape == (3, 5)
    assert len(res.samples) == res.runs and list(res.samples.columns) == ["X1", "X2", "X3"]
    assert res.samples.abs().max().max() <= math.pi
    fig = res.plot()
    assert {tr.name for tr in fig.data} == {"S1", "ST"}
    assert fig.data[0].error_x.array is not None
    html = res._repr_html_()
    assert "SobolResult" in html and "X2" in html
    text = res.summary()
    assert "X1" in text and "most influential" in text
    assert res.provenance["seed"] == 12345 and res.provenance["method"] == "sobol"
    assert len(res.provenance["model_sha256"]) == 64


def test_same_seed_same_result(ishigami):
    a = sensitivity(ishigami, ishigami_problem(), n=256, seed=5, progress=False)
    b = sensitivity(ishigami, ishigami_problem(), n=256, seed=5, progress=False)
    pd.testing.assert_frame_equal(a.to_dataframe(), b.to_dataframe())
    c = sensitivity(ishigami, ishigami_problem(), n=256, seed=6, progress=False)
    assert not np.allclose(a.to_dataframe()["S1"], c.to_dataframe()["S1"])


def linear_spec() -> dict:
    return {"parameters": {**LINEAR_PARAMS, "Unused": {"lower": 0, "upper": 10}},
            "outcomes": [{"variable": "Y"}]}


def test_linear_model_sobol_matches_analytic_shares(linear):
    res = sensitivity(linear, linear_spec(), method="sobol", n=4096, seed=1, progress=False)
    df = res.indices("Y")
    expected = np.append(LINEAR_S, 0.0)
    assert np.allclose(df["S1"].to_numpy(), expected, atol=0.02), df
    assert np.allclose(df["ST"].to_numpy(), expected, atol=0.02), df
    assert df.loc["Unused", "ST"] == pytest.approx(0.0, abs=1e-12)


def test_linear_model_trajectory_indices_every_time(linear):
    spec = {"parameters": LINEAR_PARAMS,
            "outcomes": [{"variable": "Accumulated Y", "stat": "trajectory"}]}
    res = sensitivity(linear, spec, method="sobol", n=1024, seed=2, progress=False)
    wide = res.over_time("Accumulated Y", "S1")
    assert list(wide.index) == [float(t) for t in range(11)]
    assert wide.loc[0.0].isna().all()  # the stock starts at 0 in every run: no variance, no index
    # Accumulated Y = Y * t, so every later time has the indices of Y
    assert np.allclose(wide.loc[1.0:].to_numpy(), np.tile(LINEAR_S, (10, 1)), atol=0.03)
    st = res.over_time("Accumulated Y", "ST")
    assert np.allclose(st.loc[1.0:].to_numpy(), np.tile(LINEAR_S, (10, 1)), atol=0.03)
    fig = res.plot()  # only a trajectory outcome: indices over time
    assert any(tr.stackgroup for tr in fig.data)
    assert "X3 is the leading driver" in res.summary()


def test_morris_ranks_ignored_parameter_last_with_zero_mu_star(linear):
    res = sensitivity(linear, linear_spec(), method="morris", n=20, seed=3, progress=False)
    assert isinstance(res, MorrisResult)
    assert res.runs == 20 * 5
    df = res.indices("Y")
    assert list(df.columns) == ["mu", "mu_star", "mu_star_conf", "sigma", "converged"]
    assert res.ranking("Y")[-1] == "Unused"
    assert df.loc["Unused", "mu_star"] == 0.0
    # linear: every elementary effect equals a_i * range_i, so mu = mu* and sigma = 0
    assert np.allclose(df.loc[["X1", "X2", "X3"], "mu_star"], [1 * 1, 2 * 2, 3 * 2])
    assert np.allclose(df["sigma"], 0.0, atol=1e-9)
    fig = res.plot()
    assert fig.layout.xaxis.title.text.startswith("mu*")
    assert "Unused barely matters" in res.summary()


@pytest.mark.parametrize(("method", "n", "main"), [("fast", 512, "ST"), ("delta", 512, "delta")])
def test_fast_and_delta_rank_the_linear_model(linear, method, n, main):
    res = sensitivity(linear, linear_spec(), method=method, n=n, seed=4, progress=False)
    assert res.ranking("Y") == ["X3", "X2", "X1", "Unused"]
    df = res.indices("Y")
    if method == "fast":
        assert np.allclose(df["S1"].to_numpy(), np.append(LINEAR_S, 0), atol=0.03)
    assert df.loc["X3", main] > df.loc["X2", main] > df.loc["X1", main]


def test_scalar_outcomes(linear):
    """at / mean / max / crossing: check the outcome values the analysis used against exact ones."""
    spec = {
        "parameters": LINEAR_PARAMS,
        "outcomes": [
            {"variable": "Accumulated Y", "stat": "at", "time": 2.5},
            {"variable": "Accumulated Y", "stat": "mean", "period": [2, 8]},
            {"variable": "Accumulated Y", "stat": "max"},
            {"variable": "Accumulated Y", "stat": "crossing", "threshold": 10},
            {"variable": "Accumulated Y", "stat": "crossing", "threshold": 10, "never": 99, "name": "crossing (99)"},
        ],
    }
    res = sensitivity(linear, spec, method="sobol", n=64, seed=5, progress=False)
    x = res.samples
    y = x["X1"] + 2 * x["X2"] + 3 * x["X3"]
    v = res.values
    assert np.allclose(v["Accumulated Y in 2.5"], 2.5 * y)
    assert np.allclose(v["mean of Accumulated Y 2-8"], 5 * y)
    assert np.allclose(v["max of Accumulated Y"], np.maximum(10 * y, 0))
    cross = np.where(10 * y >= 10, 10 / y.where(y > 0, np.inf), 10.0)
    assert np.allclose(v["time Accumulated Y reaches 10"], cross)
    assert np.allclose(v["crossing (99)"], np.where(10 * y >= 10, cross, 99))
    assert any("never reached the threshold" in n for n in res.notes)


def test_outcome_evaluate_direct():
    t = np.array([0.0, 1, 2, 3])
    y = np.array([[1.0, 0.5, 0.2, 0.1], [1.0, 1.0, 1.0, 1.0]])
    down = Outcome("v", "crossing", threshold=0.3, direction="down").evaluate(y, t)[0]
    assert down[0] == pytest.approx(1 + (0.5 - 0.3) / (0.5 - 0.2))
    assert down[1] == 3.0  # never: the final time
    assert Outcome("v", "min", period=(0.5, 2)).evaluate(y, t)[0][0] == pytest.approx(0.2)
    assert Outcome("v", "at", time=1.5).evaluate(y, t)[0][0] == pytest.approx(0.35)
    assert Outcome("v").label == "v (final)"


def test_salib_problem_dict_with_outputs_at_final_time(linear):
    problem = {"names": ["X1", "X2", "X3"], "bounds": [[0, 1], [0, 2], [-1, 1]],
               "outputs": ["Accumulated Y", {"variable": "Y", "stat": "at", "time": 5}]}
    res = sensitivity(linear, problem, n=512, seed=6, progress=False)
    assert [o.label for o in res.outcomes] == ["Accumulated Y (final)", "Y in 5"]
    assert np.allclose(res.indices("Accumulated Y")["S1"], LINEAR_S, atol=0.05)


def test_convergence_doubling_reuses_nested_runs(linear, monkeypatch):
    calls = []
    real = Model.run_ensemble

    def counting(self, samples, **kw):
        calls.append(len(samples))
        return real(self, samples, **kw)

    monkeypatch.setattr(Model, "run_ensemble", counting)
    res = sensitivity(linear, {"parameters": LINEAR_PARAMS, "outcomes": ["Y"]}, n=64, seed=7,
                      tolerance=0.05, until_converged=True, max_runs=200_000, progress=False)
    assert res.converged
    assert res.n > 64 and list(res.history["n"]) == [64 * 2**k for k in range(len(res.history))]
    assert (res.history["widest_interval"].iloc[-1] <= 0.05) and res.history["widest_interval"].iloc[0] > 0.05
    # Sobol designs are nested: each doubling only runs the new half
    assert calls == [64 * 5] + [64 * 5 * 2**k for k in range(len(calls) - 1)]
    # a budget stops the doubling and says so
    res2 = sensitivity(linear, {"parameters": LINEAR_PARAMS, "outcomes": ["Y"]}, n=64, seed=7,
                       tolerance=0.001, until_converged=True, max_runs=64 * 5 * 4, progress=False)
    assert res2.n == 256 and not res2.converged
    assert any("budget" in n for n in res2.notes)
    assert not res2.unconverged().empty


def test_flat_outcome_has_undefined_indices(linear):
    res = sensitivity(linear, {"parameters": {"Unused": {"lower": 0, "upper": 10}}, "outcomes": ["Y"]},
                      n=64, seed=8, progress=False)
    assert res.to_dataframe()["S1"].isna().all()
    assert any("same in every run" in n for n in res.notes)


def test_uncertainty_bands(linear):
    spec = {"parameters": LINEAR_PARAMS, "outcomes": ["Y"], "bands": {"outputs": ["Accumulated Y"], "n": 400}}
    b = uncertainty_bands(linear, spec, seed=9, progress=False)
    assert isinstance(b, UncertaintyBands)
    d = b.to_dataframe("Accumulated Y")
    assert list(d.columns) == ["variable", "baseline", "mean", "p5", "p25", "p50", "p75", "p95"]
    # baseline: the model's own values X1 = 0.5, X2 = 1, X3 = 0 give Y = 2.5
    assert np.allclose(d["baseline"], 2.5 * d.index.to_numpy())
    # mean of Y is 0.5 + 2 + 0 = 2.5; percentiles ordered
    assert d.loc[10.0, "mean"] == pytest.approx(25.0, rel=0.02)
    q = d[["p5", "p25", "p50", "p75", "p95"]].to_numpy()
    assert (np.diff(q, axis=1) >= -1e-12).all()
    assert len(b.plot().data) > 0 and "ends between" in b.summary()


# --------------------------------------------------------------------------- errors before any run
@pytest.fixture()
def no_runs(monkeypatch):
    def refuse(self, samples, **kw):  # pragma: no cover - must not be reached
        raise AssertionError("a run started before the spec was checked")

    monkeypatch.setattr(Model, "run_ensemble", refuse)
    monkeypatch.setattr(Model, "run", refuse)


def test_unknown_parameter_fails_before_any_run(linear, no_runs):
    spec = {"parameters": {"X4": {"lower": 0, "upper": 1}}, "outcomes": ["Y"]}
    with pytest.raises(UnknownVariableError) as err:
        sensitivity(linear, spec, n=64)
    assert "'X4'" in str(err.value) and "Did you mean" in str(err.value)


def test_lower_above_upper_fails_before_any_run(linear, no_runs, tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('[parameters.X1]\nlower = 3\nupper = 1\n[[outcomes]]\nvariable = "Y"\n', encoding="utf-8")
    with pytest.raises(SpecError) as err:
        sensitivity(linear, f, n=64)
    msg = str(err.value)
    assert "bad.toml" in msg and "'X1'" in msg and "above upper bound" in msg


def test_unknown_method_fails_before_any_run(linear, no_runs):
    with pytest.raises(SpecError, match=r"Unknown sensitivity method 'sobel'.*Did you mean 'sobol'"):
        sensitivity(linear, linear_spec(), method="sobel", n=64)


@pytest.mark.parametrize(("method", "n", "words"), [
    ("sobol", 16, "too small"),
    ("sobol", 1000, "not a power of two; Sobol' sequences"),
    ("morris", 1, "too small"),
    ("fast", 64, "too small for method .fast."),
    ("delta", 10, "too small"),
])
def test_n_too_small_fails_before_any_run(linear, no_runs, method, n, words):
    with pytest.raises(SpecError, match=words.replace("^", r"\^")):
        sensitivity(linear, linear_spec(), method=method, n=n)


def test_other_bad_specs(linear, no_runs):
    with pytest.raises(SpecError, match="names no outcomes"):
        sensitivity(linear, {"parameters": LINEAR_PARAMS}, n=64)
    with pytest.raises(UnknownVariableError):
        sensitivity(linear, {"parameters": LINEAR_PARAMS, "outcomes": ["Yy"]}, n=64)
    with pytest.raises(SpecError, match="outside the model's run"):
        sensitivity(linear, {"parameters": LINEAR_PARAMS,
                             "outcomes": [{"variable": "Y", "stat": "at", "time": 20}]}, n=64)
    with pytest.raises(SpecError, match="does not support parameter groups"):
        sensitivity(linear, {"parameters": {**LINEAR_PARAMS, "Unused": {"lower": 0, "upper": 1, "group": "g"}},
                             "outcomes": ["Y"]}, method="fast", n=128)
    with pytest.raises(SpecError, match="unknown top-level"):
        sensitivity(linear, {"parameters": LINEAR_PARAMS, "outcome": ["Y"]}, n=64)


def test_groups_are_analysed_together(linear):
    spec = {"parameters": {"X1": {"lower": 0, "upper": 1, "group": "small"},
                           "X2": {"lower": 0, "upper": 2, "group": "small"},
                           "X3": {"lower": -1, "upper": 1}},
            "outcomes": ["Y"]}
    res = sensitivity(linear, spec, n=2048, seed=10, progress=False)
    df = res.indices("Y")
    assert list(df.index) == ["small", "X3"]
    assert np.allclose(df["ST"], [17 / 53, 36 / 53], atol=0.03)


def test_reference_spec_validates_and_screens():
    spec_file = REPO / "models" / "public_value_chain_sensitivity.toml"
    m = pvsd.load("public_value_chain")
    space = ParameterSpace.from_toml(spec_file).validate(m)
    assert len(space.names) == 10
    res = sensitivity(m, spec_file, method="morris", n=6, progress=False)
    assert res.runs == 6 * 11 and res.seed == 20250101
    assert set(res.factors) == set(space.names)
