"""Plotly figures shared by results, reports and the CLI."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

__all__ = ["PALETTE", "run_colours", "trajectories_figure"]

# Okabe-Ito: distinguishable for colour-blind readers.
PALETTE = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#D55E00", "#0072B2", "#CC79A7", "#F0E442"]


#: After the palette: Paul Tol's "safe" colours (plotly's qualitative.Safe), ordered so the first
#: ones are far from the palette's (its greens, light blue and sand come later: near bluish green,
#: sky blue and yellow).
_MORE = ["#332288", "#882255", "#888888", "#AA4499", "#999933", "#661100", "#117733", "#CC6677",
         "#44AA99", "#88CCEE", "#DDCC77"]


def run_colours(n: int, exclude: Sequence[str] = ()) -> list[str]:
    """``n`` colours for ``n`` runs, the first (the baseline) black, no two alike while they last.

    The Okabe-Ito palette, then Tol's safe colours, then plotly's "Dark24" (42 colours after
    black); only past those does a colour come back. ``exclude`` drops colours reserved for
    something else (the explorer's current setting).
    """
    from plotly.colors import qualitative

    drop = {e.upper() for e in exclude}
    seen: list[str] = []
    for c in [*PALETTE[1:], *_MORE, *qualitative.Dark24]:
        if c.upper() not in seen and c.upper() not in drop:
            seen.append(c.upper())
    return ([PALETTE[0]] + [seen[k % len(seen)] for k in range(n - 1)]) if n > 0 else []


def trajectories_figure(
    runs: Mapping[str, pd.DataFrame],
    variables: Sequence[str],
    units: Mapping[str, str] | None = None,
    title: str | None = None,
    columns: int | None = None,
) -> go.Figure:
    """Small multiples: one panel per variable, one line per run (baseline first).

    Parameters
    ----------
    runs
        Label -> DataFrame (index time, columns variables).
    variables
        Variables to draw, one panel each.
    units
        Units by variable, shown in panel titles.
    title
        Figure title.
    columns
        Panels per row (default: 1 for one variable, else 2 or 3).
    """
    units = units or {}
    n = max(len(variables), 1)
    ncols = columns or (1 if n == 1 else 2 if n <= 4 else 3)
    nrows = math.ceil(n / ncols)
    titles = [f"{v} ({units[v]})" if units.get(v) else v for v in variables]
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=titles,
        vertical_spacing=min(0.12, 0.35 / nrows) if nrows > 1 else 0.1,
        horizontal_spacing=0.08,
    )
    colours = run_colours(len(runs))
    for k, (label, frame) in enumerate(runs.items()):
        colour = colours[k]
        for i, var in enumerate(variables):
            if var not in frame.columns:
                continue
            fig.add_trace(
                go.Scatter(
                    x=frame.index.to_numpy(),
                    y=frame[var].to_numpy(),
                    mode="lines",
                    name=label,
                    legendgroup=label,
                    showlegend=i == 0,
                    line={"color": colour, "width": 2.5 if k == 0 else 1.8,
                          "dash": "solid" if k == 0 else None},
                    hovertemplate=f"{label}<br>%{{x:g}}: %{{y:.4g}}<extra>{var}</extra>",
                ),
                row=i // ncols + 1,
                col=i % ncols + 1,
            )
    height = max(340, 260 * nrows + 110)
    top = 110 if title else 80
    fig.update_layout(
        title={"text": title, "y": 1 - 18 / height, "yanchor": "top"} if title else None,
        template="plotly_white",
        height=height,
        # In pixels from the top, so the legend never covers the panel titles.
        legend={"orientation": "h", "yref": "container", "yanchor": "top",
                "y": 1 - (top - 50) / height, "x": 0},
        margin={"l": 55, "r": 20, "t": top, "b": 40},
        font={"size": 13},
    )
    fig.update_annotations(font_size=13)
    return fig
