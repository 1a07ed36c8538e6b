"""Every ensemble member equals a separate plain-PySD run (SDXorg test-models).

Parametrised over every model file in ``../shared/test-models/tests/*`` and
``samples/*``. Subscripted models are skipped (outside the scope of the
vectorised engine and of this check), as are models plain PySD itself cannot
run. The test id says whether a model runs vectorised or takes the per-run
PySD fallback, and why. Constants are varied randomly (seeded) around their
model values; outputs are compared at rtol 1e-12.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import abstract_model, conformance_files, model_ir, pysd_translation

ROOT = Path(__file__).resolve().parents[1]
TEST_MODELS = ROOT.parent / "shared" / "test-models"
N_MEMBERS = 3
MAX_STEPS = 300  # long models are cut to this many Euler steps


def _model_files() -> list[Path]:
    return conformance_files()


def _classify(path: Path) -> str:
    """'vectorized', 'fallback-<construct>', 'subscripted' or 'unparsable' (static inspection)."""
    am = abstract_model(path)
    if am is None:
        return "unparsable"
    if any(s.subscripts for s in am.sections):
        return "subscripted"
    items = model_ir(path)[1]
    if not items:
        return "vectorized"
    return "fallback-" + items[0].construct.replace(" ", "_")


FILES = _model_files()
CASES = [
    pytest.param(p, kind, id=f"{p.parent.parent.name}/{p.parent.name}/{p.name}[{kind}]")
    for p in FILES
    for kind in [_classify(p)]
]


def _pysd_runs(py_path: Path, members: list[dict[str, float]], final_time: float,
               times: np.ndarray, columns: list[str]) -> list[pd.DataFrame]:
    import pysd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = []
        for p in members:
            m = pysd.load(str(py_path))  # a separate, fresh PySD model per member
            out.append(m.run(params=p, final_time=final_time, return_timestamps=list(times),
                             return_columns=columns))
        return out


@pytest.mark.skipif(not TEST_MODELS.exists(), reason=f"{TEST_MODELS} is absent: the SDXorg "
                    "test-models are read from ../shared next to the repository")
@pytest.mark.parametrize(("path", "kind"), CASES or [pytest.param(None, None, id="no-models")])
def test_members_equal_plain_pysd(path: Path, kind: str) -> None:
    import pysd

    import pvsd

    if kind == "subscripted":
        pytest.skip("subscripted model: outside the unsubscripted conformance set")
    if kind == "unparsable":
        pytest.skip("PySD cannot parse this file")
    # plain PySD's own translation, in a private copy of the model's folder
    py_path, why = pysd_translation(path)
    if py_path is None:
        pytest.skip(f"plain PySD cannot run this model: {why}"[:200])

    def cannot_run_plain() -> None:
        """Skip if plain PySD cannot run the model at its own values (the reference runs failed)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pysd.load(str(py_path)).run(progress=False)
        except Exception as exc:
            pytest.skip(f"plain PySD cannot run this model: {type(exc).__name__}: {exc}"[:200])

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pvsd.load(path)
    except Exception:
        cannot_run_plain()
        raise
    table = model.variables
    consts = table[(table["kind"] == "constant") & np.isfinite(table["default"])]
    seed = int(hashlib.sha256(str(path.relative_to(TEST_MODELS)).encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    samples = {}
    for row in consts.itertuples():
        v = row.default * rng.uniform(0.9, 1.1, N_MEMBERS)
        lo = row.min if np.isfinite(row.min) else -np.inf
        hi = row.max if np.isfinite(row.max) else np.inf
        samples[row.name] = np.clip(v, lo, hi)
    frame = pd.DataFrame(samples, index=range(N_MEMBERS))

    from pvsd.engine.controls import dynamic_controls

    if dynamic_controls(model):
        # FINAL TIME / TIME STEP / SAVEPER change during the run: single runs follow PySD's
        # own loop (ensembles refuse them); compare with plain PySD left to its own controls
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = pysd.load(str(py_path)).run(progress=False)
        except Exception as exc:
            pytest.skip(f"plain PySD cannot run this model: {type(exc).__name__}: {exc}"[:200])
        outs = [o for o in (model.default_outputs() or model.stocks)]
        got = model.run(outputs=outs).to_dataframe()
        np.testing.assert_allclose(got.index.to_numpy(), np.asarray(ref.index, float), rtol=1e-12)
        for o in outs:
            np.testing.assert_allclose(got[o].to_numpy(), ref[o].to_numpy(float), rtol=1e-12)
        return
    t0, dt = model.initial_time, model.time_step
    t1 = min(model.final_time, t0 + MAX_STEPS * dt)
    outputs = model.default_outputs() or model.stocks or list(consts["name"])
    if not outputs:
        pytest.skip("model has no outputs to compare")
    times = model.check_times(final_time=t1)[3]
    py = dict(zip(table["name"], table["py_name"], strict=True))

    def members() -> list[dict[str, float]]:
        return [{py[c]: float(frame[c].iloc[i]) for c in frame.columns} for i in range(N_MEMBERS)]

    try:
        refs = _pysd_runs(py_path, members(), t1, times, [py[o] for o in outputs])
    except Exception:
        # plain PySD cannot run the varied values (e.g. a delay order reduced to 0):
        # compare at the model's own values instead
        frame = pd.DataFrame({c: np.full(N_MEMBERS, consts.set_index("name").loc[c, "default"])
                              for c in frame.columns}, index=range(N_MEMBERS))
        try:
            refs = _pysd_runs(py_path, members(), t1, times, [py[o] for o in outputs])
        except Exception:
            cannot_run_plain()  # skips if plain PySD fails on its own default run too
            raise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = model.run_ensemble(frame, outputs=outputs, final_time=t1, check=False,
                                workers=2)
    engine = ds.attrs["engine"]
    if kind == "vectorized":
        # models that pass static inspection may still need per-member constructs
        assert engine == "vectorized" or "differing" in ds.attrs["fallback_reason"] \
            or "differently" in ds.attrs["fallback_reason"], ds.attrs["fallback_reason"]
    else:
        assert engine == "pysd"

    if "random" in kind:
        pytest.skip("random functions: each member draws its own seeded stream, plain PySD the "
                    "unseeded global one, so the draws differ by design (reproducibility is "
                    "tested in test_random_seeds.py)")
    np.testing.assert_array_equal(ds["time"].to_numpy(), np.asarray(refs[0].index, dtype=float))
    for i, ref in enumerate(refs):
        for o in outputs:
            got = ds[o].isel(run=i).to_numpy()
            want = ref[py[o]].to_numpy(dtype=float)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, equal_nan=True,
                                       err_msg=f"member {i}, {o!r} ({engine})")
