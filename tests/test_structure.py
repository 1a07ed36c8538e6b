"""Package structure: what composes sits above what it composes, and no import circles.

Layers (lower never imports higher): pvsd.document (HTML pages, figures) < pvsd.embed
(model cards, diagrams, live simulators) < pvsd.report (reports composing both).
model.py does not import scenarios.py (scenarios run models); calibration/report.py does
not import calibration/result.py (the result builds its report). Every import counts,
also those inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "pvsd"


def _module(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in out if m.startswith("pvsd")}


GRAPH = {_module(p): _imports(p) for p in PKG.rglob("*.py")}


def _under(name: str, pkg: str) -> bool:
    return name == pkg or name.startswith(pkg + ".")


@pytest.mark.parametrize(("lower", "higher"), [
    ("pvsd.document", "pvsd.embed"), ("pvsd.document", "pvsd.report"), ("pvsd.embed", "pvsd.report"),
])
def test_lower_layers_never_import_higher(lower, higher):
    bad = {m: sorted(i for i in imps if _under(i, higher))
           for m, imps in GRAPH.items() if _under(m, lower)}
    assert {m: v for m, v in bad.items() if v} == {}


@pytest.mark.parametrize(("a", "b"), [
    ("pvsd.model", "pvsd.scenarios"), ("pvsd.calibration.report", "pvsd.calibration.result"),
])
def test_no_import_circle(a, b):
    assert b not in GRAPH[a] or a not in GRAPH[b], f"{a} and {b} import each other"
    assert b not in GRAPH[a]  # the lower one does not import the higher one at all
