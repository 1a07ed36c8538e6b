"""The frozen result of a loop analysis, its tables and figures."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from pvsd.naming import NameIndex

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from pvsd.results import RunResult

__all__ = ["DOMINANCE_SHARE", "LoopResult"]

#: A set of loops dominates when it explains at least this share of the change (the LTM definition).
DOMINANCE_SHARE = 0.5

#: Colours: reinforcing loops in blues/greens, balancing loops in oranges/reds (colour-blind safe).
_R_COLOURS = ["#0072B2", "#009E73", "#56B4E9", "#332288", "#117733", "#44AA99"]
_B_COLOURS = ["#D55E00", "#E69F00", "#CC79A7", "#AA4499", "#882255", "#DDCC77"]


def _arrow(names: Sequence[str]) -> str:
    return " → ".join(names) + " → " + names[0] if names else ""


@dataclass(frozen=True)
class LoopResult:
    """Feedback loops of a model, their polarity and their dominance over one run.

    Attributes
    ----------
    model, model_file
        Model name (stem) and file name.
    loops
        One row per loop: ``id`` (stable for a model and search settings),
        ``name`` (the modeller's name for the loop, from the loop-names file;
        empty when unnamed), ``meaning`` (what the loop does, from the same file),
        ``polarity`` (``R`` reinforcing, ``B`` balancing, ``U`` undetermined),
        ``length`` (variables), ``variables`` (in causal order, tuple),
        ``stocks``, ``partition`` (cycle partition: loops are compared within
        one), ``mean_relative_score`` (signed mean over the run),
        ``mean_abs_relative_score``, ``max_abs_relative_score``,
        ``polarity_changes`` (the loop's score changes sign during the run),
        ``active_share`` (share of time steps with a non-zero score).
    scores
        Relative loop scores: index ``time`` (every TIME STEP), one column per
        loop id, values in [-1, 1] (positive: reinforcing at that time). The
        initial time has no score (NaN).
    loop_scores
        The loop scores themselves (same shape; can be very large near
        inflection points).
    link_scores
        Link scores of the links in the loops, one column per ``"x -> z"``.
    run
        The run analysed (saved at every TIME STEP).
    method
        ``"enumeration"`` or ``"strongest_path"``.
    message
        One-sentence summary (says when there are no loops).
    notes
        Methods and limitations that apply to this analysis.
    graph
        The causal graph (``networkx.DiGraph`` on model-file names).
    link_polarity
        ``(x, z) -> +1/-1`` (0 never observed, 2 both signs) for scored links.
    scenario
        Scenario name, or None for the model's own settings.
    time_step
        TIME STEP of the analysis.
    provenance
        Provenance of the run.
    """

    model: str
    model_file: str
    loops: pd.DataFrame
    scores: pd.DataFrame
    loop_scores: pd.DataFrame
    link_scores: pd.DataFrame
    run: RunResult
    method: str
    message: str
    notes: tuple[str, ...] = ()
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    link_polarity: Mapping[tuple[str, str], int] = field(default_factory=dict)
    scenario: str | None = None
    time_step: float = math.nan
    provenance: Mapping[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ tables
    @property
    def times(self) -> np.ndarray:
        """Times of the scores (every TIME STEP)."""
        return self.scores.index.to_numpy(dtype=float)

    @property
    def ids(self) -> list[str]:
        """Loop ids in table order."""
        return self.loops["id"].tolist()

    def loop(self, loop_id: str) -> pd.Series:
        """The table row of one loop."""
        rows = self.loops[self.loops["id"] == loop_id]
        if rows.empty:
            import difflib

            from pvsd.errors import ParameterError

            ids = list(self.ids)
            close = difflib.get_close_matches(str(loop_id), ids, n=5, cutoff=0.5)
            shown = ", ".join(close or ids[:10]) or "none"
            more = "" if close or len(ids) <= 10 else f" ... ({len(ids)} in all; `pvsd loops MODEL` lists them)"
            raise ParameterError(
                f"No loop {loop_id!r} in this model; {'closest ids' if close else 'loop ids'}: {shown}{more}."
            )
        return rows.iloc[0]

    def name(self, loop_id: str) -> str:
        """The modeller's name of a loop ("" when it has none)."""
        if "name" not in self.loops.columns:
            return ""
        return str(self.loop(loop_id)["name"] or "")

    def label(self, loop_id: str, width: int | None = None) -> str:
        """``"L0305 R6 Output-evaluation complacency"``, or the bare id of an unnamed loop.

        ``width`` shortens long names (with an ellipsis) for legends.
        """
        name = self.name(loop_id)
        if width is not None and len(name) > width:
            name = name[: width - 1].rstrip() + "…"
        return f"{loop_id} {name}" if name else loop_id

    def table(self) -> pd.DataFrame:
        """The loop table for people: variables as one ``a → b → a`` string, scores rounded."""
        t = self.loops.copy()
        t["variables"] = [_arrow(v) for v in t["variables"]]
        t["stocks"] = [", ".join(s) for s in t["stocks"]]
        t["dominant_share"] = [self.dominant_share(i) for i in t["id"]]
        return t

    def to_dataframe(self) -> pd.DataFrame:
        """Relative and raw loop scores in long form: time, id, polarity, relative_score, loop_score."""
        if not self.ids:
            return pd.DataFrame(columns=["time", "id", "polarity", "relative_score", "loop_score"])
        rel = self.scores.reset_index().melt(id_vars="time", var_name="id", value_name="relative_score")
        raw = self.loop_scores.reset_index().melt(id_vars="time", var_name="id", value_name="loop_score")
        out = rel.merge(raw, on=["time", "id"])
        pol = dict(zip(self.loops["id"], self.loops["polarity"], strict=True))
        out.insert(2, "polarity", out["id"].map(pol))
        return out

    def dominant(self, time: float) -> list[str]:
        """Ids of the loops that dominate at ``time`` (nearest score time), strongest first.

        The dominant set is the smallest set of loops of a partition whose
        relative scores add up (in absolute value) to at least 50% (the LTM
        definition of dominance).
        """
        if not self.ids:
            return []
        idx = int(np.abs(self.times - float(time)).argmin())
        return self._dominant_at(idx)

    @cached_property
    def dominant_mask(self) -> pd.DataFrame:
        """Boolean frame like :attr:`scores`: the loop is in the dominant set at that time."""
        rel = np.nan_to_num(np.abs(self.scores.to_numpy(dtype=float)), nan=0.0)
        mask = np.zeros(rel.shape, dtype=bool)
        parts = self.loops["partition"].to_numpy()
        for p in np.unique(parts):
            cols = np.flatnonzero(parts == p)
            a = rel[:, cols]
            order = np.argsort(-a, axis=1, kind="stable")
            srt = np.take_along_axis(a, order, axis=1)
            before = np.cumsum(srt, axis=1) - srt
            keep = (before < DOMINANCE_SHARE) & (srt > 0)
            sub = np.zeros(a.shape, dtype=bool)
            np.put_along_axis(sub, order, keep, axis=1)
            mask[:, cols] = sub
        return pd.DataFrame(mask, index=self.scores.index, columns=self.scores.columns)

    def _dominant_at(self, idx: int) -> list[str]:
        row = self.dominant_mask.iloc[idx]
        ids = [str(i) for i in row.index[row.to_numpy()]]
        strength = self.scores.iloc[idx].abs()
        return sorted(ids, key=lambda i: (-float(strength[i]), i))

    def dominance(self) -> pd.DataFrame:
        """Periods of dominance: start, end, dominant loops and their polarities.

        Consecutive time steps with the same dominant set form one period.
        """
        cols = ["start", "end", "dominant", "polarity", "mean_share"]
        if not self.ids or len(self.times) < 2:
            return pd.DataFrame(columns=cols)
        pol = dict(zip(self.loops["id"], self.loops["polarity"], strict=True))
        t = self.times
        rows: list[dict[str, Any]] = []
        current: tuple[str, ...] | None = None
        start = 1
        m = self.dominant_mask.to_numpy()
        ids = np.asarray(self.ids)
        sets = [tuple(ids[m[i]]) for i in range(len(t))]
        for i in range(1, len(t) + 1):
            s = sets[i] if i < len(t) else None
            if i == len(t) or s != current:
                if current is not None and i > start:
                    block = self.scores.iloc[start:i][list(current)].abs()
                    share = float(block.sum(axis=1).mean()) if current else 0.0
                    current = tuple(sorted(current, key=lambda c: (-float(block[c].mean()), c)))
                    rows.append({
                        "start": float(t[start]) - self.time_step, "end": float(t[i - 1]),
                        "dominant": ", ".join(current) if current else "(no active loop)",
                        "polarity": ", ".join(pol[c] for c in current),
                        "mean_share": share,
                    })
                current, start = s, i
        return pd.DataFrame(rows, columns=cols)

    def leading(self, period: float | None = None) -> pd.DataFrame:
        """Periods in which one loop has the largest |relative score|: start, end, id, name, polarity, mean_share.

        A coarser view than :meth:`dominance` for models with many loops. With
        ``period`` (e.g. one year), the run is cut into intervals of that length
        and each interval's leader is the loop with the largest mean |score| in it,
        so periods start and end on whole intervals (2000-2003, not 2000-2000.41).
        """
        cols = ["start", "end", "id", "name", "polarity", "mean_share"]
        if not self.ids or len(self.times) < 2:
            return pd.DataFrame(columns=cols)
        if period is not None and period > self.time_step * 1.5:
            return self._leading_binned(float(period), cols)
        rel = self.scores.iloc[1:]
        a = rel.abs().fillna(0.0).to_numpy()
        best = np.where(a.max(axis=1) > 0, a.argmax(axis=1), -1)
        t = self.times[1:]
        pol = dict(zip(self.loops["id"], self.loops["polarity"], strict=True))
        rows = []
        start = 0
        for i in range(1, len(t) + 1):
            if i == len(t) or best[i] != best[start]:
                if best[start] >= 0:
                    lid = self.ids[best[start]]
                    rows.append({"start": float(t[start]) - self.time_step, "end": float(t[i - 1]), "id": lid,
                                 "name": self.name(lid), "polarity": pol[lid],
                                 "mean_share": float(a[start:i, best[start]].mean())})
                start = i
        return pd.DataFrame(rows, columns=cols)

    def _leading_binned(self, period: float, cols: list[str]) -> pd.DataFrame:
        a_all = self.scores.iloc[1:].abs().fillna(0.0)
        t = np.asarray(self.times[1:], dtype=float)
        t0 = float(self.times[0])
        k = np.floor((t - t0 - 1e-9 * period) / period).astype(int)  # step ending at t0+period is in bin 0
        pol = dict(zip(self.loops["id"], self.loops["polarity"], strict=True))
        bins = []
        for b in np.unique(k):
            m = a_all.to_numpy()[k == b].mean(axis=0)
            j = int(m.argmax()) if m.max() > 0 else -1
            bins.append((t0 + b * period, min(t0 + (b + 1) * period, float(t[-1])), j, float(m.max())))
        rows: list[dict[str, Any]] = []
        for start, end, j, share in bins:
            if j < 0:
                continue
            lid = self.ids[j]
            if rows and rows[-1]["id"] == lid and abs(rows[-1]["end"] - start) < 1e-9:
                n = rows[-1]["_n"]
                rows[-1].update(end=end, mean_share=(rows[-1]["mean_share"] * n + share) / (n + 1), _n=n + 1)
            else:
                rows.append({"start": start, "end": end, "id": lid, "name": self.name(lid), "polarity": pol[lid],
                             "mean_share": share, "_n": 1})
        return pd.DataFrame(rows, columns=cols)

    def dominant_share(self, loop_id: str) -> float:
        """Share of the run's time steps at which ``loop_id`` is in the dominant set."""
        if len(self.times) < 2 or loop_id not in self.dominant_mask.columns:
            return 0.0
        return float(self.dominant_mask[loop_id].iloc[1:].mean())

    def summary(self) -> str:
        """A few sentences for a reader: loops found, which dominate when."""
        lines = [self.message]
        for r in self.dominance().itertuples(index=False):
            lines.append(f"{r.start:g}-{r.end:g}: {r.dominant} ({r.polarity}) explain "
                         f"{100 * r.mean_share:.0f}% of the change.")
        return "\n".join(lines)

    def top(self, k: int = 8) -> list[str]:
        """The ``k`` loops with the largest mean |relative score|."""
        if not self.ids:
            return []
        order = self.loops.sort_values(["mean_abs_relative_score", "id"], ascending=[False, True])
        return order["id"].head(k).tolist()

    # ------------------------------------------------------------------ figures
    def _colours(self) -> dict[str, str]:
        out, nr, nb = {}, 0, 0
        for r in self.loops.sort_values(["mean_abs_relative_score", "id"],
                                        ascending=[False, True]).itertuples(index=False):
            if r.polarity == "R":
                out[r.id] = _R_COLOURS[nr % len(_R_COLOURS)]
                nr += 1
            else:
                out[r.id] = _B_COLOURS[nb % len(_B_COLOURS)] if r.polarity == "B" else "#777777"
                nb += r.polarity == "B"
        return out

    def default_variable(self) -> str | None:
        """The variable plotted under the scores by default: the stock in most of the top loops
        (None for a model whose run has no variables at all)."""
        counts: dict[str, float] = {}
        for r in self.loops.itertuples(index=False):
            for s in r.stocks:
                counts[s] = counts.get(s, 0.0) + r.mean_abs_relative_score
        if counts:
            return max(sorted(counts), key=lambda s: counts[s])
        stocks = [c for c in self.run.data.columns if self.graph.nodes.get(c, {}).get("kind") == "stock"]
        if stocks:
            return stocks[0]
        return str(self.run.data.columns[0]) if len(self.run.data.columns) else None

    def plot(self, variable: str | None = None, top: int = 8, title: str | None = None) -> go.Figure:
        """Relative loop scores over time above the trajectory of a variable.

        Parameters
        ----------
        variable
            Variable drawn in the lower panel (default: :meth:`default_variable`).
        top
            Loops drawn individually (largest mean |relative score|); the others
            are summed into one "other loops" line per polarity.
        title
            Figure title.
        """
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        var = NameIndex(self.run.data.columns, model=self.model_file).resolve(
            variable, where="plot") if variable else self.default_variable()
        if var is None:
            from pvsd.errors import UnsupportedModelError

            raise UnsupportedModelError(
                f"{self.model_file}: the model has no variables that change over time (no stocks, "
                "flows or auxiliaries in its run), so there are no loop scores or trajectory to "
                "plot.")
        units = self.run.units.get(var, "")
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.62, 0.38],
                            vertical_spacing=0.08,
                            subplot_titles=("Relative loop score (+ reinforcing, − balancing)",
                                            f"{var} ({units})" if units else var))
        t = self.times
        colours = self._colours()
        shown = self.top(top)
        for lid in shown:
            row = self.loop(lid)
            fig.add_trace(go.Scatter(
                x=t, y=self.scores[lid].to_numpy(), mode="lines", name=f"{self.label(lid, 30)} ({row['polarity']})",
                line={"color": colours.get(lid, "#777"), "width": 2.2,
                      "dash": "solid" if row["polarity"] == "R" else "dot" if row["polarity"] == "U"
                      else "dash"},
                hovertemplate=(f"<b>{html.escape(self.label(lid))} ({row['polarity']})</b><br>"
                               f"{html.escape(_arrow(list(row['variables'])))}<br>"
                               "t=%{x:.4g}: %{y:.1%}<extra></extra>"),
            ), row=1, col=1)
        rest = [i for i in self.ids if i not in shown]
        if rest:
            other = self.scores[rest]
            for sign, label in ((1, "other reinforcing"), (-1, "other balancing")):
                s = other.where(np.sign(other) == sign, 0.0).sum(axis=1)
                if (s.abs() > 1e-9).any():
                    fig.add_trace(go.Scatter(
                        x=t, y=s.to_numpy(), mode="lines", name=f"{label} loops (sum)",
                        line={"color": "#999999", "width": 1.4, "dash": "solid" if sign > 0 else "dash"},
                        hovertemplate=label + " loops: %{y:.1%}<extra></extra>"), row=1, col=1)
        if not shown:
            fig.add_annotation(text="No feedback loops", x=0.5, y=0.8, xref="paper", yref="paper",
                               showarrow=False, font={"size": 16, "color": "#5b6475"})
        fig.add_trace(go.Scatter(x=self.run.times, y=self.run.data[var].to_numpy(), mode="lines",
                                 name=var, line={"color": "#000000", "width": 2.2}, showlegend=False,
                                 hovertemplate=f"{html.escape(var)}: %{{y:.4g}} at t=%{{x:.4g}}<extra></extra>"),
                      row=2, col=1)
        shapes = [
            {"type": "rect", "xref": "x2", "yref": "y2 domain", "x0": p.start, "x1": p.end, "y0": 0, "y1": 1,
             "fillcolor": colours.get(p.id, "#ccc"), "opacity": 0.10, "line": {"width": 0}, "layer": "below"}
            for p in self.leading().itertuples(index=False)]
        fig.update_layout(shapes=shapes)
        fig.update_yaxes(range=[-1.05, 1.05], tickformat=".0%", zeroline=True, zerolinecolor="#888",
                         row=1, col=1)
        fig.update_xaxes(title_text="time", row=2, col=1)
        fig.update_layout(template="plotly_white", height=620, font={"size": 13},
                          title=title or f"{self.model}: which feedback loops drive behaviour"
                          + (f" ({self.scenario})" if self.scenario else ""),
                          legend={"orientation": "v", "x": 1.02, "y": 1, "font": {"size": 12}},
                          margin={"l": 70, "r": 30, "t": 80, "b": 50}, hovermode="closest")
        return fig

    def cld(self, loops: Sequence[str] | None = None, top: int = 4, title: str | None = None) -> go.Figure:
        """Causal-loop diagram of the dominant loops.

        Parameters
        ----------
        loops
            Loop ids to draw (default: every loop that is ever dominant, at most
            ``top``, else the ``top`` loops by mean |relative score|).
        top
            Most loops drawn by default.
        title
            Figure title.

        Notes
        -----
        Arrows carry the link polarity observed in the run (+ or −); stocks are
        drawn as boxes. Each loop's label (id, R/B, mean share) sits at its centre.
        """
        import plotly.graph_objects as go

        chosen = list(loops) if loops is not None else self._cld_default(top)
        for lid in chosen:
            self.loop(lid)
        fig = go.Figure()
        if not chosen:
            fig.add_annotation(text="No feedback loops to draw", x=0.5, y=0.5, xref="paper", yref="paper",
                               showarrow=False, font={"size": 16, "color": "#5b6475"})
            fig.update_layout(template="plotly_white", height=300, xaxis={"visible": False},
                              yaxis={"visible": False})
            return fig
        sub = nx.DiGraph()
        for lid in chosen:
            names = list(self.loop(lid)["variables"])
            nx.add_cycle(sub, names)
        pos = _layout(sub, list(self.loop(chosen[0])["variables"]) if len(chosen) == 1 else None)
        colours = self._colours()
        edge_loop: dict[tuple[str, str], str] = {}
        for lid in reversed(chosen):
            names = list(self.loop(lid)["variables"])
            for a, b in zip(names, names[1:] + names[:1], strict=True):
                edge_loop[(a, b)] = lid
        for (a, b), lid in edge_loop.items():
            (x0, y0), (x1, y1) = pos[a], pos[b]
            bend = 0.06 if sub.has_edge(b, a) else 0.0
            mx, my = (x0 + x1) / 2 - bend * (y1 - y0) * 4, (y0 + y1) / 2 + bend * (x1 - x0) * 4
            p = self.link_polarity.get((a, b), 0)
            sign_txt = {1: "+", -1: "−"}.get(p, "±")
            fig.add_annotation(x=x1, y=y1, ax=mx, ay=my, xref="x", yref="y", axref="x", ayref="y",
                               showarrow=True, arrowhead=3, arrowsize=1.3, arrowwidth=1.8, standoff=28,
                               arrowcolor=colours.get(lid, "#777"), text="")
            fig.add_shape(type="line", x0=x0, y0=y0, x1=mx, y1=my, line={"color": colours.get(lid, "#777"),
                                                                       "width": 1.8}, layer="below")
            fig.add_annotation(x=(mx * 2 + x1) / 3, y=(my * 2 + y1) / 3, text=f"<b>{sign_txt}</b>",
                               showarrow=False, font={"size": 15, "color": colours.get(lid, "#777")},
                               bgcolor="rgba(255,255,255,0.85)")
        kinds = nx.get_node_attributes(self.graph, "kind")
        for name, (x, y) in pos.items():
            stock = kinds.get(name) == "stock"
            fig.add_annotation(x=x, y=y, text=_wrap(name), showarrow=False,
                               font={"size": 12.5, "color": "#1d2433"},
                               bgcolor="#eef3fb" if stock else "rgba(255,255,255,0.92)",
                               bordercolor="#10243e" if stock else "rgba(0,0,0,0)", borderwidth=1.5 if stock else 0,
                               borderpad=5)
        for lid in chosen:
            row = self.loop(lid)
            names = list(row["variables"])
            cx = float(np.mean([pos[n][0] for n in names]))
            cy = float(np.mean([pos[n][1] for n in names]))
            share = row["mean_abs_relative_score"]
            code = re.match(r"[RB]\d+\b", self.name(lid))  # "R1" of "R1 Trust-capability engine"
            fig.add_annotation(x=cx, y=cy, text=f"<b>{lid} {row['polarity']}</b>"
                                                + (f" ({code.group(0)})" if code else "")
                                                + f"<br>{100 * share:.0f}%",
                               showarrow=False, font={"size": 13, "color": colours.get(lid, "#777")},
                               bgcolor="rgba(255,255,255,0.7)")
        xs = [p[0] for p in pos.values()]
        ys = [p[1] for p in pos.values()]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", marker={"size": 1, "color": "rgba(0,0,0,0)"},
                                 hovertext=list(pos), hoverinfo="text", showlegend=False))
        pad = 0.25
        fig.update_layout(
            template="plotly_white", height=640, showlegend=False,
            title=title or "Causal-loop diagram of the dominant loops",
            xaxis={"visible": False, "range": [min(xs) - pad, max(xs) + pad]},
            yaxis={"visible": False, "range": [min(ys) - pad, max(ys) + pad], "scaleanchor": "x"},
            margin={"l": 20, "r": 20, "t": 60, "b": 20}, font={"size": 13},
        )
        return fig

    def _cld_default(self, top: int) -> list[str]:
        if not self.ids:
            return []
        counts = self.dominant_mask.iloc[1:].sum(axis=0)
        ever = {str(k): int(v) for k, v in counts.items() if v > 0}
        chosen = sorted(ever, key=lambda k: (-ever[k], k))[:top]
        if len(chosen) < min(2, len(self.ids)):
            chosen += [i for i in self.top(top) if i not in chosen][: top - len(chosen)]
        return chosen

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return (f"LoopResult(model={self.model!r}, scenario={self.scenario!r}, loops={len(self.ids)}, "
                f"method={self.method!r}, times={len(self.times)})")

    def _repr_html_(self) -> str:
        head = f"<p><b>Loops</b> of <code>{html.escape(self.model_file)}</code>: {html.escape(self.message)}</p>"
        if not self.ids:
            return head
        t = self.table()[["id", "name", "polarity", "length", "variables", "mean_relative_score",
                          "dominant_share", "polarity_changes"]]
        return head + t.head(30).to_html(index=False, float_format=lambda v: f"{v:.3g}") + (
            f"<p>... and {len(t) - 30} more loops</p>" if len(t) > 30 else "")


def _wrap(name: str, width: int = 16) -> str:
    words, lines, cur = name.split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    lines.append(cur)
    return "<br>".join(html.escape(x) for x in lines)


def _layout(g: nx.DiGraph, order: list[str] | None = None) -> dict[str, tuple[float, float]]:
    """Node positions: a circle (clockwise in causal order) for one loop, else Kamada-Kawai."""
    if g.number_of_nodes() <= 2:
        nodes = list(g.nodes)
        return {n: (float(i) - 0.5 * (len(nodes) - 1), 0.0) for i, n in enumerate(nodes)}
    und = g.to_undirected()
    if order is not None:
        ang = np.linspace(np.pi / 2, np.pi / 2 - 2 * np.pi, len(order), endpoint=False)
        return {n: (float(np.cos(a)), float(np.sin(a))) for n, a in zip(order, ang, strict=True)}
    try:
        pos = nx.kamada_kawai_layout(und)
    except Exception:  # scipy missing or a degenerate graph
        pos = nx.spring_layout(und, seed=1)
    names = list(pos)
    xy = np.array([pos[n] for n in names], dtype=float)
    xy -= xy.mean(axis=0)
    xy *= 2.0 / max(float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1])), 1e-9)
    return dict(zip(names, map(tuple, _spread(xy)), strict=True))


def _spread(xy: np.ndarray, min_dist: float = 0.5, rounds: int = 300) -> np.ndarray:
    """Push apart nodes closer than ``min_dist`` (labels must not overlap); deterministic."""
    xy = xy.copy()
    n = len(xy)
    for _ in range(rounds):
        moved = False
        for i in range(n):
            for j in range(i + 1, n):
                d = xy[j] - xy[i]
                dist = float(np.hypot(*d))
                if dist < min_dist:
                    u = d / dist if dist > 1e-9 else np.array([np.cos(i + j), np.sin(i + j)])
                    push = 0.5 * (min_dist - dist) + 1e-3
                    xy[i] -= u * push
                    xy[j] += u * push
                    moved = True
        if not moved:
            break
    return xy
