"""Parameter spaces: parsing, distributions, SALib problems and checks against a model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import pvsd
from pvsd.errors import SpecError, UnknownVariableError
from pvsd.parameters import Parameter, ParameterSpace

MODELS = Path(__file__).parent / "models"


@pytest.fixture(scope="module")
def linear():
    return pvsd.load(MODELS / "linear.mdl")


def test_toml_parse_and_ppf(tmp_path):
    f = tmp_path / "space.toml"
    f.write_text(
        """
[parameters."X1"]
lower = 0
upper = 2
[parameters.X2]
dist = "triangular"
lower = 0
mode = 0.25
upper = 1
group = "g"
[parameters.X3]
dist = "normal"
mean = 1
sd = 0.5
lower = 0
[parameters.X4]
dist = "lognormal"
mu = 0
sigma = 0.5
[parameters.X5]
dist = "loguniform"
lower = 1
upper = 100
[parameters.A1]
value = 2
vary = false
[other]
ignored = true
""",
        encoding="utf-8",
    )
    space = ParameterSpace.from_toml(f)
    assert space.names == ["X1", "X2", "X3", "X4", "X5"]
    assert space.fixed == {"A1": 2.0}
    assert space.groups == ["X1", "g", "X3", "X4", "X5"]
    u = np.array([[0.1, 0.3, 0.5, 0.7, 0.9]])
    row = space.ppf(u).iloc[0]
    assert row["X1"] == pytest.approx(0.2)
    assert row["X2"] == pytest.approx(stats.triang(c=0.25, loc=0, scale=1).ppf(0.3))
    trunc = stats.truncnorm((0 - 1) / 0.5, np.inf, loc=1, scale=0.5)
    assert row["X3"] == pytest.approx(trunc.ppf(0.5))
    assert row["X4"] == pytest.approx(math.exp(stats.norm.ppf(0.7) * 0.5))
    assert row["X5"] == pytest.approx(10 ** (2 * 0.9))
    # extremes stay finite and inside the bounds
    edge = space.ppf(np.array([[0.0] * 5, [1.0] * 5]))
    assert np.isfinite(edge.to_numpy()).all()
    assert edge["X3"].min() >= 0


def test_sample_is_seeded_and_within_bounds():
    space = ParameterSpace((Parameter("a", 1, 3), Parameter("b", dist="normal", mean=0, sd=1)))
    s1, s2 = space.sample(200, seed=3), space.sample(200, seed=3)
    assert s1.equals(s2)
    assert not s1.equals(space.sample(200, seed=4))
    assert s1["a"].between(1, 3).all()
    # Latin hypercube: exactly one point per stratum of each margin
    counts = np.histogram(s1["a"], bins=200, range=(1, 3))[0]
    assert (counts == 1).all()


def test_salib_round_trip():
    problem = {
        "names": ["a", "b", "c", "d"],
        "bounds": [[0, 1], [1, 3, 0.5], [2, 0.5], [0, 4, 1, 1]],
        "dists": ["unif", "triang", "norm", "truncnorm"],
        "groups": ["g1", "g1", "g2", "g3"],
    }
    space = ParameterSpace.from_salib_problem(problem)
    assert space["b"].mode == pytest.approx(2.0)
    assert space["d"].lower == 0 and space["d"].upper == 4 and space["d"].mean == 1
    back = space.to_salib_problem()
    assert back["names"] == problem["names"]
    assert back["dists"] == problem["dists"]
    assert np.allclose(back["bounds"][1], [1, 3, 0.5])
    assert back["groups"] == problem["groups"]
    unit = space.to_salib_problem(unit=True)
    assert unit["bounds"] == [[0.0, 1.0]] * 4


@pytest.mark.parametrize(
    ("table", "words"),
    [
        ({"lower": 5, "upper": 1}, ["'X1'", "lower bound 5 is above upper bound 1", "space.toml"]),
        ({"lower": 1, "upper": 1}, ["cannot vary", "vary = false"]),
        ({"dist": "weibull", "lower": 1, "upper": 2}, ["unknown distribution", "uniform"]),
        ({"dist": "normal", "mean": 1}, ["needs finite mean and sd"]),
        ({"dist": "triangular", "lower": 0, "upper": 1, "mode": 2}, ["mode 2 lies outside"]),
        ({"lower": 0, "upper": 1, "bogus": 3}, ["unknown key", "bogus"]),
        ({"lower": "a", "upper": 1}, ["lower must be a number"]),
        ({"vary": False}, ["needs a value"]),
    ],
)
def test_bad_parameters_are_explained(tmp_path, table, words):
    with pytest.raises(SpecError) as err:
        ParameterSpace.from_dict({"parameters": {"X1": table}}, source=tmp_path / "space.toml")
    for w in words:
        assert w in str(err.value)


def test_validate_against_model(linear):
    space = ParameterSpace.from_dict(
        {"parameters": {"x 1": {"lower": 0, "upper": 1}, "UNUSED": {"lower": 0, "upper": 5}}}
    )
    checked = space.validate(linear)
    assert checked.names == ["X1", "Unused"]  # spelled as in the model file
    with pytest.raises(UnknownVariableError, match="X1"):
        ParameterSpace.from_dict({"parameters": {"X11": {"lower": 0, "upper": 1}}}).validate(linear)
    with pytest.raises(SpecError, match="is a flow, not a constant"):
        ParameterSpace.from_dict({"parameters": {"Y": {"lower": 0, "upper": 1}}}).validate(linear)
    # Unused declares [0, 10] in the model file: a spec's explicit bounds may go beyond it
    # (recorded for the study's report), unless the caller asks for the strict check
    wide = ParameterSpace.from_dict({"parameters": {"Unused": {"lower": 0, "upper": 20}}})
    assert wide.validate(linear).range_overrides == {"Unused": (0.0, 20.0)}
    with pytest.raises(SpecError, match="outside the range the model declares"):
        wide.validate(linear, widen=False)


def test_duplicates_and_empty_space():
    with pytest.raises(SpecError, match="listed twice"):
        ParameterSpace((Parameter("Public Trust", 0, 1), Parameter("public_trust", 0, 1)))
    with pytest.raises(SpecError, match="no parameter varies"):
        ParameterSpace((Parameter("a", value=1, vary=False),))
