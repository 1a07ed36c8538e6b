"""Minimax regret (Savage, as in the EMA Workbench) against its analytic answer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pvsd
from pvsd.errors import SpecError

QUAD = Path(__file__).parent / "models" / "policy_quadratic.mdl"
N = 80
A, B = 0.05, 0.8


def _spec(unc: Path, statistic: str, **robust):
    # Score = 1 - (X - Target X)^2 - (Y - Target Y)^2 with Y pinned at its target: regret in a world
    # u is (X - u)^2, so the minimax-regret X is the midpoint of the worlds' range of u, while the
    # mean's optimum is E[u]; a skewed (loguniform) u separates the two.
    return {"settings": {"population": 20, "generations": 40, "seed": 5},
            "levers": {"X": {"lower": 0, "upper": 1}, "Y": {"lower": 0.7, "upper": 0.7}},
            "objectives": [{"variable": "Score", "stat": "final", "sense": "max"}],
            "robust": {"uncertainties": str(unc), "n": N, "statistic": statistic, **robust}}


@pytest.fixture
def unc(tmp_path):
    p = tmp_path / "unc.toml"
    p.write_text('[parameters."Target X"]\ndist = "loguniform"\nlower = 0.05\nupper = 0.8\n')
    return p


def test_minimax_regret_is_the_midpoint_not_the_mean(unc):
    model = pvsd.load(QUAD)
    worlds = pvsd.ParameterSpace.from_toml(unc).sample(N, seed=5)["Target X"].to_numpy()
    res = pvsd.optimize(model, _spec(unc, "regret"))
    x = res.best["X"]
    # exact minimax-regret answer on the sampled worlds, and the analytic midpoint (a + b) / 2:
    # a Latin hypercube puts a world in the top and bottom 1/N of the distribution, so the sampled
    # extremes are within B (1 - (A/B)^(1/N)) of the bounds
    assert x == pytest.approx((worlds.min() + worlds.max()) / 2, abs=2e-3)
    assert x == pytest.approx((A + B) / 2, abs=B * (1 - (A / B) ** (1 / N)) / 2 + 2e-3)
    # its max regret is the half-range squared (best value 1 in every world)
    assert res.best["Score (final)"] == pytest.approx(((worlds.max() - worlds.min()) / 2) ** 2, abs=1e-3)
    assert res.provenance["robust_spec"]["statistic"] == "regret"
    assert "Latin hypercube" in res.provenance["robust_spec"]["regret_reference"]
    assert "maximum regret" in res.summary()
    conv = res.convergence()
    assert conv["best Score (final)"].is_monotonic_decreasing
    # the mean of the same skewed worlds picks E[u] (about 0.27), far from the midpoint 0.425
    mean = pvsd.optimize(model, _spec(unc, "mean"))
    assert mean.best["X"] == pytest.approx(worlds.mean(), abs=0.01)
    assert abs(mean.best["X"] - x) > 0.1


def test_regret_percentile(unc):
    worlds = pvsd.ParameterSpace.from_toml(unc).sample(N, seed=5)["Target X"].to_numpy()
    res = pvsd.optimize(pvsd.load(QUAD), _spec(unc, "regret", percentile=50))
    # brute force on a fine grid: the X whose median regret (X - u)^2 over the worlds is least
    grid = np.linspace(0, 1, 20001)
    med = np.percentile((grid[:, None] - worlds[None, :]) ** 2, 50, axis=1)
    assert res.best["X"] == pytest.approx(grid[med.argmin()], abs=5e-3)
    assert res.best["Score (final)"] == pytest.approx(med.min(), abs=1e-4)
    assert "50th percentile of regret" in res.summary()


def test_regret_on_several_objectives_is_one_clear_error(unc):
    spec = _spec(unc, "regret")
    spec["objectives"].append({"variable": "Accumulated Score", "stat": "final", "sense": "max"})
    with pytest.raises(SpecError, match="regret' needs exactly one objective"):
        pvsd.optimize(pvsd.load(QUAD), spec)


def test_regret_two_levers_reference_refined_per_world(unc):
    # both levers free: a coarse reference set alone would understate each world's best value and
    # bias the answer; the per-world refinement recovers best = 1, so the exact answer holds
    spec = _spec(unc, "regret")
    spec["levers"]["Y"] = {"lower": 0, "upper": 1}
    spec["robust"]["n"] = 30
    spec["settings"]["generations"] = 30
    res = pvsd.optimize(pvsd.load(QUAD), spec)
    worlds = pvsd.ParameterSpace.from_toml(unc).sample(30, seed=5)["Target X"].to_numpy()
    assert res.best["X"] == pytest.approx((worlds.min() + worlds.max()) / 2, abs=2e-3)
    assert res.best["Y"] == pytest.approx(0.7, abs=5e-3)
    assert res.best["Score (final)"] == pytest.approx(((worlds.max() - worlds.min()) / 2) ** 2, abs=1e-4)
    assert "evolution strategy" in res.provenance["robust_spec"]["regret_reference"]
    # the nominal optimum's regret in the same worlds sits beside it and is larger
    nom = res.chosen.set_index("policy").loc["nominal optimum", "Score (final)"]
    assert nom > res.best["Score (final)"] + 0.01
