"""Per-member time-varying levers: one lever path per ensemble member in one pass.

References: numpy's own ``np.interp`` (the engine's per-member interpolation), each
member run alone with its own shared time function, plain PySD, and an independent
Euler integration of the teacup model.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pvsd
from pvsd.errors import ParameterError
from pvsd.timefunc import MemberPiecewise, PiecewiseLinear, Ramp, Step, Table

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "public_value_chain.mdl"
ARRAYED = ROOT / "tests" / "models" / "regions_arrayed.mdl"
TEST_MODELS = ROOT.parent / "shared" / "test-models"
OUTS = ["Cumulative Public Value", "Public Trust", "Digital Capability"]


@pytest.fixture(scope="module")
def ref_model():
    if not REFERENCE.exists():
        pytest.skip("models/public_value_chain.mdl is not there yet")
    return pvsd.load(REFERENCE)


def _levers(n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = i % 4
        if k == 0:
            out.append(Step(float(rng.uniform(2005, 2045)), float(rng.uniform(0, 1))))
        elif k == 1:
            a = float(rng.uniform(2001, 2040))
            out.append(Ramp(a, a + float(rng.uniform(0.5, 10)), float(rng.uniform(0, 1))))
        elif k == 2:
            t = np.sort(rng.uniform(2000, 2050, size=1 + i % 5))
            out.append(Table(tuple(map(float, t)), tuple(map(float, rng.uniform(0, 1, t.size)))))
        else:
            out.append(pd.Series(rng.uniform(0, 1, 3), index=[2000.0, 2010.25, 2030.0]))
    return out


@np.errstate(all="ignore")  # infinite slopes; the engine runs under errstate(all="ignore") too
def test_member_interpolation_is_numpy_interp() -> None:
    """_minterp equals np.interp member by member, bit for bit (ties, ends, infinite values)."""
    from pvsd.engine.numpy_backend import MemberPoints, _minterp

    rng = np.random.default_rng(3)
    n = 40
    for trial in range(60):
        K = int(rng.integers(1, 6))
        if trial % 2:
            xs = np.sort(rng.choice([0.0, 1.0, 1.5, 2.0, 2.0, 3.0, 1e300], size=(n, K)), axis=1)
        else:
            xs = np.sort(rng.uniform(0, 10, (n, K)), axis=1)
        ys = rng.normal(size=(n, K))
        if trial % 5 == 0:
            ys[:, 0] = np.inf
        for t in (-1.0, 0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 11.0, float(rng.uniform(0, 10)), np.nan):
            got = _minterp(t, xs.T.copy(), ys.T.copy())
            ref = np.array([np.interp(t, xs[m], ys[m]) for m in range(n)])
            np.testing.assert_array_equal(got, ref)
            # the prepared form the engine passes (precomputed slopes, flat takes)
            np.testing.assert_array_equal(
                _minterp(t, MemberPoints(xs.T.copy(), ys.T.copy()), ys.T.copy()), ref)
        # arrayed values (K, 2, 3, n): every element as np.interp of its own column
        ya = rng.normal(size=(n, K, 2, 3))
        t = float(rng.uniform(0, 10))
        got = _minterp(t, xs.T.copy(), np.moveaxis(ya, 0, -1).copy())
        for m in range(n):
            for e in np.ndindex(2, 3):
                assert got[(*e, m)] == np.interp(t, xs[m], ya[(m, slice(None), *e)])


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_engine_per_member_equals_each_member_alone(ref_model, method: str) -> None:
    """Per-member points in one pass == each member's own shared time function, Euler and RK4."""
    from pvsd.engine import engine_for, to_engine_params
    from pvsd.engine.numpy_backend import TimeFunction

    m = ref_model
    n = 12
    levers = _levers(n, 1)
    pls = [m.check_param("Technology Investment", v)[1] for v in levers]
    mp = MemberPiecewise.stack([p.arrays() for p in pls])
    coprod = np.linspace(0.1, 0.9, n)
    sim = engine_for(m).simulator
    py = [m._py[o] for o in OUTS]
    params = to_engine_params(m, {"Technology Investment": mp, "Coproduction Programme": coprod})
    assert params[m._py["Technology Investment"]].per_member
    _, vals = sim.run(params, outputs=py, n=n, method=method)
    for i in range(n):
        x, y = pls[i].arrays()
        one = {m._py["Technology Investment"]: TimeFunction(x, y),
               m._py["Coproduction Programme"]: np.array([coprod[i], coprod[i]])}
        # two identical members: the vectorised (not the scalar) code path
        _, ref = sim.run(one, outputs=py, n=2, method=method)
        for p in py:
            np.testing.assert_allclose(vals[p][:, i], ref[p][:, 0], rtol=1e-12, atol=0)


def test_run_ensemble_time_function_column_equals_plain_pysd(ref_model) -> None:
    """A column of Step/Ramp/Table/Series per row, mixed with a numeric column, in one pass."""
    m = ref_model
    n = 8
    levers = _levers(n, 2)
    coprod = np.linspace(0.05, 0.6, n)
    df = pd.DataFrame({"Technology Investment": levers, "Coproduction Programme": coprod})
    ds = m.run_ensemble(df, outputs=OUTS, seed=4)
    assert ds.attrs["engine"] == "vectorized"
    assert "step to" in str(ds["Technology Investment"].values[0])
    assert "Technology Investment" in ds.attrs["sampled"]
    t0, t1, dt, times = m.check_times()
    for i in (0, 1, 2, 3, 6):
        ref = m._simulate_pysd({"Technology Investment": m.check_param(
            "Technology Investment", levers[i])[1], "Coproduction Programme": float(coprod[i])},
            t0, t1, dt, times, OUTS)
        for o in OUTS:
            np.testing.assert_allclose(ds[o].values[i], ref[o].to_numpy(), rtol=1e-12)


def test_step_before_defaults_to_the_baseline(ref_model) -> None:
    """A Step without ``before`` starts from the model's value of the constant."""
    m = ref_model
    base = m.default("Technology Investment")
    ds = m.run_ensemble(pd.DataFrame({"Technology Investment": [Step(2030, 0.9),
                                                                Step(2030, 0.9, before=base)]}),
                        outputs=OUTS)
    for o in OUTS:
        np.testing.assert_array_equal(ds[o].values[0], ds[o].values[1])
    plain = m.run(outputs=OUTS)
    np.testing.assert_allclose(ds["Public Trust"].sel(time=2029).values[0],
                               plain["Public Trust"].loc[2029], rtol=1e-12)


def test_numbers_in_a_time_column_are_constants(ref_model) -> None:
    m = ref_model
    ds = m.run_ensemble(pd.DataFrame({"Technology Investment": [0.42, Step(2020, 0.7), 0.1]}),
                        outputs=OUTS, chunk_size=2)  # chunks slice the member functions
    for i, v in ((0, 0.42), (2, 0.1)):
        ref = m.run(params={"Technology Investment": v}, outputs=OUTS)
        for o in OUTS:
            np.testing.assert_allclose(ds[o].values[i], ref[o].to_numpy(), rtol=1e-12)
    ref = m.run(params={"Technology Investment": Step(2020, 0.7)}, outputs=OUTS)
    np.testing.assert_allclose(ds["Public Trust"].values[1], ref["Public Trust"].to_numpy(),
                               rtol=1e-12)


def test_bad_rows_are_named(ref_model) -> None:
    m = ref_model
    with pytest.raises(ParameterError, match="row 1"):
        m.run_ensemble(pd.DataFrame({"Technology Investment": [Step(2020, 0.5), "high"]}))
    with pytest.raises(ParameterError, match="row 2"):
        m.run_ensemble(pd.DataFrame({"Technology Investment": [Step(2020, 0.5), 0.3,
                                                               Step(2020, 7.0)]}))
    stock = m.stocks[0]
    with pytest.raises(ParameterError, match="only constants"):
        m.run_ensemble(pd.DataFrame({stock: [Step(2020, 0.5)]}))


def _euler_teacup(t_end: float, dt: float, room, t0_temp: float = 180.0, tau: float = 10.0):
    """Independent Euler integration of dT/dt = -(T - room(t)) / tau."""
    temps = [t0_temp]
    for k in range(round(t_end / dt)):
        temps.append(temps[-1] - dt * (temps[-1] - room(k * dt)) / tau)
    return np.array(temps)


def test_teacup_step_per_member_against_independent_euler(teacup) -> None:
    years = [3.0, 10.0, 17.5]
    ds = teacup.run_ensemble(pd.DataFrame({"Room Temperature": [Step(y, 100) for y in years]}),
                             outputs=["Teacup Temperature"], save_every=0.125, time_step=0.125)
    for i, y in enumerate(years):
        temps = _euler_teacup(30, 0.125, room=lambda t, y=y: 100.0 if t >= y else 70.0)
        np.testing.assert_allclose(ds["Teacup Temperature"].values[i], temps, rtol=1e-12)


def test_pysd_fallback_runs_each_members_own_path(ref_model, tmp_path: Path) -> None:
    """The per-run PySD path gives every member its own time function (never a shared one)."""
    from pvsd.engine import engine_for
    from pvsd.engine.ir import Unsupported

    copy = tmp_path / "forced_fallback.mdl"
    copy.write_text(REFERENCE.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    m = pvsd.load(copy)
    engine_for(m).disable([Unsupported("fallback forced by the test", "(model)")])
    levers = [Step(2010, 0.9), Ramp(2005, 2020, 0.1), 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = m.run_ensemble(pd.DataFrame({"Technology Investment": levers}), outputs=OUTS,
                            workers=1)
    assert ds.attrs["engine"] == "pysd"
    fast = ref_model.run_ensemble(pd.DataFrame({"Technology Investment": levers}), outputs=OUTS)
    for o in OUTS:
        np.testing.assert_allclose(ds[o].values, fast[o].values, rtol=1e-12)
    assert not np.allclose(ds["Public Trust"].values[0], ds["Public Trust"].values[1])


def test_member_piecewise_column_and_padding(ref_model) -> None:
    """A ready MemberPiecewise column (padded points) equals the same functions one by one."""
    m = ref_model
    a = PiecewiseLinear((2000.0, 2020.0, 2030.0, 2040.0), (0.1, 0.5, 0.2, 0.8))
    b = PiecewiseLinear((2015.0,), (0.6,))
    mp = MemberPiecewise.stack([a.arrays(), b.arrays()], index=[0, 1, 0])
    assert mp[1] == b and mp[2] == a and len(mp[1:]) == 2
    ds = m.run_ensemble({"Technology Investment": mp}, outputs=OUTS)
    for i, f in enumerate((a, b, a)):
        ref = m.run(params={"Technology Investment": f}, outputs=OUTS)
        np.testing.assert_allclose(ds["Public Trust"].values[i], ref["Public Trust"].to_numpy(),
                                   rtol=1e-12)
    bad = MemberPiecewise(mp.x, mp.y + 5.0, mp.k)
    with pytest.raises(ParameterError, match="range"):
        m.run_ensemble({"Technology Investment": bad})


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_arrayed_constant_per_member_paths(method: str) -> None:
    """Whole-array and element columns of time functions on an arrayed model, vs PySD."""
    m = pvsd.load(ARRAYED)
    steps = [Step(3.0, 0.2), Ramp(1.0, 6.0, 0.0), Table((0.0, 5.0), (0.01, 0.3))]
    goals = [Step(2.0, 80.0), 70.0, Ramp(4.0, 8.0, 20.0)]
    df = pd.DataFrame({"Coupling": steps, "Goal[B]": goals, "Goal[A]": [90.0, 95.0, 99.0]})
    outs = ["Level"]
    ds = m.run_ensemble(df, outputs=outs, method=method)
    assert ds.attrs["engine"] == "vectorized"
    for i in range(3):
        p = {"Coupling": steps[i], "Goal[B]": goals[i], "Goal[A]": float(df["Goal[A]"][i])}
        one = m.run(params=p, outputs=outs, method=method)
        got = ds["Level"].values[i].reshape(len(ds.time), -1)
        np.testing.assert_allclose(got, one.data.to_numpy(), rtol=1e-12)
    if method == "euler":
        from pvsd.engine import pysd_reference

        t0, t1, dt, times = m.check_times()
        for i in range(3):
            p = dict(m.check_params({"Coupling": steps[i], "Goal[B]": goals[i],
                                     "Goal[A]": float(df["Goal[A]"][i])}))
            _, ref = pysd_reference(m, p, t0, t1, dt, times, outs)
            np.testing.assert_allclose(ds["Level"].values[i], ref["Level"], rtol=1e-12)


def test_range_checks_see_each_members_path(teacup) -> None:
    """The per-step range check counts the members whose own step drives a stock out of range."""
    from pvsd.numerics.ranges import RangeWarning

    steps = [Step(5.0, 400.0), Step(5.0, 100.0), Step(12.0, 500.0)]
    with pytest.warns(RangeWarning, match="Teacup Temperature"):
        ds = teacup.run_ensemble(pd.DataFrame({"Room Temperature": steps}),
                                 outputs=["Teacup Temperature"], time_step=0.125, save_every=1)
    from pvsd.engine import simulate

    t0, t1, dt, times = teacup.check_times(time_step=0.125, saveper=1)
    diag: dict = {}
    mp = MemberPiecewise.stack([teacup.check_param("Room Temperature", s)[1].arrays()
                                for s in steps])
    simulate(teacup, {"Room Temperature": mp}, t0, t1, dt, times, ["Teacup Temperature"], n=3,
             diagnostics=diag)
    (v,) = [r for r in diag["ranges"] if r.variable == "Teacup Temperature"]
    assert v.side == "above" and v.members == 2
    ref = [_euler_teacup(30, 0.125, room=lambda t, s=s: s.to if t >= s.at else 70.0)
           for s in steps]
    assert v.extreme == pytest.approx(max(r.max() for r in ref), rel=1e-12)
    assert "Teacup Temperature" in ds.attrs["range_violations"]


def test_chunks_with_member_paths_pickle_for_worker_processes(ref_model) -> None:
    """A chunk holding per-member time functions survives pickling (process pools, Dask)."""
    import pickle

    from pvsd.ensemble.executors import ChunkTask, as_param_arrays, run_chunk

    m = ref_model
    mp = MemberPiecewise.stack([m.check_param("Technology Investment", s)[1].arrays()
                                for s in (Step(2010, 0.9), Ramp(2005, 2030, 0.2), Step(2040, 0.0))])
    t0, t1, dt, times = m.check_times()
    params = as_param_arrays({"Technology Investment": mp}, 1, 3)
    task = ChunkTask(1, 3, params, {}, t0, t1, dt, times, ["Public Trust"], "vectorized")
    _, _, got = run_chunk(m, pickle.loads(pickle.dumps(task)))
    for j, s in enumerate((Ramp(2005, 2030, 0.2), Step(2040, 0.0))):
        ref = m.run(params={"Technology Investment": s}, outputs=["Public Trust"])
        np.testing.assert_allclose(got["Public Trust"][:, j], ref["Public Trust"].to_numpy(),
                                   rtol=1e-12)
