"""run_ensemble: Dataset shape, provenance, scenarios, fallback, safety net, single runs.

Plain PySD is the independent reference everywhere.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.ensemble import EnsembleFallbackWarning
from pvsd.errors import ParameterError, UnknownVariableError

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "public_value_chain.mdl"
TEST_MODELS = ROOT.parent / "shared" / "test-models"


@pytest.fixture(scope="module")
def ref_model():
    if not REFERENCE.exists():
        pytest.skip("models/public_value_chain.mdl is not there yet")
    return pvsd.load(REFERENCE)


def _pysd_member(model, params: dict, outputs: list[str], final_time=None) -> pd.DataFrame:
    t0, t1, dt, times = model.check_times(final_time=final_time)
    return model._simulate_pysd(params, t0, t1, dt, times, outputs)


def test_reference_model_is_vectorized(ref_model) -> None:
    from pvsd.engine import engine_for

    eng = engine_for(ref_model)
    assert eng.vectorized, eng.reason


def test_ensemble_members_equal_pysd_reference(ref_model) -> None:
    rng = np.random.default_rng(42)
    consts = [c for c in ref_model.constants if np.isfinite(ref_model.default(c))][:8]
    n = 6
    samples = {}
    for c in consts:
        d = ref_model.default(c)
        row = ref_model.variables.set_index("name").loc[c]
        samples[c] = np.clip(d * rng.uniform(0.8, 1.2, n),
                             row["min"] if np.isfinite(row["min"]) else -np.inf,
                             row["max"] if np.isfinite(row["max"]) else np.inf)
    frame = pd.DataFrame(samples)
    outputs = ref_model.stocks[:5]
    ds = ref_model.run_ensemble(frame, outputs=outputs, seed=1)
    assert ds.attrs["engine"] == "vectorized"
    assert dict(ds.sizes)["run"] == n
    for c in consts:  # parameter values are run coordinates
        np.testing.assert_array_equal(ds[c].to_numpy(), frame[c].to_numpy())
    for i in (0, 3, 5):
        ref = _pysd_member(ref_model, {c: float(frame[c].iloc[i]) for c in consts}, outputs)
        np.testing.assert_array_equal(ds["time"].to_numpy(), ref.index.to_numpy(float))
        for o in outputs:
            np.testing.assert_allclose(ds[o].isel(run=i).to_numpy(), ref[o].to_numpy(),
                                       rtol=1e-12, atol=0)


def test_dataset_provenance_and_netcdf(teacup, tmp_path: Path) -> None:
    frame = pd.DataFrame({"Characteristic Time": [8.0, 10.0, 12.0]})
    ds = teacup.run_ensemble(frame, outputs=["teacup temperature"], save_every=1.0, seed=7)
    assert list(ds.data_vars) == ["Teacup Temperature"]  # only what was asked
    assert ds["Teacup Temperature"].dims == ("run", "time")
    assert ds["time"].to_numpy()[1] - ds["time"].to_numpy()[0] == 1.0
    assert ds.attrs["model_sha256"] == teacup.sha256
    assert ds.attrs["seed"] == 7
    assert ds.attrs["pysd_version"]
    assert ds.attrs["n_runs"] == 3
    out = tmp_path / "ens.nc"
    with warnings.catch_warnings():  # names with spaces are stored as data variables on disk
        warnings.simplefilter("ignore")
        ds.to_netcdf(out)
    assert out.stat().st_size > 0


def test_bad_samples_raise(teacup) -> None:
    with pytest.raises(UnknownVariableError):
        teacup.run_ensemble(pd.DataFrame({"Characteristic Tme": [1.0]}))
    with pytest.raises(ParameterError):
        teacup.run_ensemble(pd.DataFrame({"Characteristic Time": [1.0, np.nan]}))
    with pytest.raises(ParameterError):  # below the declared minimum 0
        teacup.run_ensemble(pd.DataFrame({"Characteristic Time": [-1.0]}))
    with pytest.raises(ParameterError):
        teacup.run_ensemble(pd.DataFrame({"Teacup Temperature": [1.0]}))


def test_time_function_lever_matches_pysd(teacup) -> None:
    from pvsd.timefunc import PiecewiseLinear

    lever = PiecewiseLinear((0.0, 10.0, 10.0 + 1e-9, 30.0), (70.0, 70.0, 50.0, 50.0))
    frame = pd.DataFrame({"Characteristic Time": [9.0, 11.0]})
    ds = teacup.run_ensemble(frame, outputs=["Teacup Temperature"],
                             params={"Room Temperature": lever})
    for i, ct in enumerate([9.0, 11.0]):
        ref = _pysd_member(teacup, {"Characteristic Time": ct, "Room Temperature": lever},
                           ["Teacup Temperature"])
        np.testing.assert_array_equal(ds["Teacup Temperature"].isel(run=i).to_numpy(),
                                      ref["Teacup Temperature"].to_numpy())


def test_single_run_uses_engine_and_equals_pysd(teacup) -> None:
    from pvsd.engine import engine_for

    res = teacup.run(params={"Characteristic Time": 9.5}, final_time=20)
    assert engine_for(teacup).vectorized and engine_for(teacup).checked
    ref = _pysd_member(teacup, {"Characteristic Time": 9.5}, teacup.default_outputs(),
                       final_time=20)
    pd.testing.assert_frame_equal(res.data, ref)


def test_fallback_says_why_once_and_equals_pysd(tmp_path: Path) -> None:
    src = TEST_MODELS / "tests" / "delay_fixed" / "test_delay_fixed.mdl"
    if not src.exists():
        pytest.skip(f"{TEST_MODELS} is absent")
    from pvsd.engine import engine_for
    from pvsd.engine.ir import Unsupported

    # DELAY FIXED is vectorised now (issue 12): force the fallback to test its messages
    copy = tmp_path / "forced_fallback.mdl"
    copy.write_text(src.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    model = pvsd.load(copy)
    engine_for(model).disable([Unsupported("DELAY FIXED (fallback forced by the test)", "DF")])
    engine_for(model).warned = False  # "once" is per process; other tests may have run it
    frame = pd.DataFrame(index=range(2))  # two runs of the model as it is
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = model.run_ensemble(frame, outputs=model.stocks[:2] or None, workers=1)
        model.run_ensemble(frame, outputs=model.stocks[:2] or None, workers=1)
    msgs = [str(w.message) for w in rec if "vectorised engine does not support" in str(w.message)]
    assert len(msgs) == 1 and "DELAY FIXED" in msgs[0]
    assert ds.attrs["engine"] == "pysd" and "DELAY FIXED" in ds.attrs["fallback_reason"]
    ref = _pysd_member(model, {}, list(ds.data_vars))
    for o in ds.data_vars:
        np.testing.assert_allclose(ds[o].isel(run=1).to_numpy(), ref[o].to_numpy(), rtol=1e-12)


def test_safety_net_refuses_wrong_results(teacup, monkeypatch: pytest.MonkeyPatch) -> None:
    """A (simulated) engine bug is caught by the first-use check: PySD results are returned."""
    from pvsd import engine as engine_mod

    model = pvsd.load(teacup.path)
    eng = engine_mod.engine_for(model)
    monkeypatch.setattr(eng, "checked", False)
    real = engine_mod.simulate

    def broken(*args, **kwargs):
        times, vals = real(*args, **kwargs)
        return times, {k: v * (1 + 1e-6) for k, v in vals.items()}

    monkeypatch.setattr(engine_mod, "simulate", broken)
    monkeypatch.setattr(eng, "simulator", eng.simulator)
    monkeypatch.setattr(eng, "unsupported", [])
    frame = pd.DataFrame({"Characteristic Time": [9.0, 11.0]})
    with pytest.warns(RuntimeWarning, match="disagrees with plain PySD"), \
            pytest.warns(EnsembleFallbackWarning, match="safety net"):
        ds = model.run_ensemble(frame, outputs=["Teacup Temperature"], workers=1)
    assert ds.attrs["engine"] == "pysd"
    ref = _pysd_member(model, {"Characteristic Time": 11.0}, ["Teacup Temperature"])
    np.testing.assert_array_equal(ds["Teacup Temperature"].isel(run=1).to_numpy(),
                                  ref["Teacup Temperature"].to_numpy())


def test_processes_executor_equals_inprocess(teacup) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"Characteristic Time": rng.uniform(5, 15, 40),
                          "Room Temperature": rng.uniform(60, 80, 40)})
    a = teacup.run_ensemble(frame, outputs=["Teacup Temperature"])
    b = teacup.run_ensemble(frame, outputs=["Teacup Temperature"], executor="processes",
                            chunk_size=10, workers=2)
    np.testing.assert_array_equal(a["Teacup Temperature"].to_numpy(),
                                  b["Teacup Temperature"].to_numpy())


def test_ir_evaluate_and_graph(teacup) -> None:
    from pvsd.engine import engine_for

    ir = engine_for(teacup).ir
    v = ir.variables["heat_loss_to_room"]
    assert v.kind == "flow"
    val = ir.evaluate("heat_loss_to_room", {"teacup_temperature": 100.0, "room_temperature": 70.0,
                                            "characteristic_time": 10.0})
    assert val == 3.0
    stock = ir.variables["teacup_temperature"]
    assert stock.kind == "stock" and stock.outflows == ("heat_loss_to_room",)
    g = ir.graph()
    assert "heat_loss_to_room" in g["teacup_temperature"]
    assert "teacup_temperature" in g["heat_loss_to_room"]
    assert ir.variables["teacup_temperature"].limits[:2] == (32.0, 212.0)
