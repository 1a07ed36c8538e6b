"""Subscripted (arrayed) SDXorg models: the vectorised engine equals plain PySD.

Parametrised over every model file of ``../shared/test-models/{tests,samples}``
whose translation has subscript ranges (detected from PySD's abstract model,
so models added later are covered). For each:

* the test id says which path the model takes: ``vectorized`` or
  ``fallback-<construct>`` (the first construct the engine cannot vectorise);
* a vectorised model equals plain PySD at rtol 1e-9 for every element of
  every output, with default parameters and as a 3-member ensemble with every
  constant perturbed element by element (each member equals a separate PySD
  run with its values), and equals the canonical output (output.tab/.csv) at
  rtol 1e-5 for every column where PySD itself does;
* a fallback model raises NeedsFallback naming that construct.

Translations and loaded models are shared between the cases of one model.
"""

from __future__ import annotations

import functools
import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_MODELS, abstract_model, conformance_files, model_ir, pysd_translation

RTOL = 1e-9
CANON_RTOL = 1e-5
N_MEMBERS = 3


def _ir(path: Path):
    """(IR or None, kind) of a model file; kind None when it has no subscripts."""
    am = abstract_model(path)
    if am is None or not any(s.subscripts for s in am.sections):
        return None, None
    ir, items = model_ir(path)
    if items:
        return ir, "fallback-" + _slug(items[0])
    return ir, "vectorized"


def _slug(u) -> str:
    """The construct of an Unsupported as an id fragment (function names included)."""
    text = u.construct + (f" {u.detail}" if u.construct in ("function", "data variable") else "")
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _cases() -> list:
    out = []
    for p in conformance_files():
        kind = _ir(p)[1]
        if kind is None:
            continue
        out.append(pytest.param(p, kind, id=f"{p.parent.parent.name}/{p.parent.name}/"
                                              f"{p.name}[{kind}]"))
    return out


CASES = _cases()


def _translation(path: Path) -> Path | None:
    """PySD translation (shared by the test files); None if PySD cannot translate it."""
    return pysd_translation(path)[0]


def _outputs(ir) -> list[str]:
    return [v.py_name for v in ir.variables.values()
            if v.kind not in ("lookup", "control")]


def _pysd_run(py_path: Path, ir, params: dict | None = None, times=None) -> tuple:
    """A fresh PySD run: times and, per output, an array (n_times, *shape) in IR dims order."""
    import pysd
    import xarray as xr

    outs = _outputs(ir)
    pp = {}
    for k, v in (params or {}).items():
        var = ir.variables[k]
        pp[k] = (xr.DataArray(v, {d: list(ir.subscripts[d]) for d in var.dims}, list(var.dims))
                 if var.shape else float(v))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = pysd.load(str(py_path))
        kw = {} if times is None else {"return_timestamps": list(times)}
        frame = m.run(params=pp, return_columns=outs, flatten_output=False, progress=False, **kw)
    res = {}
    for o in outs:
        var = ir.variables[o]
        cells = frame[o].to_list()
        if var.shape:
            full = {d: list(ir.subscripts[d]) for d in var.dims}
            # PySD gives a variable defined on part of a dimension only those coordinates:
            # the others are NaN (not broadcast copies of the defined ones)
            res[o] = np.stack([np.broadcast_to(np.asarray(
                c.reindex({d: full[d] for d in c.dims}).transpose(*var.dims).values
                if hasattr(c, "transpose") else c, float), var.shape) for c in cells])
        else:
            res[o] = np.asarray([float(c) for c in cells])
    return np.asarray(frame.index, float), res


@functools.cache
def _reference(path: Path) -> tuple | None:
    """Plain PySD's default run; None if PySD cannot translate or run the model."""
    py = _translation(path)
    if py is None:
        return None
    ir, _k = _ir(path)
    try:
        return _pysd_run(py, ir)
    except Exception:
        return None


def _flat(ir, values: dict, member: int | None = None) -> dict[str, np.ndarray]:
    """Vensim-style columns ``Var[e1,e2]`` (normalised) -> series."""
    out = {}
    for o, arr in values.items():
        var = ir.variables[o]
        a = arr if member is None else arr[:, member]
        if not var.shape:
            out[_norm(var.name)] = a
            continue
        for idx in np.ndindex(*var.shape):
            elems = ",".join(ir.subscripts[d][i] for d, i in zip(var.dims, idx, strict=True))
            out[_norm(f"{var.name}[{elems}]")] = a[(slice(None), *idx)]
    return out


def _norm(name: str) -> str:
    return re.sub(r"[\s_\"]+", "", name).lower()


def _close(got: np.ndarray, want: np.ndarray, rtol: float) -> bool:
    got = np.asarray(got, float)
    want = np.asarray(want, float)
    if got.shape != want.shape:
        return False
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanmax(np.abs(want), axis=0) if want.size else 0.0
        scale = np.where(np.isfinite(scale), scale, 0.0)
        return bool(np.all(np.isclose(got, want, rtol=rtol, atol=0, equal_nan=True)
                           | (np.abs(got - want) <= rtol * scale)))


def _prepare(path: Path, kind: str):
    from pvsd.engine.numpy_backend import NeedsFallback, Simulator

    ir, _k = _ir(path)
    if kind != "vectorized":
        construct = kind.removeprefix("fallback-")
        with pytest.raises(NeedsFallback) as info:
            Simulator(ir)
        assert any(_slug(u) == construct for u in info.value.items)
        pytest.skip(f"falls back to PySD: {info.value.items[0]}")
    ref = _reference(path)
    if ref is None:
        pytest.skip("plain PySD 3.14 cannot run this model")
    return ir, _simulator(path), ref


@functools.cache
def _simulator(path: Path):
    from pvsd.engine.numpy_backend import Simulator

    return Simulator(_ir(path)[0])


@pytest.mark.skipif(not TEST_MODELS.exists(), reason=f"{TEST_MODELS} is absent: the SDXorg "
                    "test-models are read from ../shared next to the repository")
@pytest.mark.parametrize(("path", "kind"), CASES or [pytest.param(None, None, id="no-models")])
def test_default_equals_pysd(path: Path, kind: str) -> None:
    ir, sim, (times, ref) = _prepare(path, kind)
    outs = _outputs(ir)
    grid, vals = sim.run(outputs=outs, save_times=list(times))
    np.testing.assert_allclose(grid.save_times, times, rtol=0, atol=1e-9)
    for o in outs:
        var = ir.variables[o]
        assert vals[o].shape == (len(times), 1, *var.shape), o
        assert _close(vals[o][:, 0], ref[o], RTOL), f"{var.name}: engine != PySD"


@pytest.mark.skipif(not TEST_MODELS.exists(), reason="test-models absent")
@pytest.mark.parametrize(("path", "kind"), CASES or [pytest.param(None, None, id="no-models")])
def test_ensemble_members_equal_pysd(path: Path, kind: str) -> None:
    from pvsd.engine.numpy_backend import NeedsFallback

    ir, sim, (times, _ref) = _prepare(path, kind)
    py = _translation(path)
    seed = int(hashlib.sha256(str(path.relative_to(TEST_MODELS)).encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    env = sim.run(outputs=[c.py_name for c in ir.constants], n=1)[1]
    members = [{} for _ in range(N_MEMBERS)]
    for c in ir.constants:
        base = env[c.py_name][0, 0]
        if not np.all(np.isfinite(base)):
            continue
        for m in members:
            m[c.py_name] = base * rng.uniform(0.9, 1.1, np.shape(base))
    if not members[0]:
        pytest.skip("model has no finite constants to perturb")
    try:
        refs = [_pysd_run(py, ir, m, times) for m in members]
    except Exception as exc:  # PySD cannot run the perturbed values (e.g. an index constant)
        pytest.skip(f"plain PySD cannot run perturbed constants: {type(exc).__name__}")
    params = {k: np.stack([m[k] for m in members]) for k in members[0]}
    outs = _outputs(ir)
    try:
        _grid, vals = sim.run(params, outputs=outs, save_times=list(times))
    except NeedsFallback as nf:
        # only runtime, per-member constructs may refuse here, and they must say so
        assert "member" in str(nf), str(nf)
        pytest.skip(f"per-member construct: {nf}")
    perturbed_arrayed = [k for k in params if ir.variables[k].shape]
    assert perturbed_arrayed or not any(v.shape for v in ir.constants)
    for i, (_t, ref) in enumerate(refs):
        for o in outs:
            assert _close(vals[o][:, i], ref[o], RTOL), \
                f"member {i}, {ir.variables[o].name}: engine != PySD"


@pytest.mark.skipif(not TEST_MODELS.exists(), reason="test-models absent")
@pytest.mark.parametrize(("path", "kind"), CASES or [pytest.param(None, None, id="no-models")])
def test_canonical_output_where_pysd_matches(path: Path, kind: str) -> None:
    from pysd.tools.benchmarking import load_outputs

    ir, sim, (times, ref) = _prepare(path, kind)
    canon_file = next((path.parent / f for f in ("output.tab", "output.csv")
                       if (path.parent / f).exists()), None)
    if canon_file is None:
        pytest.skip("no canonical output in the model folder")
    canon = load_outputs(str(canon_file))
    canon.index = np.asarray(canon.index, float)
    ctimes = [t for t in canon.index if np.any(np.isclose(times, t, rtol=0, atol=1e-9))]
    rows_c = [int(np.argmin(np.abs(canon.index - t))) for t in ctimes]
    rows_r = [int(np.argmin(np.abs(times - t))) for t in ctimes]
    _grid, vals = sim.run(outputs=_outputs(ir), save_times=list(times))
    mine = _flat(ir, vals, member=0)
    theirs = _flat(ir, ref)
    checked = 0
    for col in canon.columns:
        key = _norm(col)
        if key not in mine or key not in theirs:
            continue
        want = canon[col].to_numpy()[rows_c]
        try:
            want = want.astype(float)
        except (TypeError, ValueError):
            continue
        keep = np.isfinite(want)  # constants are often given at the first time only
        if not keep.any() or not _close(theirs[key][rows_r][keep], want[keep], CANON_RTOL):
            continue  # PySD itself differs from the canonical output here
        checked += 1
        assert _close(mine[key][rows_r][keep], want[keep], CANON_RTOL), \
            f"{col}: engine != canonical output"
    assert checked, "no canonical column matched by PySD to compare with"


# -- the safety net and engine_for on arrayed outputs ----------------------------------

def _loaded(name: str):
    from conftest import require

    import pvsd

    path = require(TEST_MODELS / "tests" / name)
    mdl = next(path.glob("*.mdl"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pvsd.load(mdl)


def test_safety_net_compares_every_element() -> None:
    """An arrayed model passes the check; one wrong element in one output fails it."""
    from pvsd import engine

    model = _loaded("subscript_2d_arrays")
    engine.forget(model)
    eng = engine.engine_for(model)
    assert eng.vectorized and eng.ir.subscripts
    outs = [n for n, py in model._py.items() if eng.ir.variables[py].shape]
    t0, t1, dt = model.initial_time, model.final_time, model.time_step
    times = model.check_times()[3]
    init = np.arange(1.0, 7.0).reshape(3, 2)  # an arrayed constant, in dims order
    assert engine.safety_check(model, [{"Initial Values": init}], t0, t1, dt, times, outs)
    _st, vals = engine.simulate(model, {"Initial Values": np.stack([init, 2 * init])},
                                t0, t1, dt, times, outs)
    assert vals["Stock A"].shape == (len(times), 2, 3, 2)
    _t, ref = engine.pysd_reference(model, {"Initial Values": 2 * init}, t0, t1, dt, times,
                                    ["Stock A"])
    np.testing.assert_allclose(vals["Stock A"][:, 1], ref["Stock A"], rtol=1e-12)

    # now corrupt a single element of one output slightly: the net must catch it
    engine.forget(model)
    eng = engine.engine_for(model)
    real_run = eng.simulator.run

    def corrupted(*args, **kwargs):
        grid, values = real_run(*args, **kwargs)
        values["stock_a"] = values["stock_a"].copy()
        values["stock_a"][-1, :, 2, 1] *= 1 + 1e-7
        return grid, values

    eng.simulator.run = corrupted
    with pytest.warns(RuntimeWarning, match="disagrees with plain PySD"):
        assert not engine.safety_check(model, [{}], t0, t1, dt, times, outs)
    assert not eng.vectorized
    assert "Stock A" in eng.reason
    engine.forget(model)


def test_arrayed_parameter_shapes_are_checked() -> None:
    from pvsd.engine.numpy_arrays import prepare_param

    a, n = prepare_param(np.ones((3, 2)), (3, 2), "x")
    assert a.shape == (3, 2, 1) and n is None
    a, n = prepare_param(np.ones((4, 3, 2)), (3, 2), "x")
    assert a.shape == (3, 2, 4) and n == 4
    a, n = prepare_param(2.0, (3, 2), "x")
    assert a.shape == (3, 2, 1) and float(a[1, 1, 0]) == 2.0
    with pytest.raises(ValueError, match="does not fit"):
        prepare_param(np.ones((2, 3)), (3, 2), "x")


@pytest.mark.skipif(not TEST_MODELS.exists(), reason="test-models absent")
@pytest.mark.parametrize(("path", "kind"), CASES or [pytest.param(None, None, id="no-models")])
def test_scalarised_ir_equals_arrayed_engine(path: Path, kind: str) -> None:
    """The per-element scalar IR (JavaScript, loops) computes what the arrayed engine does."""
    from pvsd.engine.numpy_backend import NeedsFallback, Simulator
    from pvsd.engine.scalarise import element_py, scalarise

    if kind != "vectorized":
        pytest.skip(f"falls back to PySD ({kind})")
    ir = _ir(path)[0]
    outs = _outputs(ir)
    _g, arrayed = _simulator(path).run(outputs=outs)
    sir = scalarise(ir)
    try:
        ssim = Simulator(sir)
    except NeedsFallback as nf:
        pytest.skip(f"not expressible per element: {nf.items[0]}")
    names = {o: [element_py(o, k) for k in range(int(np.prod(ir.variables[o].shape)))]
             if ir.variables[o].shape else [o] for o in outs}
    _g, flat = ssim.run(outputs=[n for ns in names.values() for n in ns])
    for o in outs:
        got = np.stack([flat[n][:, 0] for n in names[o]], axis=1)
        want = arrayed[o][:, 0].reshape(len(got), -1)
        assert _close(got, want, RTOL), ir.variables[o].name
    some = next((v for v in sir.variables.values() if "[" in v.name), None)
    assert some is None or some.name.endswith("]")
