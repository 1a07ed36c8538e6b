"""The model card: `pvsd doc` (HTML and Markdown) and its pieces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import TEST_MODELS, require

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "models" / "public_value_chain.mdl"


def test_equation_text_round_trips_teacup(teacup) -> None:
    from pvsd.embed.card import equation_text
    from pvsd.embed.js_backend import ir_of

    ir = ir_of(teacup)
    v = ir.variables["heat_loss_to_room"]
    assert equation_text(v.expr, ir) == "(Teacup Temperature - Room Temperature) / Characteristic Time"
    stock = ir.variables["teacup_temperature"]
    assert equation_text(stock.net_flow, ir) == "-Heat Loss to Room"


def test_doc_cli_writes_html_and_markdown(teacup_path: Path, tmp_path: Path) -> None:
    from pvsd.cli import main

    html_out, md_out = tmp_path / "card.html", tmp_path / "card.md"
    assert main(["doc", str(teacup_path), "-o", str(html_out), "--markdown", str(md_out)]) == 0
    page = html_out.read_text()
    md = md_out.read_text()
    for text in (page, md):
        assert "Teacup Temperature" in text and "Characteristic Time" in text
        assert "Degrees Fahrenheit/Minute" in text  # units
        assert "model_sha256" in text  # provenance
    assert "<svg" in page and "<script src" not in page and "Plotly" not in page
    assert "(Teacup Temperature - Room Temperature) / Characteristic Time" in md
    assert "| Teacup Temperature | `180` |  | Heat Loss to Room | Degrees Fahrenheit |" in md
    # never overwritten silently
    assert main(["doc", str(teacup_path), "-o", str(html_out)]) == 2


def test_reference_card_sections() -> None:
    import pvsd
    from pvsd.embed.card import model_card

    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} is absent")
    model = pvsd.load(REFERENCE)
    card = model_card(model, loop_diagrams=1)
    titles = [b.title for b in card.blocks]
    assert titles[:6] == ["Purpose", "Theory", "Stock-flow diagrams", "Stocks and flows", "Policy levers",
                          "Feedback loops"]
    assert titles[-2:] == ["Variables and equations", "References"]
    blocks = {b.title: b for b in card.blocks}
    # the theory and references come from models/README.md, each named loop carries its meaning
    theory = blocks["Theory"].html
    assert "What the model represents" in theory and "technology logic trap" in theory
    refs = blocks["References"].html
    assert "Wang Xuejun &amp; Chen Youqian (2022)" in refs and "2022(3): 5-23" in refs
    assert "Trusting citizens express what they value" in blocks["Feedback loops"].html  # R5's meaning
    for line in blocks["Feedback loops"].markdown.splitlines():  # GitHub renders only equal cell counts
        if line.startswith("| Loop"):
            header = line
            break
    md = blocks["Feedback loops"].markdown.splitlines()
    k = md.index(header)
    cells = lambda s: len(re.findall(r"(?<!\\)\|", s)) - 1  # noqa: E731
    assert cells(md[k]) == cells(md[k + 1]) == cells(md[k + 2]) == 6
    assert "PURPOSE" in blocks["Purpose"].html
    assert "Technology Investment" in blocks["Policy levers"].html
    assert "<h3>Policy levers</h3>" in blocks["Variables and equations"].html  # Vensim group
    loops = blocks["Feedback loops"].html
    assert ("reinforcing" in loops and "balancing" in loops) or "not part of this pvsd" in loops
    # every variable is documented with its equation
    for name in model.variables["name"]:
        assert name in blocks["Variables and equations"].markdown


def test_py_model_card_says_why_equations_are_missing(tmp_path: Path) -> None:
    import shutil

    import pvsd
    from pvsd.embed.card import model_card

    src = require(TEST_MODELS / "samples" / "teacup" / "teacup.mdl")
    model = pvsd.load(src)
    py = tmp_path / "teacup.py"
    shutil.copyfile(model.source.py_path, py)
    card = model_card(pvsd.load(py), loops=False)
    blocks = {b.title: b for b in card.blocks}
    assert "translated .py file" in blocks["Variables and equations"].html
    assert "laid out automatically" in blocks["Stock-flow diagram"].html
