"""``pvsd embed --set``: the value is the page's model constant, its baseline and a slider's start.

The independent reference is the numpy engine's ``Model.run(params=...)`` with the same
values; the JavaScript model is taken out of the written page and run under Node.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import TEST_MODELS, require

from pvsd.embed.js_backend import JSModel, node_available

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "public_value_chain.mdl"
SCENARIOS = ROOT / "models" / "scenarios" / "public_value_chain.toml"
TECH = "Technology Investment"  # a slider (declared range [0, 1])
SCALE = "Value Creation Scale"  # no declared range: not a slider
needs_node = pytest.mark.skipif(node_available() is None, reason="Node.js is not installed")


@pytest.fixture(scope="module")
def reference():
    import pvsd

    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} is absent")
    return pvsd.load(REFERENCE)


def _page_model(text: str) -> JSModel:
    """The compiled model embedded in a written page (``var M = ...;`` of its script)."""
    m = re.search(r"\nvar M = (.*?);\nvar W = 360", text, re.S)
    assert m, "no compiled model in the page"
    return JSModel(m.group(1), {}, [], {})


def _page_config(text: str) -> dict:
    m = re.search(r"\nvar CFG = (.*?);\nvar M = ", text, re.S)
    assert m, "no configuration in the page"
    return json.loads(m.group(1))


def _page_provenance(text: str) -> dict[str, str]:
    block = text.split('<details class="prov">')[1]
    return dict(zip(re.findall(r"<dt>(.*?)</dt>", block), re.findall(r"<dd>(.*?)</dd>", block), strict=True))


@needs_node
def test_set_is_the_page_models_constant(reference, tmp_path: Path) -> None:
    import html

    from pvsd.cli import main
    from pvsd.embed.js_backend import run_in_node

    out = tmp_path / "live.html"
    sets = {TECH: 0.65, SCALE: 1.7}
    assert main(["embed", str(REFERENCE), "-o", str(out), "--set", f"{TECH}=0.65",
                 "--set", "value_creation_scale=1.7"]) == 0
    text = out.read_text(encoding="utf-8")
    res = reference.run(params=sets)
    base = reference.run()
    py = reference._py
    opts = {"outputs": [py[o] for o in res.data.columns], "save_times": list(res.data.index)}
    r = run_in_node(_page_model(text), [{"params": {}, "opts": opts},
                                         {"params": {py[TECH]: 0.3}, "opts": opts}])
    moved = reference.run(params={SCALE: 1.7, TECH: 0.3})
    for col in res.data.columns:
        # the page's baseline (no slider moved) is the run with --set
        np.testing.assert_allclose(r[0]["values"][py[col]], res.data[col], rtol=1e-9, atol=1e-12)
        # a moved slider wins over --set; the other set value stays
        np.testing.assert_allclose(r[1]["values"][py[col]], moved.data[col], rtol=1e-9, atol=1e-12)
    assert not np.allclose(res.data["Cumulative Public Value"], base.data["Cumulative Public Value"])
    # the slider starts at the set value; the other set constant is no slider
    cfg = _page_config(text)
    tech = next(lv for lv in cfg["levers"] if lv["name"] == TECH)
    assert tech["default"] == 0.65 and tech["set"] is True
    assert SCALE not in {lv["name"] for lv in cfg["levers"]}
    # provenance records it
    prov = _page_provenance(text)
    assert json.loads(html.unescape(prov["set"])) == sets
    assert json.loads(html.unescape(prov["parameters"])) == sets
    assert f"--set {TECH}=0.65" in text


@needs_node
def test_presets_carry_set_on_top(reference) -> None:
    """A preset is its scenario with --set on top, as in every other command."""
    import pvsd
    from pvsd.embed.js_backend import run_in_node
    from pvsd.embed.live import live_fragment
    from pvsd.overrides import scenario_with_sets

    if not SCENARIOS.exists():
        pytest.skip(f"{SCENARIOS} is absent")
    sset = pvsd.load_scenarios(SCENARIOS, reference)
    sets = {TECH: 0.55, SCALE: 0.8}
    frag = live_fragment(reference, sset, sets=sets)
    cfg, js = _page_config(frag), _page_model(frag)
    py = reference._py
    levers = {lv["py"] for lv in cfg["levers"]}
    jobs, refs = [], []
    for sc, c in zip(sset, cfg["scenarios"], strict=True):
        res = reference.run(scenario=scenario_with_sets(reference, sc, sets))
        # what the page sends for a preset: its slider settings and its fixed settings
        params = {k: v for k, v in c["settings"].items() if k in levers}
        params.update({f["py"]: f["value"] for f in c["fixed"]})
        assert c["settings"].get(py[TECH], 0.55) == 0.55  # --set wins over the scenario's setting
        jobs.append({"params": params, "opts": {"outputs": [py[o] for o in res.data.columns],
                                                "save_times": list(res.data.index)}})
        refs.append(res)
    for res, r in zip(refs, run_in_node(js, jobs), strict=True):
        for col in res.data.columns:
            np.testing.assert_allclose(r["values"][py[col]], res.data[col], rtol=1e-9, atol=1e-12)


@needs_node
def test_set_on_an_element_of_an_arrayed_constant(tmp_path: Path) -> None:
    import pvsd
    from pvsd.embed.js_backend import run_in_node
    from pvsd.embed.live import live_html

    model = pvsd.load(require(TEST_MODELS / "tests" / "subscript_2d_arrays" / "test_subscript_2d_arrays.mdl"))
    sets = {"Rate A[Entry 2, Column 1]": 0.5}
    page = live_html(model, sets=sets)
    res = model.run(params=sets)
    py = model._py
    r = run_in_node(_page_model(page), [{"params": {}, "opts": {"outputs": [py["Stock A"]],
                                                                  "save_times": list(res.data.index)}}])[0]
    flat = np.asarray(r["values"][py["Stock A"]], float)
    ref = res.data[[c for c in res.data.columns if c.startswith("Stock A")]].to_numpy()
    np.testing.assert_allclose(flat.reshape(ref.shape), ref, rtol=1e-9)
    assert not np.allclose(ref, model.run().data[[c for c in res.data.columns if c.startswith("Stock A")]])


@pytest.mark.parametrize(("args", "expect"), [
    (["--set", "Nope=1"], "Unknown variable 'Nope' in --set"),
    (["--set", f"{TECH}=abc"], "is not a number"),
    (["--set", f"{TECH}"], "--set expects NAME=VALUE"),
    (["--set", f"{TECH}=1.5"], "outside the range the model declares for it, [0, 1]"),
    (["--set", f"{TECH}=nan"], "must be finite"),
])
def test_bad_set_is_one_paragraph_exit_2(reference, tmp_path: Path, capsys, args, expect) -> None:
    from pvsd.cli import main

    out = tmp_path / "x.html"
    assert main(["embed", str(REFERENCE), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert expect in " ".join(err.split()) and "Traceback" not in err
    assert not out.exists()


def test_set_outside_a_derived_slider_range_names_the_range(tmp_path: Path, capsys) -> None:
    from pvsd.cli import main

    # teacup declares [0, ?] for Characteristic Time (10): its slider spans 0 to 20
    path = require(TEST_MODELS / "samples" / "teacup" / "teacup.mdl")
    out = tmp_path / "x.html"
    assert main(["embed", str(path), "-o", str(out), "--set", "Characteristic Time=50"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "'Characteristic Time' is also a slider, whose range is [0, 20]" in err and "--levers" in err
    assert not out.exists()
    assert main(["embed", str(path), "-o", str(out), "--set", "Characteristic Time=15"]) == 0
    assert '"default": 15.0' in out.read_text(encoding="utf-8")


@pytest.mark.browser
def test_slider_starts_at_the_set_value_in_chromium(tmp_path: Path) -> None:
    from browser import browser_page

    import pvsd
    from pvsd.embed.live import write_live

    model = pvsd.load(require(TEST_MODELS / "samples" / "teacup" / "teacup.mdl"))
    out = write_live(model, tmp_path / "t.html", lever_names=["Characteristic Time"],
                     sets={"Characteristic Time": 15, "Room Temperature": 60})
    plain = write_live(model, tmp_path / "p.html", lever_names=["Characteristic Time"])
    with browser_page() as (page, seen):
        finals = []
        for f in (out, plain):
            page.goto(f.as_uri())
            page.wait_for_selector(".pvsd-live[data-ready='1']", timeout=20000)
            finals.append(page.evaluate("document.querySelector('.pl-levers input[type=range]').value"))
            finals.append(page.locator(".pl-range").first.inner_text())
        assert seen["console_errors"] == [] and seen["page_errors"] == []
    assert float(finals[0]) == 15 and "--set: 15" in finals[1]
    assert float(finals[2]) == 10 and "model: 10" in finals[3]
