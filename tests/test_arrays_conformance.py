"""Every subscripted SDXorg model that plain PySD runs also runs in pvsd, with the same numbers.

Discovered, not listed: every ``.mdl``/``.xmile`` file of ``../shared/test-models`` whose
abstract model declares subscripts. For each one plain PySD 3.14 can run:

- ``Model.run`` (every stock, flow and auxiliary, one column per element) equals a plain
  PySD run at rtol 1e-9, and the canonical output (``output.tab``/``.csv``) at rtol 1e-5
  for every column where plain PySD itself meets it;
- ``run_ensemble`` with members whose arrayed constants are perturbed element by element
  (seeded) equals a separate plain-PySD run per member at rtol 1e-9.

The test id names the path the model takes: ``engine`` (pvsd's vectorised engine with
dimensions) or ``pysd`` (the per-run PySD fallback); the test checks that the run took it.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_MODELS, abstract_model, conformance_files, model_ir

N_MEMBERS = 2
MAX_STEPS = 100  # ensembles of long models are cut to this many steps


def _classify(path: Path) -> str | None:
    """None (not subscripted / unparsable), 'engine' or 'pysd' (static inspection)."""
    am = abstract_model(path)
    if am is None or not any(s.subscripts for s in am.sections):
        return None
    try:
        ir, items = model_ir(path)
        if getattr(ir, "subscripts", None) and not items:
            return "engine"
    except Exception:  # the engine cannot take it: PySD fallback
        pass
    return "pysd"


CASES = [
    pytest.param(p, kind, id=f"{p.parent.name}/{p.name}[{kind}]")
    for p in conformance_files()
    for kind in [_classify(p)]
    if kind is not None
]


def _plain(model) -> object:
    """Plain PySD on the model's PySD translation (a fresh object per call)."""
    import pysd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pysd.load(str(model.source.py_path))


def _key(col: str) -> str:
    from pvsd.naming import normalize

    return normalize(col.strip().strip('"'))


def _canonical(folder: Path) -> pd.DataFrame | None:
    for name, sep in (("output.tab", "\t"), ("output.csv", ",")):
        f = folder / name
        if f.exists():
            try:
                df = pd.read_csv(f, sep=sep, index_col=0)
            except Exception:
                return None
            df.columns = [_key(c) for c in df.columns]
            return df.apply(pd.to_numeric, errors="coerce")
    return None


def _perturbed(model, seed: int) -> pd.DataFrame:
    """Element columns of every arrayed constant (and scalar constants), +-10 %, seeded."""
    rng = np.random.default_rng(seed)
    cols: dict[str, np.ndarray] = {}
    table = model.variables.set_index("name")
    for name in model.constants:
        row = table.loc[name]
        for lab in model.elements(name):
            d = model.default(lab)
            if not np.isfinite(d):
                continue
            v = d * rng.uniform(0.9, 1.1, N_MEMBERS)
            lo = row["min"] if np.isfinite(row["min"]) else -np.inf
            hi = row["max"] if np.isfinite(row["max"]) else np.inf
            cols[lab] = np.clip(v, lo, hi)
    return pd.DataFrame(cols, index=range(N_MEMBERS))


def _pysd_member(model, row: pd.Series, t1: float, times: np.ndarray, py_out: list[str]
                 ) -> pd.DataFrame:
    """One plain-PySD run with a member's element values as xarray parameters."""
    from pvsd.arrays import split_label

    values: dict[str, object] = {}
    for lab, v in row.items():
        base, elems = split_label(str(lab))
        d = model._dims.get(base)
        if d is None:
            values[model._py[base]] = float(v)
            continue
        if model._py[base] not in values:
            values[model._py[base]] = model.defaults(base).copy()
        values[model._py[base]].loc[dict(zip(d.dims, elems, strict=True))] = float(v)
    plain = _plain(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return plain.run(params=values, final_time=t1, return_timestamps=list(times),
                         return_columns=py_out)


@pytest.fixture(scope="module")
def loaded():
    return {}


@pytest.mark.skipif(not TEST_MODELS.exists(), reason=f"{TEST_MODELS} is absent: the SDXorg "
                    "test-models are read from ../shared next to the repository")
@pytest.mark.parametrize(("path", "kind"), CASES or [pytest.param(None, None, id="no-models")])
def test_subscripted_model_equals_plain_pysd(path: Path, kind: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import pvsd

    if path is None:
        pytest.skip("no subscripted models found")
    # Model.run's first-use safety net would rerun the plain-PySD default run this test makes
    # and compares every element with itself (same rtol); the net is tested in test_engine_arrays
    monkeypatch.setenv("PVSD_ENGINE_CHECK", "0")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = pvsd.load(path)
            plain = _plain(model)
            ref_all = plain.run()
    except Exception as exc:
        pytest.skip(f"plain PySD cannot run this model: {type(exc).__name__}: {exc}"[:200])

    # ---- Model.run against plain PySD and the canonical output
    outputs = model.default_outputs()
    if not outputs:
        pytest.skip("model has no outputs to compare")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.run(outputs=outputs).to_dataframe()
    ref = ref_all.copy()
    ref.columns = [_key(c) for c in ref.columns]
    np.testing.assert_allclose(res.index.to_numpy(), np.asarray(ref.index, float), atol=1e-9)
    compared = 0
    for col in res.columns:
        want = ref[_key(col)].to_numpy(dtype=float)
        np.testing.assert_allclose(res[col].to_numpy(), want, rtol=1e-9, atol=1e-12,
                                   equal_nan=True, err_msg=f"Model.run vs PySD: {col}")
        compared += 1
    assert compared == sum(len(model.elements(o)) for o in outputs)

    canon = _canonical(path.parent)
    if canon is not None:
        ctimes = canon.index.to_numpy(dtype=float)
        mine = res.copy()
        mine.columns = [_key(c) for c in mine.columns]
        at = np.searchsorted(mine.index.to_numpy(), ctimes)
        ok = (at < len(mine)) & np.isclose(mine.index.to_numpy()[np.minimum(at, len(mine) - 1)],
                                            ctimes)
        for col in set(canon.columns) & set(mine.columns):
            want = canon[col].to_numpy()[ok]
            pysd_v = ref[col].to_numpy(dtype=float)[at[ok]]
            if not np.allclose(pysd_v, want, rtol=1e-5, atol=1e-10, equal_nan=True):
                continue  # PySD itself does not meet the canonical output here
            np.testing.assert_allclose(mine[col].to_numpy()[at[ok]], want, rtol=1e-5,
                                       atol=1e-10, equal_nan=True, err_msg=f"canonical {col}")

    # ---- run_ensemble, members with perturbed arrayed constants
    seed = int(hashlib.sha256(str(path.relative_to(TEST_MODELS)).encode()).hexdigest()[:8], 16)
    frame = _perturbed(model, seed)
    t0, dt = model.initial_time, model.time_step
    t1 = min(model.final_time, t0 + MAX_STEPS * dt)
    times = model.check_times(final_time=t1)[3]
    py_out = list(outputs)  # real names: PySD then labels columns "Var[e1,e2]"
    try:
        refs = [_pysd_member(model, frame.iloc[i], t1, times, py_out) for i in range(N_MEMBERS)]
    except Exception:
        # plain PySD cannot run the varied values: members at the model's own values
        frame = pd.DataFrame({c: np.full(N_MEMBERS, model.default(c)) for c in frame.columns},
                             index=range(N_MEMBERS))
        refs = [_pysd_member(model, frame.iloc[i], t1, times, py_out) for i in range(N_MEMBERS)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = model.run_ensemble(frame if len(frame.columns) else pd.DataFrame(index=range(
            N_MEMBERS)), outputs=outputs, final_time=t1, check=False, workers=1)
    expect = "vectorized" if kind == "engine" else "pysd"
    # per-member constructs (a perturbed constant that sets FINAL TIME ...) fall back by design
    reason = ds.attrs.get("fallback_reason", "")
    per_member = "per-member" in reason or "between members" in reason
    assert ds.attrs["engine"] == expect or per_member, reason
    for i, r in enumerate(refs):
        r = r.copy()
        r.columns = [_key(c) for c in r.columns]
        for o in outputs:
            got = ds[o].isel(run=i)
            d = model._dims.get(o)
            if d is None:
                np.testing.assert_allclose(got.to_numpy(), r[_key(o)].to_numpy(dtype=float),
                                           rtol=1e-9, atol=1e-12, equal_nan=True,
                                           err_msg=f"member {i}, {o}")
                continue
            assert got.dims == ("time", *d.dims)
            for lab, e in zip(model.elements(o), d.defined_elements(), strict=True):
                np.testing.assert_allclose(
                    got.sel(dict(zip(d.dims, e, strict=True))).to_numpy(),
                    r[_key(lab)].to_numpy(dtype=float), rtol=1e-9, atol=1e-12, equal_nan=True,
                    err_msg=f"member {i}, {lab}")
