"""The worked example in docs/ runs as written: the notebook (executed with nbclient) and
the Python chunks of the Markdown/Quarto document, in order."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="pip install -e '.[test]' (nbformat)")
    nbclient = pytest.importorskip("nbclient", reason="pip install -e '.[test]' (nbclient)")
    pytest.importorskip("ipykernel", reason="pip install -e '.[test]' (ipykernel)")
    nb = nbformat.read(DOCS / "worked_example.ipynb", as_version=4)
    root = str(Path(__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))  # the kernel's pvsd
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") for o in outs if o.output_type == "stream")
    assert "has the largest effect" in text and "vs baseline" in text
    html = "\n".join(o.get("data", {}).get("text/html", "") for o in outs if o.output_type != "stream")
    assert "pvsd-live" in html  # the live model is embedded
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outs)  # the figure
    if shutil.which("chromium") or os.environ.get("BROWSER_PATH"):
        png = tmp_path / "worked_example_trajectories.png"
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_markdown_document_chunks_run(tmp_path, monkeypatch):
    text = (DOCS / "worked_example.md").read_text(encoding="utf-8")
    chunks = re.findall(r"```\{python\}\n(.*?)```", text, flags=re.S)
    assert len(chunks) >= 5
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for chunk in chunks:
            exec(compile(chunk, "worked_example.md", "exec"), scope)
    page = printed.getvalue()
    files = tmp_path / "worked_example_files"
    assert "has the largest effect" in page
    assert 'class="pvsd-live"' in page and "<table" in page and "Plotly.newPlot" in page
    assert (files / "plotly.min.js").is_file() and (files / "live.html").is_file()
    import pandas as pd

    table = pd.read_csv(files / "key_results.csv", index_col=[0, 1, 2])
    assert all(dt.kind == "f" for dt in table.dtypes)  # numbers in numeric cells
    if shutil.which("chromium") or os.environ.get("BROWSER_PATH"):
        assert (files / "trajectories.svg").read_text(encoding="utf-8").lstrip().startswith("<svg")
