"""Stock-flow diagrams: from the Vensim sketch, or laid out automatically."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import TEST_MODELS, require

NS = {"s": "http://www.w3.org/2000/svg"}


def _nodes(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg.split("?>", 1)[-1])
    return {g.get("data-name"): g for g in root.iter("{http://www.w3.org/2000/svg}g")
            if g.get("data-name") is not None}


def test_teacup_diagram_keeps_sketch_positions(teacup) -> None:
    from pvsd.embed.diagram import diagram_svg
    from pvsd.embed.sketch import parse_sketch

    svg = diagram_svg(teacup)
    nodes = _nodes(svg)
    view = parse_sketch(teacup.path)[0]
    sketch = {o.name: (o.x, o.y) for o in view.variables()}
    assert set(sketch) == {"Teacup Temperature", "Heat Loss to Room", "Room Temperature", "Characteristic Time"}
    assert set(sketch) <= set(nodes)
    assert nodes["Teacup Temperature"].get("data-kind") == "stock"
    assert nodes["Heat Loss to Room"].get("data-kind") == "flow"
    assert nodes["Teacup Temperature"].find("s:rect", NS) is not None  # drawn as a box
    # same relative positions as in the sketch (scale 1, one common offset)
    ref = "Teacup Temperature"
    for name, (x, y) in sketch.items():
        dx = float(nodes[name].get("data-x")) - float(nodes[ref].get("data-x"))
        dy = float(nodes[name].get("data-y")) - float(nodes[ref].get("data-y"))
        assert dx == pytest.approx(x - sketch[ref][0]) and dy == pytest.approx(y - sketch[ref][1]), name
    # a flow pipe with a valve, a cloud, and causal arrows
    assert 'class="sd-pipe" data-flow="Heat Loss to Room"' in svg
    assert 'class="sd-valve"' in svg and 'class="sd-cloud"' in svg
    assert svg.count('class="sd-arrow"') == 3


def test_highlight_a_loop(teacup) -> None:
    from pvsd.embed.diagram import diagram_svg

    svg = diagram_svg(teacup, highlight=["Teacup Temperature", "Heat Loss to Room"])
    assert "#D55E00" in svg  # loop colour
    root = ET.fromstring(svg.split("?>", 1)[-1])
    arrows = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == "sd-arrow"]
    on = [a for a in arrows if a.get("opacity") is None]
    assert [(a.get("data-from"), a.get("data-to")) for a in on] == [("Teacup Temperature", "Heat Loss to Room")]


def test_reference_model_one_figure_per_view() -> None:
    import pvsd
    from pvsd.embed.diagram import diagrams
    from pvsd.embed.sketch import parse_sketch

    path = Path(__file__).resolve().parents[1] / "models" / "public_value_chain.mdl"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    model = pvsd.load(path)
    figs = diagrams(model)
    assert [f.title for f in figs] == [v.name for v in parse_sketch(path)] and len(figs) > 1
    assert all(not f.auto and f.svg.startswith("<svg") for f in figs)
    stocks = set(model.stocks)
    drawn = {g for f in figs for g, e in _nodes(f.svg).items() if e.get("data-kind") == "stock"}
    assert stocks <= drawn


def test_model_without_sketch_is_laid_out_and_says_so(tmp_path: Path, capsys) -> None:
    from pvsd.cli import main

    model = require(TEST_MODELS / "samples" / "SIR" / "SIR.xmile")
    out = tmp_path / "sir.svg"
    assert main(["diagram", str(model), "-o", str(out)]) == 0
    assert "laid out automatically" in capsys.readouterr().out
    nodes = _nodes(out.read_text())
    assert {"susceptible", "infectious", "recovered"} <= {n.lower() for n in nodes}


def test_unknown_view_is_a_clear_error(teacup_path: Path, tmp_path: Path, capsys) -> None:
    from pvsd.cli import main

    assert main(["diagram", str(teacup_path), "--view", "Nope", "-o", str(tmp_path / "x.svg")]) == 2
    assert "has no view 'Nope'" in capsys.readouterr().err
