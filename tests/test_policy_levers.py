"""Step and ramp levers: a whole population runs as one ensemble, equal to member-by-member runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.policy.evaluate import Evaluator
from pvsd.policy.spec import load_policy_spec

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "public_value_chain.mdl"


def test_step_ramp_population_equals_member_by_member_runs(monkeypatch) -> None:
    if not REFERENCE.exists():
        pytest.skip("models/public_value_chain.mdl is not there yet")
    model = pvsd.load(REFERENCE)
    spec = load_policy_spec({
        "levers": {"Technology Investment": {"type": "step", "year": [2010, 2040], "level": [0, 1]},
                   "Coproduction Programme": {"type": "ramp", "start": [2005, 2030],
                                              "duration": [0, 10], "level": [0, 1]},
                   "Organisational Reform Effort": {"lower": 0, "upper": 1}},
        "objectives": [{"variable": "Cumulative Public Value", "stat": "at", "time": 2040,
                        "sense": "max"},
                       {"variable": "Public Trust", "stat": "mean", "period": [2030, 2050],
                        "sense": "max"}]})
    worlds = pd.DataFrame({"Obsolescence Time": [8.0, 15.0, 22.0]})
    rng = np.random.default_rng(5)
    lo, hi = np.array(spec.bounds).T
    X = lo + rng.uniform(size=(6, len(lo))) * (hi - lo)
    calls = []
    from pvsd import ensemble

    real = ensemble.run_ensemble
    monkeypatch.setattr(ensemble, "run_ensemble", lambda *a, **k: calls.append(1) or real(*a, **k))
    ev = Evaluator(model, spec, worlds=worlds)
    data = ev.simulate(X)
    assert len(calls) == 1  # the whole population times the worlds: one ensemble
    F = ev.objectives(data)
    # member by member: one Model.run per (policy, world), its own lever paths
    ref = {o: np.empty_like(v) for o, v in data.items()}
    for p in range(len(X)):
        for w in range(len(worlds)):
            params = {**spec.settings_of(X[p]), "Obsolescence Time": float(worlds.iloc[w, 0])}
            r = model.run(params=params, outputs=ev.outputs)
            for o in ref:
                ref[o][p, w] = r[o].to_numpy()
    for o in ref:
        np.testing.assert_allclose(data[o], ref[o], rtol=1e-12)
    np.testing.assert_allclose(F, ev.objectives(ref), rtol=1e-12)
    assert np.ptp(F[:, 0]) > 0  # the policies differ
