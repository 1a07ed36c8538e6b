"""Everything on the fast path (issue 12 item 8).

Vensim macros (inlined in the IR), DELAY N with a time-varying delay time, DELAY
FIXED and control variables that change during the run: vectorised in the numpy
engine and in the JavaScript simulator, equal to plain PySD (rtol 1e-9), accepted
by ``loops`` and ``embed``; runs that still fall back to PySD are checked against
the declared ranges at their saved times, and say so.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_MODELS, require

import pvsd
from pvsd.embed.js_backend import node_available

MODELS = Path(__file__).resolve().parent / "models"
MACRO = MODELS / "macro_stocks.mdl"
MACRO_FLAT = MODELS / "macro_stocks_flat.mdl"
DELAYN = MODELS / "delayn_varying.mdl"
RTOL = 1e-9

needs_node = pytest.mark.skipif(node_available() is None,
                                reason="Node.js is not installed (Debian package 'nodejs')")


def _plain(path: Path, tmp_path: Path):
    """A fresh plain-PySD model of ``path`` (translated in a private copy)."""
    import pysd

    work = tmp_path / f"plain-{path.stem}"
    work.mkdir(exist_ok=True)
    shutil.copyfile(path, work / path.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pysd.read_vensim(str(work / path.name))
    return work / (path.stem + ".py")


def _pysd_run(py: Path, **kw) -> pd.DataFrame:
    import pysd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pysd.load(str(py)).run(progress=False, **kw)


def _close(a, b, label: str) -> None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape, label
    scale = max(float(np.nanmax(np.abs(b))), 1e-300)
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-12 * scale, err_msg=label)


def _load(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pvsd.load(path)


# -- macros -----------------------------------------------------------------------------


def test_macro_call_sites_get_their_own_stocks() -> None:
    from pvsd.engine import engine_for

    model = _load(MACRO)
    eng = engine_for(model)
    assert eng.vectorized, eng.reason
    ir = eng.ir
    inner = [v for v in ir.variables.values() if v.origin]
    stocks = [v for v in inner if v.kind == "stock"]
    # FIRST ORDER is called 4 times directly and once inside SMOOTHED GROWTH, which has a stock too
    assert len(stocks) == 6
    assert len({v.py_name for v in inner}) == len(inner)
    assert all(v.py_name.startswith("macro__call") for v in inner)
    names = {v.name for v in stocks}
    assert "FIRST ORDER (FIRST ORDER in Perceived Trend)" in names
    assert "FIRST ORDER (FIRST ORDER in Perceived Trend #2)" in names  # second call, same variable
    assert "level (SMOOTHED GROWTH in Nested)" in names
    # model-file variables keep PySD's names (parameters, outputs); macro internals are extra
    assert set(model._py.values()) <= set(ir.variables)
    assert not set(model._py.values()) & {v.py_name for v in inner}


def test_macro_model_equals_plain_pysd(tmp_path: Path) -> None:
    model = _load(MACRO)
    outs = ["Perceived Demand", "Perceived Trend", "Perceived Capacity", "Capacity", "Nested",
            "Capacity Change"]
    params = {"Smoothing Time": 2.5, "Growth Rate": 4.0}
    got = model.run(params=params, outputs=outs).data
    ref = _pysd_run(_plain(MACRO, tmp_path), params=params, return_columns=outs)
    from pvsd.engine import engine_for

    assert engine_for(model).vectorized, "the safety net disabled the engine"
    for o in outs:
        _close(got[o], ref[o], o)


def test_macro_ensemble_members_equal_separate_pysd_runs(tmp_path: Path) -> None:
    model = _load(MACRO)
    rng = np.random.default_rng(12)
    samples = pd.DataFrame({"Smoothing Time": rng.uniform(1, 8, 4),
                            "Adjustment Time": rng.uniform(2, 10, 4)})
    outs = ["Capacity", "Nested", "Perceived Trend"]
    ds = model.run_ensemble(samples, outputs=outs)
    assert ds.attrs["engine"] == "vectorized"
    py = _plain(MACRO, tmp_path)
    for i in range(len(samples)):
        ref = _pysd_run(py, params=dict(samples.iloc[i]), return_columns=outs,
                        return_timestamps=list(ds["time"].values))
        for o in outs:
            _close(ds[o].isel(run=i).values, ref[o], f"member {i}: {o}")


@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_macro_equals_the_same_model_written_without_macros(method: str) -> None:
    # an independent reference for RK4 (PySD has Euler only): the macros inlined by hand
    a, b = _load(MACRO), _load(MACRO_FLAT)
    outs = ["Perceived Demand", "Perceived Trend", "Perceived Capacity", "Capacity", "Nested"]
    ra = a.run(outputs=outs, method=method).data
    rb = b.run(outputs=outs, method=method).data
    for o in outs:
        _close(ra[o], rb[o], f"{method}: {o}")
    if method == "rk4":  # RK4 differs from Euler: the method was really applied
        assert not np.allclose(ra["Capacity"], a.run(outputs=["Capacity"]).data["Capacity"],
                               rtol=1e-6)


def test_loops_run_through_macro_variables_named_readably() -> None:
    res = pvsd.loops(_load(MACRO))
    via = [v for v in res.loops["variables"] if "Capacity Change" in v]
    assert len(via) == 1
    assert "input (FIRST ORDER in Perceived Capacity)" in via[0]
    assert "FIRST ORDER (FIRST ORDER in Perceived Capacity)" in via[0]
    assert not any("macro__call" in n for v in res.loops["variables"] for n in v)
    # the same loop in the hand-inlined model has the same scores (pass-through links score 1)
    flat = pvsd.loops(_load(MACRO_FLAT))
    fvia = [i for i, v in zip(flat.loops["id"], flat.loops["variables"], strict=True)
            if "Capacity Change" in v]
    lid = res.loops.loc[res.loops["variables"] == via[0], "id"].item()
    np.testing.assert_allclose(res.loop_scores[lid].to_numpy()[1:],
                               flat.loop_scores[fvia[0]].to_numpy()[1:], rtol=1e-9)


def test_card_and_diagram_show_macro_calls_as_written() -> None:
    from pvsd.embed.card import model_card
    from pvsd.embed.diagram import _causal_graph

    model = _load(MACRO)
    md = model_card(model, loops=False).markdown()
    assert "`FIRST ORDER(Demand, Smoothing Time, Demand)`" in md
    assert "SMOOTHED GROWTH(Capacity / 10, Growth Rate / 100)" in md
    graph, _ = _causal_graph(model)
    assert "Perceived Demand" in graph["Demand"]  # the link the macro call makes
    assert "Perceived Capacity" in graph["Capacity"]
    assert not any("FIRST ORDER" in n for n in graph)


# -- DELAY N with a time-varying delay time ----------------------------------------------

DELAYN_CASES = [
    (["Backlog"], {}),
    (["In Transit"], {}),
    (["Shipments", "Arrivals", "In Transit", "Received"], {}),
    (["Arrivals", "Received"], {"saveper": 0.25}),
    (["Received", "Fixed Delivery"], {"return_times": [3.0, 7.5, 30.0]}),
]


@pytest.mark.parametrize(("outs", "kw"), DELAYN_CASES, ids=[" ".join(c[0]) + str(c[1])
                                                             for c in DELAYN_CASES])
def test_delayn_time_varying_equals_plain_pysd(outs, kw, tmp_path: Path) -> None:
    from pvsd.engine import engine_for

    model = _load(DELAYN)
    assert engine_for(model).vectorized, engine_for(model).reason
    got = model.run(outputs=outs, **kw).data
    pkw = {"return_timestamps": kw["return_times"]} if "return_times" in kw else dict(kw)
    ref = _pysd_run(_plain(DELAYN, tmp_path), return_columns=outs, **pkw)
    assert engine_for(model).vectorized, "the safety net disabled the engine"
    for o in outs:
        _close(got[o], ref[o], o)


def test_delayn_output_dependence_is_said_once(tmp_path: Path) -> None:
    from pvsd.engine import forget
    from pvsd.engine.delayn import DelayNWarning

    model = _load(DELAYN)
    forget(model)
    with pytest.warns(DelayNWarning, match="'Arrivals'") as rec:
        a = model.run(outputs=["In Transit"]).data["In Transit"]
        b = model.run(outputs=["In Transit", "Arrivals"]).data["In Transit"]
    assert len([w for w in rec if issubclass(w.category, DelayNWarning)]) == 1
    assert "'Shipments'" not in str(rec[0].message)  # read before its conveyor moves: no effect
    # as in PySD, saving Arrivals changes In Transit (slightly, O(TIME STEP))
    py = _plain(DELAYN, tmp_path)
    _close(b, _pysd_run(py, return_columns=["In Transit", "Arrivals"])["In Transit"], "with")
    assert 0 < np.max(np.abs(a.to_numpy() - b.to_numpy())) < 0.1 * np.max(np.abs(b.to_numpy()))


DELAYN_LOOP = """{UTF-8}
Stock= INTEG (
	Inflow - Outflow,
		10)
	~	Widget
	~		|

Inflow=
	5 + STEP(3, 4)
	~	Widget/Month
	~		|

Outflow=
	DELAY N(Stock / 2, 2 + Stock / 20, 5, 3)
	~	Widget/Month
	~	A delay whose delay time depends on the stock it drains.
	|

FINAL TIME  = 20
	~	Month
	~		|

INITIAL TIME  = 0
	~	Month
	~		|

SAVEPER  = 1
	~	Month [0,?]
	~		|

TIME STEP  = 0.25
	~	Month [0,?]
	~		|
"""


def test_loops_accept_time_varying_delayn_and_say_how(tmp_path: Path) -> None:
    path = tmp_path / "dnloop.mdl"
    path.write_text(DELAYN_LOOP)
    res = pvsd.loops(_load(path))
    assert len(res.loops) == 1 and res.loops["polarity"].iloc[0] == "B"
    assert any("delay time that changes during the run" in n for n in res.notes)
    # the loop analysis's run equals plain PySD saving the same variables at every step
    cols = list(res.run.data.columns)
    ref = _pysd_run(_plain(path, tmp_path), return_columns=cols,
                    return_timestamps=list(res.run.data.index))
    for c in cols:
        _close(res.run.data[c], ref[c], c)


def test_delayn_time_varying_ensemble_equals_pysd(tmp_path: Path) -> None:
    model = _load(DELAYN)
    # members differ in their delay times (and so in their conveyors of delay times)
    samples = pd.DataFrame({"Base Delay": [2.0, 4.5, 7.0]})
    outs = ["In Transit", "Received", "Arrivals"]
    ds = model.run_ensemble(samples, outputs=outs)
    assert ds.attrs["engine"] == "vectorized"
    py = _plain(DELAYN, tmp_path)
    for i in range(len(samples)):
        ref = _pysd_run(py, params=dict(samples.iloc[i]), return_columns=outs,
                        return_timestamps=list(ds["time"].values))
        for o in outs:
            _close(ds[o].isel(run=i).values, ref[o], f"member {i}: {o}")


# -- JavaScript ---------------------------------------------------------------------------


@needs_node
@pytest.mark.parametrize("method", ["euler", "rk4"])
@pytest.mark.parametrize("path", [MACRO, DELAYN], ids=["macros", "delayn-varying"])
def test_js_equals_engine(path: Path, method: str) -> None:
    from pvsd.embed.js_backend import compile_js, ir_of, run_in_node

    model = _load(path)
    js = compile_js(ir_of(model))
    sets = [model.stocks, model.default_outputs(), model.stocks[:1]]
    jobs, refs = [], []
    for outs in sets:
        res = model.run(outputs=outs, method=method).data
        refs.append(res)
        jobs.append({"params": {}, "opts": {"outputs": [model._py[o] for o in outs],
                                            "method": method}})
    for res, r in zip(refs, run_in_node(js, jobs), strict=True):
        _close(r["time"], res.index, "time")
        for o in res.columns:
            _close(r["values"][model._py[o]], res[o], o)


@needs_node
def test_js_runs_delay_fixed() -> None:
    from pvsd.embed.js_backend import compile_js, ir_of, run_in_node

    model = _load(require(TEST_MODELS / "tests" / "delay_fixed" / "test_delay_fixed.mdl"))
    js = compile_js(ir_of(model))
    outs = model.default_outputs()
    for method in ("euler", "rk4"):
        res = model.run(outputs=outs, method=method).data
        r = run_in_node(js, [{"params": {}, "opts": {"outputs": [model._py[o] for o in outs],
                                                     "method": method}}])[0]
        for o in outs:
            _close(r["values"][model._py[o]], res[o], f"{method}: {o}")


@needs_node
@pytest.mark.parametrize("method", ["euler", "rk4"])
def test_js_control_variables_changing_during_the_run(method: str) -> None:
    from pvsd.embed.js_backend import compile_js, ir_of, run_in_node
    from pvsd.errors import PvsdError

    model = _load(require(TEST_MODELS / "tests" / "control_vars" / "test_control_vars.mdl"))
    outs = model.default_outputs() or model.stocks
    res = model.run(outputs=outs, method=method).data  # FINAL TIME rises from 10 to 50
    assert res.index[-1] == 50
    js = compile_js(ir_of(model))
    r = run_in_node(js, [{"params": {}, "opts": {"outputs": [model._py[o] for o in outs],
                                                 "method": method}}])[0]
    _close(r["time"], res.index, "time")
    for o in outs:
        _close(r["values"][model._py[o]], res[o], o)
    # fixing only FINAL TIME while TIME STEP and SAVEPER still change: refused, not truncated
    with pytest.raises(PvsdError, match="change during the run"):
        run_in_node(js, [{"params": {}, "opts": {"final_time": 10}}])


@needs_node
def test_embed_accepts_macros_delay_fixed_and_delayn(tmp_path: Path) -> None:
    from pvsd.cli import main

    for path in (MACRO, DELAYN):
        out = tmp_path / f"{path.stem}.html"
        assert main(["embed", str(path), "-o", str(out)]) == 0
        assert out.exists() and "simulate" in out.read_text()


# -- ranges on PySD-fallback runs -----------------------------------------------------------

RANGED = """{UTF-8}
Level= INTEG (
	-Drain,
		1)
	~	Widget [0,?]
	~	A stock declared non-negative.
	|

Rate=
	0.3
	~	Widget/Month [0,1]
	~		|

Drain=
	Rate + RANDOM UNIFORM(0, 0.0001, 1)
	~	Widget/Month
	~	A random function keeps the model on the per-run PySD path.
	|

Watched=
	Level * 2
	~	Widget [0, 10]
	~		|

FINAL TIME  = 10
	~	Month
	~		|

INITIAL TIME  = 0
	~	Month
	~		|

SAVEPER  = 1
	~	Month [0,?]
	~		|

TIME STEP  = 0.5
	~	Month [0,?]
	~		|
"""


def test_fallback_run_checks_ranges_at_saved_times_and_says_so(tmp_path: Path) -> None:
    from pvsd.engine import engine_for
    from pvsd.numerics.ranges import RangeWarning

    path = tmp_path / "ranged.mdl"
    path.write_text(RANGED)
    model = _load(path)
    assert not engine_for(model).vectorized  # the fallback is what this test is about
    with pytest.warns(RangeWarning) as rec:
        res = model.run(outputs=["Watched"])
    texts = [str(w.message) for w in rec]
    hit = [t for t in texts if "'Watched' went below its declared minimum 0" in t]
    assert hit and "saved times" in hit[0] and "plain PySD" in hit[0]
    assert "rk4" not in hit[0].lower()  # PySD has no RK4 to offer as a remedy
    first = float(res.data.index[np.argmax(res.data["Watched"].to_numpy() < 0)])
    assert f"at time {first:g}" in hit[0]
    assert any("'Level'" in t and "not checked" in t for t in texts)
    assert "saved times only" in res.provenance["range_check"]
    # an ensemble on the fallback path is checked too
    with pytest.warns(RangeWarning, match="'Level' went below its declared minimum 0"):
        ds = model.run_ensemble(pd.DataFrame({"Rate": [0.2, 0.3]}), outputs=["Level"],
                               workers=1)
    assert ds.attrs["engine"] == "pysd"
    assert "saved times only" in str(ds.attrs)
