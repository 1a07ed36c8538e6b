"""Loop analysis of arrayed models: loops over element-level variables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pvsd
from pvsd.errors import UnsupportedModelError
from pvsd.loops import LoopResult

HERE = Path(__file__).parent
MODELS = HERE / "models"
SHARED = HERE.parent.parent / "shared" / "test-models" / "tests"


def _scalar_name(name: str) -> str:
    """``Level[A]`` -> ``Level A``: the hand-written scalar twin's names."""
    return name.replace("[", " ").replace("]", "")


@pytest.fixture(scope="module")
def arrayed() -> LoopResult:
    return pvsd.loops(pvsd.load(MODELS / "regions_arrayed.mdl"))


@pytest.fixture(scope="module")
def scalar() -> LoopResult:
    return pvsd.loops(pvsd.load(MODELS / "regions_scalar.mdl"))


def test_loops_are_the_analytic_set(arrayed: LoopResult) -> None:
    # two balancing goal-seeking loops (one per region), one reinforcing cross-region coupling
    got = {(frozenset(v), p) for v, p in zip(arrayed.loops["variables"], arrayed.loops["polarity"],
                                                strict=True)}
    assert got == {
        (frozenset({"Level[A]", "Gap[A]", "Adjustment[A]"}), "B"),
        (frozenset({"Level[B]", "Gap[B]", "Adjustment[B]"}), "B"),
        (frozenset({"Level[A]", "Spillover[B]", "Level[B]", "Spillover[A]"}), "R"),
    }
    assert len(arrayed.loops) == 3
    assert "loops over element-level variables" in arrayed.message
    assert any("element-level" in n for n in arrayed.notes)


def test_scores_equal_hand_written_scalar_model(arrayed: LoopResult, scalar: LoopResult) -> None:
    assert "element-level" not in scalar.message  # an unsubscripted model says nothing about arrays
    by_vars = {tuple(v): lid for lid, v in zip(scalar.loops["id"], scalar.loops["variables"], strict=True)}
    assert len(by_vars) == len(arrayed.loops)
    np.testing.assert_allclose(arrayed.times, scalar.times, rtol=0, atol=0)
    for lid, v in zip(arrayed.loops["id"], arrayed.loops["variables"], strict=True):
        twin = by_vars[tuple(_scalar_name(x) for x in v)]
        a = arrayed.scores[lid].to_numpy()[1:]
        s = scalar.scores[twin].to_numpy()[1:]
        assert np.all(np.isfinite(a)) and np.abs(a).max() > 0
        np.testing.assert_allclose(a, s, rtol=1e-9, atol=0)
        np.testing.assert_allclose(arrayed.loop_scores[lid].to_numpy()[1:],
                                   scalar.loop_scores[twin].to_numpy()[1:], rtol=1e-9, atol=0)
    # link scores too, name for name
    for col in arrayed.link_scores.columns:
        twin_col = " -> ".join(_scalar_name(x) for x in col.split(" -> "))
        np.testing.assert_allclose(arrayed.link_scores[col].to_numpy()[1:],
                                   scalar.link_scores[twin_col].to_numpy()[1:], rtol=1e-9, atol=1e-300)


def test_causal_graph_has_element_nodes() -> None:
    g = pvsd.loops.causal_graph(pvsd.load(MODELS / "regions_arrayed.mdl"))
    names = set(g.nodes)
    assert {"Level[A]", "Level[B]", "Spillover[A]", "Spillover[B]"} <= names
    assert not any(n == "Level" for n in names)


def test_loop_report_says_element_level(arrayed: LoopResult, tmp_path: Path) -> None:
    from pvsd.report.loops_report import loops_report

    model = pvsd.load(MODELS / "regions_arrayed.mdl")
    path = loops_report(arrayed, model).write(tmp_path / "rep")
    html = Path(path).read_text(encoding="utf-8")
    assert "loops over element-level variables" in html
    assert "Level[A]" in html


@pytest.mark.parametrize("case", ["subscripted_flows", "subscript_individually_defined_stocks",
                                  "subscript_mapping_simple", "subscript_copy"])
def test_sdxorg_subscripted_model_runs(case: str) -> None:
    path = SHARED / case / f"test_{case}.mdl"
    if not path.exists():
        pytest.skip(f"SDXorg test model {path} is absent (../shared/test-models not present)")
    model = pvsd.load(path)
    try:
        res = pvsd.loops(model)
    except UnsupportedModelError as exc:  # a clear refusal is allowed; a crash is not
        pytest.fail(f"loop analysis refused {case}: {exc}")
    assert any("element-level" in n for n in res.notes)
    g = res.graph
    for v in res.loops["variables"]:
        # a loop is a closed chain of links of the element-level graph
        for a, b in zip(v, (*v[1:], v[0]), strict=True):
            assert g.has_edge(a, b), (a, b)
        for x in v:  # every element-qualified name is a real element of the model
            if "[" in x:
                model.resolve(x)
    if res.ids:
        assert "element-level" in res.message
        # relative scores: shares of each partition's total at every time
        rel = res.scores.iloc[1:].abs()
        for part in set(res.loops["partition"]):
            cols = res.loops.loc[res.loops["partition"] == part, "id"].tolist()
            tot = rel[cols].sum(axis=1)
            assert np.allclose(tot[tot > 0], 1.0, rtol=1e-9)
