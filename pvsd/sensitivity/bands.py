"""Uncertainty bands: Monte Carlo percentile envelopes of outputs.

:class:`UncertaintyBands` holds the percentiles of every output over the runs of
an uncertainty analysis, against the baseline run, with the usual
``to_dataframe``/``plot``/``to_csv`` of pvsd's results.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.parameters import ParameterSpace
from pvsd.plotting import PALETTE

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["UncertaintyBands"]


@dataclass(frozen=True)
class UncertaintyBands:
    """Monte Carlo percentile envelopes of outputs, against the baseline run.

    Attributes
    ----------
    bands
        Long table: index ``time``; columns ``variable``, ``baseline``, ``mean``
        and one column per percentile (``p5``, ``p25``, ``p50`` ...).
    baseline
        The baseline run (model's own values plus fixed parameters): index
        ``time``, one column per variable.
    percentiles
        Percentiles computed.
    n
        Number of Monte Carlo runs.
    seed
        Seed of the draw.
    sampling
        ``lhs``, ``sobol`` or ``random``.
    space
        The parameter space sampled.
    model
        Model file name.
    units
        Units by variable.
    provenance
        Model SHA-256, parameter space, seed, versions.
    """

    bands: pd.DataFrame
    baseline: pd.DataFrame
    percentiles: tuple[float, ...]
    n: int
    seed: int | None
    sampling: str
    space: ParameterSpace
    model: str = ""
    units: Mapping[str, str] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def variables(self) -> list[str]:
        return list(dict.fromkeys(self.bands["variable"]))

    @staticmethod
    def column(p: float) -> str:
        """Column name of percentile ``p`` (``p5``, ``p2.5`` ...)."""
        return f"p{p:g}"

    def to_dataframe(self, variable: str | None = None) -> pd.DataFrame:
        """The bands (see :attr:`bands`), optionally of one variable."""
        t = self.bands
        if variable is not None:
            from pvsd.naming import NameIndex

            var = NameIndex(self.variables).resolve(variable, where="bands")
            t = t[t["variable"] == var]
        return t.copy()

    def at(self, time: float) -> pd.DataFrame:
        """Percentiles and baseline of every variable at the saved time nearest ``time``."""
        times = np.unique(self.bands.index.to_numpy(dtype=float))
        t = times[np.abs(times - time).argmin()]
        return self.bands.loc[self.bands.index == t].set_index("variable")

    def plot(self, variables: Sequence[str] | None = None, title: str | None = None) -> go.Figure:
        """Shaded envelopes (outer and inner percentile pairs), median and baseline; one panel per variable."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        vs = list(variables) if variables else self.variables
        n = len(vs)
        ncols = 1 if n == 1 else 2
        nrows = math.ceil(n / ncols)
        titles = [f"{v} ({self.units[v]})" if self.units.get(v) else v for v in vs]
        fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=titles,
                            vertical_spacing=min(0.14, 0.4 / nrows) if nrows > 1 else 0.1)
        pct = list(self.percentiles)
        lows = [p for p in pct if p < 50]
        highs = [p for p in reversed(pct) if p > 50]
        shades = ["rgba(0,114,178,0.15)", "rgba(0,114,178,0.30)", "rgba(0,114,178,0.45)"]
        for i, v in enumerate(vs):
            d = self.to_dataframe(v)
            x = d.index.to_numpy(dtype=float)
            r, c = i // ncols + 1, i % ncols + 1
            for k, (lo, hi) in enumerate(zip(lows, highs, strict=False)):
                label = f"{lo:g}-{hi:g}th percentile"
                fig.add_trace(go.Scatter(x=x, y=d[self.column(hi)], mode="lines", line={"width": 0},
                                         showlegend=False, legendgroup=label, hoverinfo="skip"), row=r, col=c)
                fig.add_trace(go.Scatter(x=x, y=d[self.column(lo)], mode="lines", line={"width": 0},
                                         fill="tonexty", fillcolor=shades[min(k, len(shades) - 1)],
                                         name=label, legendgroup=label, showlegend=i == 0,
                                         hoverinfo="skip"), row=r, col=c)
            if 50.0 in pct:
                fig.add_trace(go.Scatter(x=x, y=d["p50"], mode="lines", name="median",
                                         line={"color": PALETTE[5], "width": 2}, legendgroup="median",
                                         showlegend=i == 0,
                                         hovertemplate="median %{x:g}: %{y:.4g}<extra></extra>"), row=r, col=c)
            fig.add_trace(go.Scatter(x=x, y=d["baseline"], mode="lines", name="baseline",
                                     line={"color": "#000000", "width": 2, "dash": "dash"},
                                     legendgroup="baseline", showlegend=i == 0,
                                     hovertemplate="baseline %{x:g}: %{y:.4g}<extra></extra>"), row=r, col=c)
        fig.update_layout(template="plotly_white", height=max(340, 280 * nrows + 80),
                          title=title or f"Uncertainty bands ({self.n} runs)",
                          legend={"orientation": "h", "y": 1.02 + 0.03 / nrows, "yanchor": "bottom", "x": 0},
                          margin={"l": 50, "r": 20, "t": 100, "b": 40}, font={"size": 13})
        return fig

    def to_csv(self, path: str | Path, force: bool = False) -> Path:
        """Write :attr:`bands` as CSV with provenance header lines (atomic)."""
        from pvsd.io import write_csv

        return write_csv(path, self.bands, self.provenance, force=force)

    def summary(self) -> str:
        """Plain-language range of each variable at the final time."""
        t_end = float(self.bands.index.max())
        lo, hi = self.column(min(self.percentiles)), self.column(max(self.percentiles))
        rows = self.at(t_end)
        parts = []
        for v in self.variables:
            r = rows.loc[v]
            parts.append(f"{v} ends between {r[lo]:.3g} and {r[hi]:.3g} "
                         f"(baseline {r['baseline']:.3g}, median {r.get('p50', r['mean']):.3g})")
        return (f"In {self.n} runs drawn from the parameter distributions, by {t_end:g} "
                f"({min(self.percentiles):g}th to {max(self.percentiles):g}th percentile): "
                + "; ".join(parts) + ".")

    def _repr_html_(self) -> str:
        t_end = float(self.bands.index.max())
        return (f"<p><b>UncertaintyBands</b> of <code>{html.escape(self.model)}</code>: {self.n} runs "
                f"({self.sampling}), seed {self.seed}; values at {t_end:g}:</p>"
                + self.at(t_end).to_html(float_format=lambda v: f"{v:.4g}"))

    def __repr__(self) -> str:
        return (f"UncertaintyBands(model={self.model!r}, variables={self.variables}, n={self.n}, "
                f"percentiles={list(self.percentiles)})")
