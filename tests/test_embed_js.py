"""The JavaScript compiled from the IR reproduces pvsd's own runs (under Node.js).

Parametrised over the reference model and every model file in
``../shared/test-models/{tests,samples}/*``. The test id says whether a model is
inside the subset the JavaScript back end supports (``[js]``) or outside it
(``[outside-<construct>]``, skipped with the construct and variable as reason).
Each model is compared at every saved time with its default parameters and with
its constants perturbed (seeded, +-10%, within declared bounds) to rtol 1e-9.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import conformance_files

from pvsd.embed.js_backend import node_available

ROOT = Path(__file__).resolve().parents[1]
TEST_MODELS = ROOT.parent / "shared" / "test-models"
REFERENCE = ROOT / "models" / "public_value_chain.mdl"
MAX_STEPS = 400  # long models are cut to this many Euler steps
RTOL = 1e-9

pytestmark = pytest.mark.skipif(node_available() is None,
                                reason="Node.js is not installed (Debian package 'nodejs')")


def _model_files() -> list[Path]:
    return ([REFERENCE] if REFERENCE.exists() else []) + conformance_files()


def _classify(path: Path) -> str:
    """'js' when inside the supported subset, else 'outside-<construct>' / 'unparsable'."""
    from pvsd.embed.js_backend import check_supported
    from pvsd.engine.ir import build_ir
    from pvsd.errors import UnsupportedModelError
    from pvsd.loading import parse_model_file

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            am = parse_model_file(path)
            ir = build_ir(am, path)
    except Exception:
        return "unparsable"
    if ir.subscripts:
        return "subscripted"
    try:
        check_supported(ir)
    except UnsupportedModelError as err:
        construct = str(err).split(" uses ", 1)[-1].split(" in ", 1)[0]
        return "outside-" + construct.replace(" ", "_")[:40]
    return "js"


def _case_id(p: Path) -> str:
    if p == REFERENCE:
        return "reference/public_value_chain.mdl"
    return f"{p.parent.parent.name}/{p.parent.name}/{p.name}"


FILES = _model_files()
CASES = [pytest.param(p, kind, id=f"{_case_id(p)}[{kind}]") for p in FILES for kind in [_classify(p)]]


def _compare(js: dict, frame, py: dict[str, str], label: str) -> float:
    t = np.asarray(js["time"], float)
    assert len(t) == len(frame.index), f"{label}: {len(t)} saved times in JS, {len(frame.index)} in Python"
    assert np.allclose(t, frame.index.to_numpy(float), rtol=0, atol=1e-9 * max(1.0, abs(t[-1])))
    worst = 0.0
    for col in frame.columns:
        a = np.asarray(js["values"][py[col]], float)
        b = frame[col].to_numpy(float)
        scale = np.nanmax(np.abs(b)) if np.isfinite(b).any() else 1.0
        ok = np.isclose(a, b, rtol=RTOL, atol=1e-12 * scale, equal_nan=True)
        assert ok.all(), (f"{label}: {col!r} differs at t={t[~ok][0]:g}: JS {a[~ok][0]!r}, "
                          f"Python {b[~ok][0]!r}")
        with np.errstate(all="ignore"):
            rel = np.abs(a - b) / np.abs(b)
        rel = rel[np.isfinite(rel)]
        worst = max(worst, float(rel.max()) if rel.size else 0.0)
    return worst


@pytest.mark.skipif(not FILES, reason=f"neither {REFERENCE} nor {TEST_MODELS} exists: the SDXorg "
                    "test-models are read from ../shared next to the repository")
@pytest.mark.parametrize(("path", "kind"), CASES or [pytest.param(None, None, id="no-models")])
def test_js_equals_python(path: Path, kind: str) -> None:
    import pvsd
    from pvsd.embed.js_backend import check_supported, compile_js, ir_of, run_in_node
    from pvsd.errors import PvsdError, UnsupportedModelError

    if kind == "unparsable":
        pytest.skip("PySD cannot parse this file")
    if kind == "subscripted":
        pytest.skip("subscripted model: compared element by element in test_embed_js_arrays.py")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = pvsd.load(path)
        except PvsdError as exc:
            pytest.skip(f"pvsd cannot load this model: {exc}"[:200])
    ir = ir_of(model)
    if kind != "js":
        with pytest.raises(UnsupportedModelError, match="Cannot compile"):
            check_supported(ir)
        pytest.skip(f"outside the JavaScript subset: {kind.removeprefix('outside-')}")
    js = compile_js(ir)
    t1 = min(model.final_time, model.initial_time + MAX_STEPS * model.time_step)
    table = model.variables
    consts = table[(table["kind"] == "constant") & np.isfinite(table["default"])]
    seed = int(hashlib.sha256(_case_id(path).encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    perturbed = {}
    for row in consts.itertuples():
        v = row.default * rng.uniform(0.9, 1.1)
        lo = row.min if np.isfinite(row.min) else -np.inf
        hi = row.max if np.isfinite(row.max) else np.inf
        perturbed[row.name] = float(np.clip(v, lo, hi))
    outputs = model.default_outputs() or model.stocks
    if not outputs:
        pytest.skip("model has no outputs to compare")
    py = model._py
    runs = []
    for label, params in (("default", {}), ("perturbed", perturbed)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = model.run(params=params, final_time=t1, outputs=outputs)
            except PvsdError as exc:
                if label == "default":
                    pytest.skip(f"pvsd cannot run this model: {exc}"[:200])
                continue  # e.g. a delay order reduced to 0 by the perturbation
        runs.append((label, params, res.data))
    jobs = [{"params": {py[k]: v for k, v in params.items()},
             "opts": {"outputs": [py[o] for o in outputs], "save_times": list(frame.index),
                      "final_time": t1}} for _, params, frame in runs]
    results = run_in_node(js, jobs)
    for (label, _, frame), r in zip(runs, results, strict=True):
        _compare(r, frame, py, f"{_case_id(path)} ({label})")
