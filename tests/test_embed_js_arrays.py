"""The JavaScript live simulator on subscripted models equals the numpy engine (Node.js).

Every subscripted SDXorg model the vectorised engine runs (the cases of
``test_engine_arrays``) is compiled to JavaScript (element by element, from
``pvsd.engine.scalarise``) and run under Node.js with default parameters and
with every constant perturbed element by element (given as nested lists, the
way a page hands arrayed levers over); every element of every output equals
the numpy engine at rtol 1e-9. Models outside the JavaScript subset are
skipped with the construct as reason.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from test_engine_arrays import CASES, RTOL, TEST_MODELS, _close, _ir, _outputs, _simulator

from pvsd.embed.js_backend import node_available

pytestmark = pytest.mark.skipif(node_available() is None,
                                reason="Node.js is not installed (Debian package 'nodejs')")


@pytest.mark.skipif(not TEST_MODELS.exists(), reason="test-models absent")
@pytest.mark.parametrize(("path", "kind"), CASES or [pytest.param(None, None, id="no-models")])
def test_js_equals_numpy_engine_on_arrays(path: Path, kind: str) -> None:
    from pvsd.embed.js_backend import compile_js, run_in_node
    from pvsd.errors import UnsupportedModelError

    if kind != "vectorized":
        pytest.skip(f"the engine falls back to PySD ({kind})")
    ir = _ir(path)[0]
    try:
        js = compile_js(ir)
    except UnsupportedModelError as exc:
        pytest.skip(f"outside the JavaScript subset: {str(exc)[:160]}")
    sim = _simulator(path)
    outs = _outputs(ir)
    seed = int(hashlib.sha256(str(path.relative_to(TEST_MODELS)).encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    env = sim.run(outputs=[c.py_name for c in ir.constants], n=1)[1]
    params = {}
    for c in ir.constants:
        base = np.asarray(env[c.py_name][0, 0], float)
        if np.all(np.isfinite(base)):
            params[c.py_name] = base * rng.uniform(0.9, 1.1, base.shape)
    jobs = [{"params": {}, "opts": {"outputs": outs}},
            {"params": {k: v.tolist() for k, v in params.items()}, "opts": {"outputs": outs}}]
    res = run_in_node(js, jobs)
    for job, p in zip(res, ({}, params), strict=True):
        grid, want = sim.run(p, outputs=outs)
        np.testing.assert_allclose(job["time"], grid.save_times, rtol=0, atol=1e-9)
        for o in outs:
            w = want[o][:, 0]
            got = np.asarray(job["values"][o], float).reshape(w.shape)
            assert _close(got, w, RTOL), f"{ir.variables[o].name}: JavaScript != numpy engine"
    assert js.meta.get("arrays"), "arrayed outputs are described in meta"
