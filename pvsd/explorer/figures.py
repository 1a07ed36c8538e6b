"""The explorer's dashboard figure: the subplot layout and the traces of runs and bands.

:class:`FigureMixin` is one base of :class:`~pvsd.explorer.core.Explorer`; its
methods use the explorer's ``outputs``, ``units``, ``baseline``, ``scenarios``
and ``run``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from pvsd.explorer.state import Bands, Settings
from pvsd.plotting import run_colours
from pvsd.scenarios import BASELINE

CURRENT_COLOUR = "#0072B2"
BASELINE_COLOUR = "#000000"
BAND_FILL = ("rgba(0,114,178,0.13)", "rgba(0,114,178,0.26)", "rgba(0,114,178,0.38)")


class FigureMixin:
    """Figure building of :class:`~pvsd.explorer.core.Explorer`."""

    # ------------------------------------------------------------------ figure
    def _grid(self) -> tuple[int, int]:
        n = max(len(self.outputs), 1)
        ncols = 1 if n == 1 else 2 if n in (2, 4) else 3
        return math.ceil(n / ncols), ncols

    def _base_layout(self) -> dict[str, Any]:
        from plotly.subplots import make_subplots

        nrows, ncols = self._grid()
        titles = [f"{o} ({self.units[o]})" if self.units.get(o) else o for o in self.outputs]
        # the chart area grows about 190 px per row (app._graph_style): a share of its height
        # that halves with twice the rows keeps the gap between rows near 60 px
        fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=titles,
                            vertical_spacing=min(0.16, 0.32 / nrows), horizontal_spacing=0.07)
        fig.update_layout(
            template="plotly_white",
            margin={"l": 50, "r": 15, "t": 60, "b": 30},
            font={"size": 12},
            legend={"orientation": "h", "yanchor": "bottom", "y": 1.06, "x": 0, "font": {"size": 12}},
            hovermode="x",
            uirevision="explorer",
        )
        fig.update_annotations(font_size=13)
        layout = fig.to_plotly_json()["layout"]
        layout.pop("template", None)
        # plotly_white, inlined: the template object is large and the same every time
        for i in range(1, nrows * ncols + 1):
            for axis in ("xaxis", "yaxis"):
                key = axis if i == 1 else f"{axis}{i}"
                if key in layout:
                    layout[key].update({"gridcolor": "#EBF0F8", "zerolinecolor": "#EBF0F8",
                                        "linecolor": "#BCC3CF", "showline": True, "ticks": "outside",
                                        "tickcolor": "#BCC3CF"})
        layout.update({"paper_bgcolor": "white", "plot_bgcolor": "white", "hoverlabel": {"align": "left"}})
        return layout

    def _axes(self, i: int) -> tuple[str, str]:
        return ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")

    def _line(self, frame: pd.DataFrame, label: str, key: str, colour: str, width: float,
              dash: str = "solid") -> list[dict[str, Any]]:
        times = frame.index.to_numpy(dtype=float).tolist()
        out = []
        for i, var in enumerate(self.outputs):
            xa, ya = self._axes(i)
            out.append({
                "type": "scatter", "mode": "lines", "x": times, "y": frame[var].to_numpy(float).tolist(),
                "xaxis": xa, "yaxis": ya, "name": label, "legendgroup": key, "showlegend": i == 0,
                "line": {"color": colour, "width": width, "dash": dash},
                "meta": {"variable": var, "run": key},
                "hovertemplate": f"{label}: %{{y:.4g}}<extra></extra>",
            })
        return out

    def _band_traces(self, bands: Bands) -> list[dict[str, Any]]:
        times = bands.times.tolist()
        pairs, median = bands.pairs()
        out: list[dict[str, Any]] = []
        for k, (lo, hi) in enumerate(pairs):
            fill = BAND_FILL[min(k, len(BAND_FILL) - 1)]
            label = f"Uncertainty {lo:g}–{hi:g}%"
            key = f"band:{lo:g}-{hi:g}"
            for i, var in enumerate(self.outputs):
                xa, ya = self._axes(i)
                common = {"type": "scatter", "mode": "lines", "x": times, "xaxis": xa, "yaxis": ya,
                          "legendgroup": key, "line": {"width": 0, "color": fill}, "hoverinfo": "skip"}
                out.append({**common, "y": bands.percentiles[lo][var].tolist(), "showlegend": False,
                            "name": f"{label} (low)", "meta": {"variable": var, "run": key, "edge": "low"}})
                out.append({**common, "y": bands.percentiles[hi][var].tolist(), "showlegend": i == 0,
                            "name": label, "fill": "tonexty", "fillcolor": fill,
                            "meta": {"variable": var, "run": key, "edge": "high"}})
        if median is not None:
            frame = pd.DataFrame({v: bands.percentiles[median][v] for v in self.outputs}, index=bands.times)
            out += self._line(frame, "Median of uncertain runs", "band:median", CURRENT_COLOUR, 1.2, "dot")
        return out

    def figure(self, settings: Settings, show: Sequence[str] = (), bands: Bands | None = None) -> dict[str, Any]:
        """The dashboard: one panel per output; baseline, chosen scenarios, bands and the current setting."""
        data: list[dict[str, Any]] = []
        if bands is not None:
            data += self._band_traces(bands)
        base_label = "Baseline (with --set)" if self.sets else "Baseline (model as is)"
        data += self._line(self.baseline, base_label, BASELINE, BASELINE_COLOUR, 2.0, "dash")
        with self._lock:
            runs = [(n, self.scenarios[n], self._scenario_runs[n]) for n in show if n in self.scenarios]
        colours = run_colours(len(runs) + 1, exclude=(CURRENT_COLOUR, BASELINE_COLOUR))[1:]
        for k, (name, scen, frame) in enumerate(runs):
            colour = colours[k]
            data += self._line(frame, scen.label, f"scenario:{name}", colour, 1.6)
        data += self._line(self.run(settings), "Current setting", "current", CURRENT_COLOUR, 3.0)
        return {"data": data, "layout": dict(self._layout)}
