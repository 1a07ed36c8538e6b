"""Every output file records its provenance (issue 12 item 12): diagram SVG, fragments, report.txt."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pvsd.cli import main
from pvsd.provenance import file_sha256

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "public_value_chain.mdl"
TESTS = Path(__file__).resolve().parent


def _record(text: str) -> dict:
    m = re.search(r"<!-- pvsd provenance: (.*?) -->", text)
    assert m, "no provenance comment"
    return json.loads(m.group(1))


def test_diagram_svg_carries_provenance(tmp_path: Path) -> None:
    out = tmp_path / "d.svg"
    assert main(["diagram", str(MODEL), "-o", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("<?xml")
    rec = _record(text)
    assert rec["model_sha256"] == file_sha256(MODEL)
    assert rec["pvsd_version"] and rec["pysd_version"]
    import xml.etree.ElementTree as ET

    ET.fromstring(text.encode())  # still well-formed XML


def test_fragments_carry_provenance(tmp_path: Path) -> None:
    out = tmp_path / "rep"
    model = TESTS / "models" / "goal_seeking.mdl"
    assert main(["report", str(model), "-o", str(out), "--fragment"]) == 0
    frags = sorted((out / "figures").glob("*.html"))
    assert frags
    for f in frags:
        rec = _record(f.read_text())
        assert rec["model_sha256"] == file_sha256(model), f.name
        assert rec["figure"] == f.stem


def test_calibration_report_txt_carries_provenance(tmp_path: Path) -> None:
    from test_calibration import bass_spec

    spec = bass_spec(tmp_path)
    out = tmp_path / "cal"
    assert main(["calibrate", str(spec), "-o", str(out), "--no-mcmc", "--quiet"]) == 0
    text = (out / "report.txt").read_text()
    assert "Provenance" in text
    sha = re.search(r"model_sha256: ([0-9a-f]{64})", text)
    assert sha, text[-500:]
    assert sha.group(1) == file_sha256(TESTS / "models" / "bass.mdl")
