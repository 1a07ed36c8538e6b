"""The live simulator: one static HTML file that re-simulates in the browser.

Headless Chromium (tests/browser.py): moving a slider changes the drawn
trajectory, the page requests nothing beyond itself and logs no error. An
unsupported construct gives a clear error and writes no file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import browser_page
from conftest import TEST_MODELS, require

from pvsd.embed.js_backend import node_available

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "public_value_chain.mdl"
SCENARIOS = ROOT / "models" / "scenarios" / "public_value_chain.toml"


@pytest.fixture(scope="module")
def reference():
    import pvsd

    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} is absent")
    return pvsd.load(REFERENCE)


def _move_first_slider(page) -> None:
    page.evaluate("""() => {
        const i = document.querySelector('.pl-levers input[type=range]');
        i.value = i.max; i.dispatchEvent(new Event('input', {bubbles: true}));
    }""")


@pytest.mark.browser
def test_slider_changes_trajectory_offline(reference, tmp_path: Path) -> None:
    import pvsd
    from pvsd.cli import main

    out = tmp_path / "live.html"
    args = ["embed", str(REFERENCE), "-o", str(out)]
    if SCENARIOS.exists():
        args += ["--scenarios", str(SCENARIOS)]
    assert main(args) == 0
    text = out.read_text()
    assert reference.sha256 in text and "<script src" not in text and "http" not in text.split("<script>")[1][:0]
    with browser_page() as (page, seen):
        page.goto(out.as_uri())
        page.wait_for_selector(".pvsd-live[data-ready='1']", timeout=20000)
        paths = page.locator(".pl-current")
        assert paths.count() == len(reference.stocks)
        before = [paths.nth(k).get_attribute("d") for k in range(paths.count())]
        assert all(d and d.startswith("M") for d in before)
        _move_first_slider(page)
        page.wait_for_function("document.querySelector('.pvsd-live').getAttribute('data-runs') === '2'")
        after = [paths.nth(k).get_attribute("d") for k in range(paths.count())]
        assert after != before, "moving a lever did not change any drawn trajectory"
        if SCENARIOS.exists():
            names = pvsd.load_scenarios(SCENARIOS, reference).names
            page.select_option(".pl-scenario", names[-1])
            page.wait_for_function("Number(document.querySelector('.pvsd-live').getAttribute('data-runs')) >= 3")
        assert seen["console_errors"] == [] and seen["page_errors"] == []
        assert seen["requests"] == [out.as_uri()], seen["requests"]


@pytest.mark.browser
def test_fragment_runs_inside_another_page(tmp_path: Path) -> None:
    import pvsd
    from pvsd.embed.live import live_fragment

    model = pvsd.load(require(TEST_MODELS / "samples" / "teacup" / "teacup.mdl"))
    frag = live_fragment(model)
    assert frag.startswith("<div") and frag.endswith("</div>")
    page_file = tmp_path / "host.html"
    page_file.write_text(f"<!DOCTYPE html><html><body><h1>My report</h1>{frag}<p>after</p></body></html>")
    with browser_page() as (page, seen):
        page.goto(page_file.as_uri())
        page.wait_for_selector(".pvsd-live[data-ready='1']")
        d0 = page.locator(".pl-current").first.get_attribute("d")
        _move_first_slider(page)
        page.wait_for_function("document.querySelector('.pvsd-live').getAttribute('data-runs') === '2'")
        assert page.locator(".pl-current").first.get_attribute("d") != d0
        assert seen["console_errors"] == [] and seen["page_errors"] == []
        assert seen["requests"] == [page_file.as_uri()]


@pytest.mark.skipif(node_available() is None, reason="Node.js is not installed")
def test_scenario_presets_match_python(reference) -> None:
    """A scenario with time-varying levers gives the same numbers in JavaScript as Model.run."""
    import numpy as np

    import pvsd
    from pvsd.embed.js_backend import compile_js, ir_of, run_in_node
    from pvsd.embed.live import _scenario_config

    if not SCENARIOS.exists():
        pytest.skip(f"{SCENARIOS} is absent")
    sset = pvsd.load_scenarios(SCENARIOS, reference)
    js = compile_js(ir_of(reference))
    cfg = _scenario_config(reference, sset, set())
    py = reference._py
    for sc, c in zip(sset, cfg, strict=True):
        res = reference.run(scenario=sc)
        params = {f["py"]: f["value"] for f in c["fixed"]}
        r = run_in_node(js, [{"params": params, "opts": {"outputs": [py[o] for o in res.data.columns],
                                                         "save_times": list(res.data.index)}}])[0]
        for col in res.data.columns:
            np.testing.assert_allclose(r["values"][py[col]], res.data[col], rtol=1e-9, atol=1e-12)


def test_unsupported_construct_is_a_clear_error(tmp_path: Path, capsys) -> None:
    from pvsd.cli import main

    # VECTOR SELECT is outside the JavaScript subset (and the numpy engine's)
    model = require(TEST_MODELS / "tests" / "vector_select" / "test_vector_select.mdl")
    out = tmp_path / "x.html"
    assert main(["embed", str(model), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "VECTOR" in err and "SELECT" in err and "'Eout2 1'" in err and "The live simulator supports" in err
    assert not out.exists() and not list(tmp_path.iterdir())


def test_subscripted_model_compiles_with_its_dimensions(tmp_path: Path) -> None:
    import pvsd
    from pvsd.embed.live import live_html

    path = require(TEST_MODELS / "tests" / "subscript_2d_arrays" / "test_subscript_2d_arrays.mdl")
    model = pvsd.load(path)
    page = live_html(model)
    # the page carries the arrays' element names (numbers are checked under Node in
    # tests/test_embed_js_arrays.py)
    for dim, elems in model.subscripts.items():
        assert all(e in page for e in elems), dim


def test_existing_output_is_not_overwritten(tmp_path: Path, capsys) -> None:
    from pvsd.cli import main

    model = require(TEST_MODELS / "samples" / "teacup" / "teacup.mdl")
    out = tmp_path / "t.html"
    out.write_text("mine")
    assert main(["embed", str(model), "-o", str(out)]) == 2
    assert out.read_text() == "mine"
    assert main(["embed", str(model), "-o", str(out), "--force", "--fragment"]) == 0
    assert out.read_text().startswith('<div class="pvsd-live"')


@pytest.mark.browser
def test_arrayed_outputs_are_charted_element_by_element(tmp_path: Path) -> None:
    """One panel per element (the first four of a long dimension by default, any element with
    --outputs); each drawn, with the exact Euler value (1 + g)^t at the end."""
    from test_report import _many_regions_model

    from pvsd.cli import main

    regions = _many_regions_model(tmp_path / "regions.mdl")
    out = tmp_path / "live.html"
    assert main(["embed", str(tmp_path / "regions.mdl"), "-o", str(out)]) == 0
    picked = tmp_path / "picked.html"
    assert main(["embed", str(tmp_path / "regions.mdl"), "--outputs", "Stock[R07], Stock[R19]",
                 "-o", str(picked)]) == 0
    assert "4 of its 20 elements are charted" in out.read_text()
    for path, names in ((out, regions[:4]), (picked, ["R07", "R19"])):
        with browser_page() as (page, seen):
            page.goto(path.as_uri())
            page.wait_for_selector(".pvsd-live[data-ready='1']", timeout=20000)
            titles = [t.split(" ")[0] for t in page.locator(".pl-chart h4").all_inner_texts()]
            assert titles == [f"Stock[{r}]" for r in names]
            for k, r in enumerate(names):
                assert page.locator(".pl-current").nth(k).get_attribute("d").startswith("M")
                svg = page.locator(".pl-chart svg").nth(k)
                box = svg.bounding_box()
                page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)
                label = page.locator(".pl-hover text").nth(k).text_content()
                g = 0.01 * (int(r[1:]) + 1)
                assert label.startswith(f"10: {float(f'{(1 + g) ** 10:.4g}'):g}"), label
            assert seen["console_errors"] == [] and seen["page_errors"] == []


def test_element_chart_refuses_a_layout_it_cannot_trust(tmp_path: Path) -> None:
    """The chart index is computed in the model's dims order and read in the compiled IR's
    order: when the two disagree the page is refused, never charted with another element."""
    import dataclasses

    import pvsd
    from pvsd.embed.js_backend import ir_of
    from pvsd.embed.live import _chart_config
    from pvsd.errors import UnsupportedModelError

    path = require(TEST_MODELS / "tests" / "subscript_2d_arrays" / "test_subscript_2d_arrays.mdl")
    model = pvsd.load(path)
    ir = ir_of(model)
    name = next(n for n, d in model._dims.items() if len(d.dims) == 2 and n in model.stocks)
    label = model.elements(name)[-1]
    d = model._dims[name]
    assert _chart_config(model, label, ir)["index"] == d.size - 1
    py = model._py[name]
    flipped = dataclasses.replace(ir.variables[py], dims=tuple(reversed(ir.variables[py].dims)))
    bad = dataclasses.replace(ir, variables={**ir.variables, py: flipped})
    with pytest.raises(UnsupportedModelError, match="laid out"):
        _chart_config(model, label, bad)
