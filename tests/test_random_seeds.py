"""Random functions are reproducible and seeded from one recorded seed (issue 12 item 4)."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

import pvsd

MODEL = textwrap.dedent("""\
    {UTF-8}
    Noise = RANDOM UNIFORM(0, 1, SEED)
    \t~\tDmnl
    \t~\tA fresh draw every time step.
    \t|
    Gain = 1
    \t~\tDmnl [0, 10]
    \t~\tScales the noise.
    \t|
    Total = INTEG(Gain * Noise, 0)
    \t~\tDmnl
    \t~\t|
    INITIAL TIME = 0 ~ Year ~ |
    FINAL TIME = 20 ~ Year ~ |
    TIME STEP = 1 ~ Year ~ |
    SAVEPER = TIME STEP ~ Year ~ |
    """)


def _model(tmp_path: Path, seed: int, name: str = "noise") -> pvsd.Model:
    folder = tmp_path / f"{name}-{seed}"
    folder.mkdir(exist_ok=True)
    path = folder / "noise.mdl"
    path.write_text(MODEL.replace("SEED", str(seed)))
    return pvsd.load(path)


def _total(res) -> np.ndarray:
    return res.to_dataframe()["Total"].to_numpy()


def test_two_runs_are_identical_and_record_the_models_seed(tmp_path: Path) -> None:
    m = _model(tmp_path, 7)
    a, b = m.run(outputs=["Total"]), m.run(outputs=["Total"])
    np.testing.assert_array_equal(_total(a), _total(b))
    assert a.provenance["seed"] == 7
    assert np.all(np.diff(_total(a)) > 0)  # it does draw: increments in (0, 1)


def test_the_models_seed_argument_is_honoured(tmp_path: Path) -> None:
    a = _total(_model(tmp_path, 7).run(outputs=["Total"]))
    b = _total(_model(tmp_path, 8).run(outputs=["Total"]))
    assert not np.array_equal(a, b)


def test_explicit_seed_overrides_and_reruns_bit_for_bit(tmp_path: Path) -> None:
    m = _model(tmp_path, 7)
    a, b = m.run(outputs=["Total"], seed=3), m.run(outputs=["Total"], seed=3)
    np.testing.assert_array_equal(_total(a), _total(b))
    assert a.provenance["seed"] == 3
    assert not np.array_equal(_total(a), _total(m.run(outputs=["Total"])))


def test_global_numpy_state_is_left_alone(tmp_path: Path) -> None:
    m = _model(tmp_path, 7)
    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what PySD uses
    expected = np.random.uniform(size=3)  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002 - the legacy global state is what PySD uses
    m.run(outputs=["Total"])
    np.testing.assert_array_equal(np.random.uniform(size=3), expected)  # noqa: NPY002


def test_models_without_random_functions_record_no_seed(tmp_path: Path) -> None:
    res = pvsd.load(Path(__file__).parent / "models" / "goal_seeking.mdl").run()
    assert res.provenance["seed"] is None


@pytest.fixture()
def ens_model(tmp_path: Path) -> pvsd.Model:
    return _model(tmp_path, 7)


def _ensemble(m: pvsd.Model, n: int, seed: int | None = None):
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the PySD fallback warning
        return m.run_ensemble(pd.DataFrame({"Gain": np.ones(n)}), outputs=["Total"],
                              executor="inprocess", seed=seed, progress=False)


def test_ensemble_members_have_independent_reproducible_streams(ens_model) -> None:
    a = _ensemble(ens_model, 4)["Total"].to_numpy()
    b = _ensemble(ens_model, 4)["Total"].to_numpy()
    np.testing.assert_array_equal(a, b)
    assert len({tuple(row) for row in a}) == 4  # every member its own draws
    small = _ensemble(ens_model, 2)["Total"].to_numpy()
    np.testing.assert_array_equal(small, a[:2])  # member i's stream does not depend on n
    other = _ensemble(ens_model, 2, seed=11)
    assert other.attrs.get("seed") in (11, "11")
    assert not np.array_equal(other["Total"].to_numpy(), a[:2])
