"""Model cards and diagrams of arrayed models show dimensions."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import TEST_MODELS, require

import pvsd

ROOT = Path(__file__).resolve().parents[1]
ACTORS = ROOT / "models" / "public_value_actors.mdl"
SVG = "{http://www.w3.org/2000/svg}g"


def _nodes(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg.split("?>", 1)[-1])
    return {g.get("data-name"): g for g in root.iter(SVG) if g.get("data-name") is not None}


def _var_row(md: str, name: str) -> str | None:
    """The row of ``name`` in the variables table (the last table of the card naming it)."""
    rows = [ln for ln in md.splitlines() if ln.startswith(f"| {name} |")]
    return rows[-1] if rows else None


def _label(g: ET.Element) -> str:
    return " ".join("".join(t.itertext()) for t in g.iter("{http://www.w3.org/2000/svg}text"))


@pytest.fixture(scope="module")
def actors() -> pvsd.Model:
    if not ACTORS.exists():
        pytest.skip(f"{ACTORS} (the bundled arrayed model) is absent")
    return pvsd.load(ACTORS)


def test_card_lists_dimensions_and_their_elements(actors: pvsd.Model) -> None:
    from pvsd.embed.card import model_card

    card = model_card(actors, loops=False, diagram=False)
    md = card.markdown()
    html = card.html()
    assert "## Dimensions" in md
    # dimension -> elements, from the model itself
    for dim, elems in actors.subscripts.items():
        assert re.search(rf"\| {re.escape(dim)} \| {re.escape(', '.join(elems))} \| {len(elems)} \|", md)
        assert dim in html
    # variable table: a Dimensions column with the elements of arrayed variables, blank for scalars
    assert "| Variable | Dimensions | Kind | Equation |" in md
    row = _var_row(md, "Engagement")
    assert row is not None
    assert "Actor: Government, Firms, Civil Society" in row and "| stock |" in row
    assert "INTEG(engagement growth[Actor] - engagement decay[Actor], Initial Engagement[Actor])" in row
    # the stocks table names an arrayed stock's flows too
    stock_row = next(ln for ln in md.splitlines() if ln.startswith("| Engagement |") and "engagement growth |" in ln)
    assert "| engagement growth | engagement decay |" in stock_row
    trust = _var_row(md, "Public Trust")
    assert trust is not None
    assert trust.startswith("| Public Trust |  | stock |")
    assert "Reduce(" not in md and "ARef(" not in md and "INTEG(, )" not in md
    assert "SUM(Actor Weight[Actor!] * Engagement[Actor!])" in md


def test_scalar_card_has_no_dimensions_column() -> None:
    from pvsd.embed.card import model_card

    md = model_card(pvsd.load(ROOT / "tests" / "models" / "goal_seeking.mdl"), loops=False,
                    diagram=False).markdown()
    assert "## Dimensions" not in md and "| Dimensions |" not in md


def test_diagram_labels_arrayed_variables_with_dims(actors: pvsd.Model) -> None:
    from pvsd.embed.diagram import diagram_svg

    nodes = _nodes(diagram_svg(actors))
    assert nodes["Engagement"].get("data-dims") == "Actor"
    assert "Engagement[Actor]" in _label(nodes["Engagement"]).replace(" ", "")
    assert nodes["Public Trust"].get("data-dims") is None
    assert "[" not in _label(nodes["Public Trust"])
    for name, d in actors._dims.items():
        if name in nodes:
            assert nodes[name].get("data-dims") == ",".join(d.dims)
            assert f"[{','.join(d.dims)}]" in _label(nodes[name]).replace(" ", "")


def test_loop_of_elements_highlights_its_variables() -> None:
    from pvsd.embed.diagram import loop_diagram

    m = pvsd.load(ROOT / "tests" / "models" / "regions_arrayed.mdl")
    svg = loop_diagram(m, ["Level[A]", "Spillover[B]", "Level[B]", "Spillover[A]"]).svg
    nodes = _nodes(svg)
    assert nodes["Level"].get("opacity") is None and nodes["Spillover"].get("opacity") is None
    assert nodes["Gap"].get("opacity") == "0.3"


def test_conformance_model_card_and_diagram() -> None:
    from pvsd.embed.card import model_card
    from pvsd.embed.diagram import diagram_svg

    path = require(TEST_MODELS / "tests" / "subscript_2d_arrays" / "test_subscript_2d_arrays.mdl")
    m = pvsd.load(path)
    md = model_card(m, loops=False, diagram=False).markdown()
    for dim, elems in m.subscripts.items():
        assert f"| {dim} | {', '.join(elems)} | {len(elems)} |" in md
    checked = 0
    for name, d in m._dims.items():
        row = _var_row(md, name)
        if row is not None:
            checked += 1
            assert " × ".join(f"{x}: {', '.join(c)}" for x, c in zip(d.dims, d.coords, strict=True)) in row
    assert checked >= 3
    nodes = _nodes(diagram_svg(m))
    arrayed = [n for n in nodes if n in m._dims]
    assert arrayed, "the sketch draws arrayed variables"
    for n in arrayed:
        assert nodes[n].get("data-dims") == ",".join(m._dims[n].dims)


def test_card_loops_section_says_element_level(actors: pvsd.Model) -> None:
    from pvsd.embed.card import model_card

    md = model_card(actors, loops=True, diagram=False).markdown()
    assert "loops over element-level variables" in md
    assert "Engagement[Government]" in md


ARRAYED_LOOKUP = """{UTF-8}
dim:
\tA, B
\t~\t
\t~\t\t|

effect[A](
\t(2,3),(4,7),(7,1))
\t~\tdmnl
\t~\t\t|

effect[B](
\t(1,3),(4,-1),(8,1.5))
\t~\tdmnl
\t~\t\t|

out[dim]=
\teffect[dim](Time)
\t~\tdmnl
\t~\t\t|

FINAL TIME = 8 ~ Month ~ |
INITIAL TIME = 0 ~ Month ~ |
SAVEPER = 1 ~ Month ~ |
TIME STEP = 1 ~ Month ~ |
"""


def test_card_shows_each_elements_own_table_of_an_arrayed_lookup(tmp_path: Path) -> None:
    """PySD merges an arrayed lookup's definitions onto the union of their x points; the card
    gives each element the points written in the model (the same function)."""
    from pvsd.embed.card import model_card

    path = tmp_path / "lookups.mdl"
    path.write_text(ARRAYED_LOOKUP)
    m = pvsd.load(path)
    row = _var_row(model_card(m, loops=False, diagram=False).markdown(), "effect")
    assert row is not None
    assert "[A]: ([(2,1)-(7,7)],(2,3),(4,7),(7,1))" in row
    assert "[B]: ([(1,-1)-(8,3)],(1,3),(4,-1),(8,1.5))" in row
    # the tables are the model's: out[A] at t = 5 interpolates (4,7)-(7,1) -> 5
    df = m.run(outputs=["out"]).to_dataframe()
    assert df.loc[5.0, "out[A]"] == pytest.approx(5.0)
    assert df.loc[0.0, "out[A]"] == pytest.approx(3.0) and df.loc[8.0, "out[B]"] == pytest.approx(1.5)
