"""Static export: an image the browser drops is asked for once more; one it never writes is an error."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import pytest

import pvsd
from pvsd import figures


class _Browser:
    """Stands in for kaleido: writes every image except, on the first ``drop`` calls, the first one."""

    def __init__(self, drop: int) -> None:
        self.drop, self.calls = drop, []

    def write_fig_from_object_sync(self, specs, kopts=None) -> None:
        self.calls.append(len(specs))
        for k, spec in enumerate(specs):
            if k == 0 and len(self.calls) <= self.drop:
                continue
            Path(spec["path"]).write_text("<svg/>")


@pytest.mark.parametrize("drop", [1, 2])
def test_a_dropped_image_is_asked_for_once_more(tmp_path: Path, monkeypatch, drop: int) -> None:
    fake = _Browser(drop)
    monkeypatch.setattr(figures, "_kaleido", lambda: fake)
    monkeypatch.setattr(figures, "_find_browser", lambda: "/usr/bin/true")
    figs = {"a": go.Figure(), "b": go.Figure()}
    if drop == 1:
        written = figures.save_figures(figs, formats=["svg"], folder=tmp_path)
        assert [p.name for p in written] == ["a.svg", "b.svg"] and fake.calls == [2, 1]
        assert all(p.read_text() == "<svg/>" for p in written)
    else:
        with pytest.raises(pvsd.PvsdError, match=r"wrote no image for .*a\.svg \(asked twice\)"):
            figures.save_figures(figs, formats=["svg"], folder=tmp_path)
        assert fake.calls == [2, 1] and not list(tmp_path.iterdir())  # nothing half-written
