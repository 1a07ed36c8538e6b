"""Numerics users can trust (issue 12, items 2, 3, 5, 7, 9).

References: the SDXorg canonical output (control_vars), plain PySD (pendulum
SAVEPER), analytic solutions (exponential decay, logistic growth) and a
hand-written RK4 independent of pvsd's code generator.
"""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_MODELS, require

import pvsd
from pvsd.errors import ModelLoadError, ParameterError, TimeRangeError, UnsupportedModelError
from pvsd.numerics import RangeWarning, WorkLimitError

ROOT = Path(__file__).resolve().parents[1]

DECAY = """{UTF-8}
Stock= INTEG (-Outflow, 100)
	~	units
	~	dS/dt = -k S, S(0) = 100.
	|
Outflow= Rate * Stock
	~	units/Year
	~		|
Rate= 0.5
	~	1/Year
	~		|
FINAL TIME  = 10
	~	Year
	~		|
INITIAL TIME  = 0
	~	Year
	~		|
SAVEPER  = 1
	~	Year [0,?]
	~		|
TIME STEP  = 0.25
	~	Year [0,?]
	~		|
"""


def _write(tmp_path: Path, text: str, name: str = "decay.mdl") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _order(errors: list[float]) -> list[float]:
    return [math.log2(errors[i] / errors[i + 1]) for i in range(len(errors) - 1)]


# --------------------------------------------------------------------------- item 7: RK4


def test_rk4_fourth_order_on_exponential_decay(tmp_path: Path) -> None:
    m = pvsd.load(_write(tmp_path, DECAY))
    exact = 100 * math.exp(-0.5 * 10)
    errs = {meth: [] for meth in ("euler", "rk4")}
    for meth in errs:
        for dt in (0.5, 0.25, 0.125, 0.0625):
            r = m.run(time_step=dt, saveper=1, method=meth, outputs=["Stock"])
            errs[meth].append(abs(float(r.to_dataframe()["Stock"].iloc[-1]) - exact))
    rk4 = _order(errs["rk4"])
    euler = _order(errs["euler"])
    assert all(3.8 < o < 4.2 for o in rk4), rk4
    assert all(0.8 < o < 1.2 for o in euler), euler


def test_rk4_fourth_order_on_logistic() -> None:
    m = pvsd.load(ROOT / "tests" / "models" / "logistic.mdl")
    K, r, p0 = 1000.0, 1.0, 10.0
    exact = K / (1 + (K / p0 - 1) * math.exp(-r * 10))
    errs = []
    for dt in (0.25, 0.125, 0.0625, 0.03125):
        res = m.run(time_step=dt, saveper=1, method="rk4", outputs=["Population"])
        errs.append(abs(float(res.to_dataframe()["Population"].iloc[-1]) - exact))
    orders = _order(errs)
    assert all(3.8 < o < 4.3 for o in orders), orders


def _hand_rk4_logistic(p0: float, r: float, k: float, dt: float, t1: float) -> list[float]:
    """Classical RK4 written out by hand (not generated): dP/dt = rP - rP^2/K."""
    def f(p: float) -> float:
        return r * p - r * p * p / k

    p, out, n = p0, [p0], round(t1 / dt)
    for _ in range(n):
        k1 = f(p)
        k2 = f(p + k1 * dt / 2)
        k3 = f(p + k2 * dt / 2)
        k4 = f(p + k3 * dt)
        p = p + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6
        out.append(p)
    return out


def test_rk4_equals_hand_written_rk4_single_and_ensemble() -> None:
    m = pvsd.load(ROOT / "tests" / "models" / "logistic.mdl")
    dt = 0.125
    ref = _hand_rk4_logistic(10.0, 1.0, 1000.0, dt, 10.0)
    got = m.run(time_step=dt, saveper=dt, method="rk4", outputs=["Population"]).to_dataframe()
    np.testing.assert_allclose(got["Population"].to_numpy(), ref, rtol=1e-9)
    rates = np.array([0.5, 1.0, 1.5])
    ds = m.run_ensemble(pd.DataFrame({"Growth Rate": rates}), outputs=["Population"],
                        time_step=dt, save_every=dt, method="rk4", progress=False)
    for i, rate in enumerate(rates):
        np.testing.assert_allclose(ds["Population"].values[i],
                                   _hand_rk4_logistic(10.0, rate, 1000.0, dt, 10.0), rtol=1e-9)
    assert ds.attrs["integration"] == "rk4"


def test_rk4_refused_where_only_pysd_can_run(tmp_path: Path) -> None:
    from pvsd.engine import engine_for
    from pvsd.engine.ir import Unsupported

    m = pvsd.load(_write(tmp_path, DECAY + "\n", "decay_fallback.mdl"))
    engine_for(m).disable([Unsupported("test: engine disabled", "(model)")])
    euler = m.run(method="euler")  # PySD runs Euler
    assert len(euler.to_dataframe()) == 11
    with pytest.raises(UnsupportedModelError, match="Euler only"):
        m.run(method="rk4")
    with pytest.raises(UnsupportedModelError, match="Euler only"):
        m.run_ensemble(pd.DataFrame({"Rate": [0.1, 0.2]}), method="rk4", progress=False)


def test_bad_method_names() -> None:
    m = pvsd.load(ROOT / "tests" / "models" / "logistic.mdl")
    with pytest.raises(ParameterError, match="rk4"):
        m.run(method="rk45")
    assert pvsd.numerics.resolve_method("RK4 Fixed") == "rk4"


def test_cli_method_flag(tmp_path: Path) -> None:
    env_cmd = [sys.executable, "-m", "pvsd", "run", str(ROOT / "tests" / "models" / "logistic.mdl")]
    out = tmp_path / "rk4.csv"
    ok = subprocess.run([*env_cmd, "--method", "rk4", "-o", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([*env_cmd, "--method", "heun"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "heun" in bad.stderr


# --------------------------------------------------------------------------- item 5: ranges


def _shock(dt: float, method: str = "euler") -> tuple[pd.DataFrame, list[warnings.WarningMessage]]:
    m = pvsd.load("public_value_chain")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r = m.run(params={"Trust Shock Size": 0.9, "Trust Shock Duration": 0.25},
                  time_step=dt, method=method, outputs=["Public Trust"])
    return r.to_dataframe(), [x for x in w if issubclass(x.category, RangeWarning)]


def test_stock_below_range_between_saved_points_warns() -> None:
    frame, warned = _shock(0.125)
    # the yearly output hides it ...
    assert frame["Public Trust"].min() > 0.15
    # ... but every step is checked
    assert len(warned) == 1
    msg = str(warned[0].message)
    assert "'Public Trust'" in msg and "minimum 0" in msg and "2030.12" in msg
    assert "TIME STEP" in msg and "rk4" in msg
    _, calm = _shock(1 / 32)
    assert not calm


def test_range_violations_in_ensembles() -> None:
    m = pvsd.load("public_value_chain")
    samples = pd.DataFrame({"Trust Shock Size": [0.0, 0.9, 0.9],
                            "Trust Shock Duration": [1.0, 0.25, 1.0]})
    with pytest.warns(RangeWarning, match=r"Public Trust.*between times 2030 and 2031"):
        ds = m.run_ensemble(samples, outputs=["Public Trust"], time_step=0.125, progress=False)
    assert "Public Trust" in ds.attrs["range_violations"]


# --------------------------------------------------------------------------- items 2, 3


def test_time_varying_control_variables_match_canonical_output() -> None:
    path = require(TEST_MODELS / "tests" / "control_vars" / "test_control_vars.mdl")
    ref = pd.read_csv(path.parent / "output.tab", sep="\t")
    m = pvsd.load(path)
    got = m.run(outputs=["var", "TIME STEP", "SAVEPER"]).to_dataframe()
    assert len(got) == len(ref) == 25
    np.testing.assert_allclose(got.index.to_numpy(), ref["Time"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["var"].to_numpy(), ref["var"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(got["SAVEPER"].to_numpy(), ref["SAVEPER"].to_numpy(), rtol=1e-9)
    with pytest.raises(TimeRangeError, match="give all of them, or none"):
        m.run(final_time=20)
    fixed = m.run(final_time=20, time_step=0.5, saveper=1).to_dataframe()
    assert fixed.index[-1] == 20 and len(fixed) == 21
    with pytest.raises(UnsupportedModelError, match="change"):
        m.run_ensemble(pd.DataFrame(index=range(2)), progress=False)


def test_saveper_not_multiple_of_time_step_follows_pysd() -> None:
    import pysd

    path = require(TEST_MODELS / "samples" / "pendulum" / "Single_Pendulum.mdl")
    m = pvsd.load(path)
    with pytest.warns(pvsd.numerics.grid.SaveperWarning, match="every 0.5"):
        frame = m.run().to_dataframe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pysd.load(str(m.source.py_path)).run(progress=False)
    assert len(frame) == len(ref) == 201
    np.testing.assert_allclose(frame.index.to_numpy(), ref.index.to_numpy(float), atol=1e-9)
    col = m.stocks[0]
    np.testing.assert_allclose(frame[col].to_numpy(), ref[col].to_numpy(float),
                               rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- item 9: limits


def test_work_limit_refuses_tiny_time_step(monkeypatch: pytest.MonkeyPatch) -> None:
    m = pvsd.load("public_value_chain")
    with pytest.raises(WorkLimitError, match="allow_long=True") as err:
        m.run(time_step=1e-7)
    assert "h" in str(err.value) and "--force-long" in str(err.value)
    monkeypatch.setenv("PVSD_MAX_WORK", "1e4")
    with pytest.raises(WorkLimitError):
        m.run()
    assert len(m.run(allow_long=True, outputs=["Public Trust"]).to_dataframe()) == 51
    monkeypatch.delenv("PVSD_MAX_WORK")
    monkeypatch.setenv("PVSD_MAX_MEMORY_GB", "0.0001")
    with pytest.raises(WorkLimitError, match="GB"):
        m.run_ensemble(pd.DataFrame({"Trust Shock Size": np.zeros(2000)}), progress=False,
                       time_step=1 / 32, save_every=1 / 32)


def test_cli_time_step_too_small_exit_2() -> None:
    p = subprocess.run([sys.executable, "-m", "pvsd", "run", "public_value_chain", "--time-step",
                        "1e-7"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "--force-long" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\x00\x01junk" * 1000, "NUL"),
        (bytes(range(128, 256)) * 400, "not a text file"),
        (b"hello world, no equations here\n" * 100, "does not look like a Vensim"),
        (b"x = 1 " * 400_000 + b"~ ~ |", "equation of"),
        (b"a | " * 400_000 + b"x = 1 ~ ~ |", "equations|lack"),
    ],
    ids=["nul", "binary", "no-marks", "one-huge-equation", "junk-bars"],
)
def test_junk_model_files_refused_before_pysd(tmp_path: Path, content: bytes, match: str) -> None:
    p = tmp_path / "junk.mdl"
    p.write_bytes(content)
    with pytest.raises(ModelLoadError, match=match):
        pvsd.load(p)


def test_huge_model_file_refused(tmp_path: Path) -> None:
    p = tmp_path / "huge.mdl"
    with open(p, "wb") as fh:
        fh.truncate(60 * 1024 * 1024)  # sparse: 60 MB without writing them
    with pytest.raises(ModelLoadError, match=r"60\.0 MB"):
        pvsd.load(p)
    q = subprocess.run([sys.executable, "-m", "pvsd", "info", str(p)], capture_output=True,
                       text=True, timeout=60)
    assert q.returncode == 2 and "MB" in q.stderr and "Traceback" not in q.stderr


# --------------------------------------------------------------------------- specs


def test_sensitivity_integration_setting_checked() -> None:
    from pvsd.errors import SpecError
    from pvsd.sensitivity.core import prepare

    with pytest.raises(SpecError, match="integration"):
        prepare(pvsd.load("public_value_chain"),
                ROOT / "models" / "public_value_chain_sensitivity.toml", "morris", 4, 1,
                integration="rk3")


def test_javascript_rk4_equals_numpy_rk4() -> None:
    from pvsd.embed.js_backend import compile_js, ir_of, node_available, run_in_node

    if node_available() is None:
        pytest.skip("Node.js is not installed")
    m = pvsd.load("public_value_chain")
    js = compile_js(ir_of(m))
    outs = m.stocks
    res = run_in_node(js, [{"params": {"trust_shock_size": 0.5},
                            "opts": {"method": "rk4", "outputs": [m._py[o] for o in outs]}}])[0]
    ref = m.run(params={"Trust Shock Size": 0.5}, method="rk4", outputs=outs).to_dataframe()
    euler = m.run(params={"Trust Shock Size": 0.5}, outputs=outs).to_dataframe()
    for o in outs:
        np.testing.assert_allclose(res["values"][m._py[o]], ref[o].to_numpy(), rtol=1e-9, atol=1e-12)
    assert any(not np.allclose(ref[o], euler[o], rtol=1e-6) for o in outs)
