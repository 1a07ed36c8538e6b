"""Typed, frozen results of sensitivity studies (uncertainty bands: :mod:`pvsd.sensitivity.bands`).

Every result has a fixed schema. :meth:`SensitivityResult.to_dataframe` gives one
row per parameter (or group) and outcome — and per saved time for trajectory
outcomes — indexed by ``parameter`` with the columns

``outcome, time, <the method's indices and interval half-widths>, converged``

where ``time`` is NaN for scalar outcomes (final value, value in a year, mean
over a period, threshold crossing time) and the method's columns are

=========  =========================================
sobol      S1, S1_conf, ST, ST_conf
fast       S1, S1_conf, ST, ST_conf
morris     mu, mu_star, mu_star_conf, sigma
delta      delta, delta_conf, S1, S1_conf
=========  =========================================

``*_conf`` columns are half-widths of the bootstrap confidence interval (SALib's
convention): the interval is ``S1 ± S1_conf``. ``converged`` is true when every
interval of the row is at most ``tolerance`` wide (for Morris, relative to the
largest mu* of that outcome and time).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from pvsd.errors import SpecError
from pvsd.parameters import ParameterSpace
from pvsd.plotting import PALETTE, run_colours
from pvsd.sensitivity.bands import UncertaintyBands
from pvsd.sensitivity.methods import Method, get_method
from pvsd.sensitivity.spec import Outcome

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "DeltaResult",
    "FastResult",
    "MorrisResult",
    "SensitivityResult",
    "SobolResult",
    "UncertaintyBands",
    "flag_convergence",
    "result_class",
]


def flag_convergence(table: pd.DataFrame, method: Method, tolerance: float) -> pd.Series:
    """Whether each row's confidence intervals are at most ``tolerance`` wide.

    The width of an interval is twice its half-width (``*_conf``). For methods
    with unscaled indices (Morris) the width is divided by the largest index of
    the same outcome and time. Rows whose index is undefined (an outcome that
    does not vary) count as converged.
    """
    ok = pd.Series(True, index=table.index)
    if table.empty:
        return ok
    for idx, conf in method.intervals:
        width = 2 * table[conf].astype(float)
        if method.relative_tolerance:
            keys = [table["outcome"], table["time"].fillna(-np.inf)]
            scale = table[idx].abs().groupby(keys).transform("max").to_numpy()
            width = width / np.where(scale > 0, scale, np.inf)
        ok &= ~(width > tolerance)  # NaN widths pass
    return ok


@dataclass(frozen=True)
class SensitivityResult:
    """Indices of one sensitivity study (a subclass per method).

    Attributes
    ----------
    table
        The indices in long form (see :meth:`to_dataframe`).
    outcomes
        The analysed outcomes, variable names as in the model file.
    space
        The parameter space sampled.
    n
        Sample size (meaning depends on the method, see :attr:`method_info`).
    runs
        Number of model runs.
    seed
        Seed of the design and the bootstrap.
    samples
        Parameter values of every run (one column per sampled parameter).
    values
        Scalar outcome values of every run (one column per outcome label).
    second_order
        Sobol with ``second_order=True``: long table of S2 and S2_conf by
        outcome and parameter pair; otherwise None.
    tolerance
        Largest acceptable interval width (see :func:`flag_convergence`).
    conf_level
        Confidence level of the intervals.
    history
        One row per sample size tried: n, runs, widest interval, number of
        unconverged indices.
    notes
        Things the analyst should know (outcomes that did not vary, runs that
        never crossed a threshold ...).
    model
        Model file name.
    units
        Units of the outcome variables.
    timings
        Seconds spent running the model and analysing.
    provenance
        Model SHA-256, parameter space, seed, method, versions.
    """

    table: pd.DataFrame
    outcomes: tuple[Outcome, ...]
    space: ParameterSpace
    n: int
    runs: int
    seed: int | None
    samples: pd.DataFrame
    values: pd.DataFrame
    second_order: pd.DataFrame | None = None
    tolerance: float = 0.1
    conf_level: float = 0.95
    history: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: tuple[str, ...] = ()
    model: str = ""
    units: Mapping[str, str] = field(default_factory=dict)
    timings: Mapping[str, float] = field(default_factory=dict)
    provenance: Mapping[str, Any] = field(default_factory=dict)

    method: ClassVar[str] = ""

    # ------------------------------------------------------------------ schema
    @property
    def method_info(self) -> Method:
        """The :class:`~pvsd.sensitivity.methods.Method` that produced this result."""
        return get_method(self.method)

    @property
    def columns(self) -> tuple[str, ...]:
        """The method's index columns."""
        return self.method_info.columns

    @property
    def main(self) -> str:
        """The index used to rank parameters (ST, mu_star or delta)."""
        return self.method_info.main

    @property
    def factors(self) -> list[str]:
        """Parameters (or groups) analysed, in spec order."""
        return list(dict.fromkeys(self.table.index)) if not self.table.empty else self.space.factors

    @property
    def scalar_outcomes(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.is_trajectory]

    @property
    def trajectory_outcomes(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.is_trajectory]

    def outcome(self, name: str | Outcome | None = None) -> Outcome:
        """Find an outcome by label or variable name (default: the first scalar one)."""
        if isinstance(name, Outcome):
            return name
        if name is None:
            return (self.scalar_outcomes or list(self.outcomes))[0]
        from pvsd.naming import normalize

        for o in self.outcomes:
            if normalize(o.label) == normalize(name):
                return o
        by_var = [o for o in self.outcomes if normalize(o.variable) == normalize(name)]
        if by_var:
            scalar = [o for o in by_var if not o.is_trajectory]
            return (scalar or by_var)[0]
        raise SpecError(
            f"No outcome {name!r} in this result; outcomes: {', '.join(o.label for o in self.outcomes)}."
        )

    def to_dataframe(self, outcome: str | Outcome | None = None) -> pd.DataFrame:
        """The indices: index ``parameter``; columns ``outcome``, ``time``, the method's
        indices and half-widths, ``converged`` (see the module documentation).

        Parameters
        ----------
        outcome
            Only this outcome (label or variable name); default all.
        """
        t = self.table
        if outcome is not None:
            t = t[t["outcome"] == self.outcome(outcome).label]
        return t.copy()

    def indices(self, outcome: str | Outcome | None = None) -> pd.DataFrame:
        """Indices of one scalar outcome (default: the first), one row per parameter."""
        o = self.outcome(outcome)
        t = self.to_dataframe(o)
        if o.is_trajectory:
            t = t[t["time"] == t["time"].max()]
        return t[[*self.columns, "converged"]]

    def over_time(self, outcome: str | Outcome | None = None, index: str | None = None) -> pd.DataFrame:
        """A time-varying index: rows are saved times, columns parameters."""
        o = self.outcome(outcome if outcome is not None else (self.trajectory_outcomes or [None])[0])
        if not o.is_trajectory:
            raise SpecError(f"Outcome {o.label!r} is not a trajectory; add stat = \"trajectory\" to the spec.")
        index = index or self.main
        if index not in self.columns:
            raise SpecError(f"Index {index!r} is not one of {', '.join(self.columns)}.")
        t = self.to_dataframe(o).reset_index()
        wide = t.pivot_table(index="time", columns="parameter", values=index, aggfunc="first", dropna=False)
        return wide.reindex(columns=self.factors)

    def ranking(self, outcome: str | Outcome | None = None) -> list[str]:
        """Parameters from most to least influential (by :attr:`main`)."""
        ind = self.indices(outcome)[self.main].astype(float)
        return list(ind.fillna(-np.inf).sort_values(ascending=False, kind="stable").index)

    @property
    def converged(self) -> bool:
        """Whether every index is within the tolerance (see :func:`flag_convergence`)."""
        return bool(self.table["converged"].all()) if not self.table.empty else True

    def unconverged(self) -> pd.DataFrame:
        """Rows whose confidence intervals are wider than the tolerance."""
        return self.table[~self.table["converged"]].copy()

    # ------------------------------------------------------------------ text
    def summary(self, top: int = 3) -> str:
        """A plain-language summary of the top drivers of every outcome."""
        paras = [self._summary_outcome(o, top) for o in self.outcomes]
        bad = self.unconverged()
        if bad.empty:
            paras.append(
                f"All {len(self.table)} indices are estimated precisely enough: every "
                f"{self.conf_level:.0%} interval is at most {self.tolerance:g} wide "
                f"(n = {self.n}, {self.runs:,} runs)."
            )
        else:
            paras.append(
                f"{len(bad)} of {len(self.table)} indices are not yet precise (their "
                f"{self.conf_level:.0%} interval is wider than {self.tolerance:g}); rerun with a "
                f"larger n (now {self.n}) or until_converged=True before relying on them."
            )
        paras.extend(self.notes)
        return "\n\n".join(paras)

    def _summary_outcome(self, o: Outcome, top: int) -> str:
        if o.is_trajectory:
            return self._summary_time(o)
        ind = self.indices(o)
        if ind[self.main].isna().all():
            return f"{o.describe().capitalize()} did not vary across runs, so no parameter influences it."
        ranked = self.ranking(o)
        return self._describe_ranking(o, ind, ranked, top)

    def _describe_ranking(self, o: Outcome, ind: pd.DataFrame, ranked: list[str], top: int) -> str:
        head = ranked[:top]
        parts = [f"{p} ({self.main} = {ind.loc[p, self.main]:.2f})" for p in head]
        return f"For {o.describe()}, the most influential parameters are " + ", ".join(parts) + "."

    def _summary_time(self, o: Outcome) -> str:
        wide = self.over_time(o).dropna(how="all")
        if wide.empty:
            return f"{o.variable} did not vary across runs at any saved time."
        leaders = wide.fillna(-np.inf).idxmax(axis=1)
        spans = []
        start = leaders.index[0]
        for t_prev, t, lead, prev in zip(leaders.index[:-1], leaders.index[1:], leaders.iloc[1:],
                                         leaders.iloc[:-1], strict=True):
            if lead != prev:
                spans.append((start, t_prev, prev))
                start = t
        spans.append((start, leaders.index[-1], leaders.iloc[-1]))
        if len(spans) == 1:
            return (f"Over time ({spans[0][0]:g}-{spans[0][1]:g}), {spans[0][2]} is the leading driver of "
                    f"{o.variable} throughout (by {self.main}).")
        text = "; ".join(f"{p} leads from {a:g} to {b:g}" for a, b, p in spans[:6])
        return f"The leading driver of {o.variable} changes over time (by {self.main}): {text}."

    # ------------------------------------------------------------------ plots
    def plot(self, outcome: str | Outcome | None = None, kind: str | None = None) -> go.Figure:
        """A chart of the indices.

        Parameters
        ----------
        outcome
            Outcome to show (default: every scalar outcome, one panel each; or the
            first trajectory outcome over time).
        kind
            ``"bar"`` (ranking with confidence intervals), ``"time"`` (indices over
            time) or, for Morris, ``"mu_sigma"`` (mu* against sigma).
        """
        if kind is None:
            if outcome is None and not self.scalar_outcomes:
                kind = "time"
            elif outcome is not None and self.outcome(outcome).is_trajectory:
                kind = "time"
            else:
                kind = self._default_kind
        if kind == "time":
            return self.plot_over_time(outcome)
        if kind == "mu_sigma":
            return self.plot_mu_sigma(outcome)
        if kind != "bar":
            raise SpecError(f"Unknown plot kind {kind!r}; use 'bar', 'time' or 'mu_sigma'.")
        outs = [self.outcome(outcome)] if outcome is not None else self.scalar_outcomes
        return self._bars(outs)

    _default_kind: ClassVar[str] = "bar"
    _bar_indices: ClassVar[tuple[str, ...]] = ()

    def _bars(self, outs: Sequence[Outcome]) -> go.Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        n = max(len(outs), 1)
        # a right-hand panel's labels sit over the left one's bars in a page column of ~700 px
        # unless the parameter names are short (seen on v2: 30-character names)
        ncols = 2 if n > 1 and max((len(str(f)) for f in self.factors), default=0) <= 16 else 1
        nrows = math.ceil(n / ncols)
        height = max(340, nrows * (120 + 28 * len(self.factors)))
        top, bottom = 110, 40
        # about 80 px between rows (axis numbers and the next title), whatever the height
        fig = make_subplots(rows=nrows, cols=ncols, subplot_titles=[o.label for o in outs],
                            horizontal_spacing=0.22,
                            vertical_spacing=min(0.3, 80 / (height - top - bottom)) if nrows > 1 else 0.1)
        for i, o in enumerate(outs):
            ind = self.indices(o)
            order = list(reversed(self.ranking(o)))
            for k, col in enumerate(self._bar_indices):
                conf = f"{col}_conf"
                err = ind.loc[order, conf].to_numpy(dtype=float) if conf in ind else None
                fig.add_trace(
                    go.Bar(
                        y=order, x=ind.loc[order, col].to_numpy(dtype=float), orientation="h",
                        name=col, legendgroup=col, showlegend=i == 0,
                        marker_color=PALETTE[(k + 1) % len(PALETTE)],
                        error_x={"type": "data", "array": err, "visible": err is not None},
                        hovertemplate=f"%{{y}}<br>{col} = %{{x:.3f}}<extra>{html.escape(o.label)}</extra>",
                    ),
                    row=i // ncols + 1, col=i % ncols + 1,
                )
        # placed in pixels: as shares of a tall figure the legend ran into the title
        fig.update_layout(
            barmode="group", template="plotly_white",
            title={"text": f"{self.method_info.title}: {self.model}" if self.model else self.method_info.title,
                   "y": 1 - 12 / height, "yanchor": "top"},
            height=height,
            legend={"orientation": "h", "y": 1 + 32 / (height - top - bottom), "yanchor": "bottom", "x": 0},
            margin={"l": 40, "r": 20, "t": top, "b": bottom}, font={"size": 13},
        )
        fig.update_yaxes(automargin=True)
        return fig

    def plot_over_time(self, outcome: str | Outcome | None = None, index: str | None = None,
                       stacked: bool | None = None) -> go.Figure:
        """Time-varying indices of a trajectory outcome.

        Parameters
        ----------
        outcome
            A trajectory outcome (default: the first).
        index
            Which index (default: the first-order index where the method has one,
            else :attr:`main`).
        stacked
            Stacked areas (default for first-order indices, which add up to at most
            1) or lines.
        """
        import plotly.graph_objects as go

        o = self.outcome(outcome if outcome is not None else (self.trajectory_outcomes or [None])[0])
        index = index or ("S1" if "S1" in self.columns else self.main)
        stacked = (index == "S1") if stacked is None else stacked
        wide = self.over_time(o, index)
        fig = go.Figure()
        colours = _colours(len(wide.columns))
        for k, p in enumerate(wide.columns):
            colour = colours[k]
            fig.add_trace(go.Scatter(
                x=wide.index.to_numpy(), y=wide[p].to_numpy(dtype=float), name=str(p), mode="lines",
                stackgroup="one" if stacked else None, line={"color": colour, "width": 2},
                hovertemplate=f"{html.escape(str(p))}<br>%{{x:g}}: {index} = %{{y:.3f}}<extra></extra>",
            ))
        if stacked and index == "S1":
            total = wide.clip(lower=0).sum(axis=1, min_count=1)  # all-NaN times stay NaN
            fig.add_trace(go.Scatter(x=wide.index.to_numpy(), y=(1 - total).clip(lower=0).to_numpy(),
                                     name="interactions (1 - sum S1)", mode="lines", stackgroup="one",
                                     line={"color": "#BBBBBB", "width": 0.5}, fillcolor="rgba(200,200,200,0.5)"))
        # tall enough for every legend entry: a dozen parameters overflowed 420 px and the last
        # names scrolled out of sight (and out of print)
        fig.update_layout(
            template="plotly_white", title=f"{index} of {o.variable} over time",
            xaxis_title="time", yaxis_title=index, height=max(420, 200 + 21 * len(fig.data)),
            font={"size": 13}, legend={"orientation": "v", "x": 1.02, "y": 1},
        )
        if index in ("S1", "ST", "delta"):
            fig.update_yaxes(range=[0, 1.05 if not stacked else None] if not stacked else None)
        return fig

    def plot_mu_sigma(self, outcome: str | Outcome | None = None) -> go.Figure:  # pragma: no cover - Morris
        raise SpecError("The mu*-sigma chart is for Morris results; use plot(kind='bar').")

    # ------------------------------------------------------------------ export
    def to_csv(self, path: str | Path, force: bool = False) -> Path:
        """Write :meth:`to_dataframe` as CSV with provenance header lines (atomic)."""
        from pvsd.io import write_csv

        return write_csv(path, self.table, self.provenance, force=force)

    def _repr_html_(self) -> str:
        info = self.method_info
        head = (
            f"<p><b>{type(self).__name__}</b> ({html.escape(info.title)}) of "
            f"<code>{html.escape(self.model)}</code>: {len(self.factors)} parameters, "
            f"{len(self.outcomes)} outcome(s), n = {self.n}, {self.runs:,} runs, seed {self.seed}. "
            f"{'All' if self.converged else 'Not all'} intervals within {self.tolerance:g}.</p>"
        )
        parts = [head]
        for o in self.scalar_outcomes[:6]:
            ind = self.indices(o).loc[self.ranking(o)]
            parts.append(f"<p><i>{html.escape(o.label)}</i></p>")
            parts.append(ind.to_html(float_format=lambda v: f"{v:.3g}"))
        for o in self.trajectory_outcomes[:3]:
            parts.append(f"<p><i>{html.escape(o.label)}</i>: {self.main} at selected times</p>")
            wide = self.over_time(o)
            step = max(1, len(wide) // 8)
            parts.append(wide.iloc[::step].to_html(float_format=lambda v: f"{v:.3g}"))
        return "".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model!r}, parameters={len(self.factors)}, "
            f"outcomes={len(self.outcomes)}, n={self.n}, runs={self.runs}, converged={self.converged})"
        )


@dataclass(frozen=True, repr=False)
class SobolResult(SensitivityResult):
    """Sobol' indices: S1 (first order), ST (total order), optional S2."""

    method: ClassVar[str] = "sobol"
    _bar_indices: ClassVar[tuple[str, ...]] = ("S1", "ST")

    def _describe_ranking(self, o: Outcome, ind: pd.DataFrame, ranked: list[str], top: int) -> str:
        return _variance_text(o, ind, ranked, top)


@dataclass(frozen=True, repr=False)
class FastResult(SensitivityResult):
    """eFAST indices: S1 and ST (bootstrap intervals are indicative only)."""

    method: ClassVar[str] = "fast"
    _bar_indices: ClassVar[tuple[str, ...]] = ("S1", "ST")

    def _describe_ranking(self, o: Outcome, ind: pd.DataFrame, ranked: list[str], top: int) -> str:
        return _variance_text(o, ind, ranked, top)


@dataclass(frozen=True, repr=False)
class DeltaResult(SensitivityResult):
    """Moment-independent delta indices (and first-order S1 from the same data)."""

    method: ClassVar[str] = "delta"
    _bar_indices: ClassVar[tuple[str, ...]] = ("delta", "S1")

    def _describe_ranking(self, o: Outcome, ind: pd.DataFrame, ranked: list[str], top: int) -> str:
        parts = [f"{p} (delta = {ind.loc[p, 'delta']:.2f})" for p in ranked[:top]]
        return (f"For {o.describe()}, the parameters that most change the whole distribution of "
                "outcomes (not only its variance) are " + ", ".join(parts) + ".")


@dataclass(frozen=True, repr=False)
class MorrisResult(SensitivityResult):
    """Morris screening: mu (mean effect), mu* (mean absolute effect), sigma (spread)."""

    method: ClassVar[str] = "morris"
    _default_kind: ClassVar[str] = "mu_sigma"
    _bar_indices: ClassVar[tuple[str, ...]] = ("mu_star",)

    def _describe_ranking(self, o: Outcome, ind: pd.DataFrame, ranked: list[str], top: int) -> str:
        mx = float(ind["mu_star"].max())
        unit = self.units.get(o.variable, "")
        unit = f" {unit}" if unit and o.stat != "crossing" else ""
        parts = []
        for p in ranked[:top]:
            ms, sg = float(ind.loc[p, "mu_star"]), float(ind.loc[p, "sigma"])
            shape = ""
            if ms > 0 and math.isfinite(sg):
                steady = sg <= 0.5 * ms
                shape = ", fairly steady effect" if steady else ", effect varies a lot (non-linear or interacting)"
            parts.append(f"{p} (mu* = {ms:.3g}{unit}{shape})")
        small = [p for p in ranked if mx > 0 and float(ind.loc[p, "mu_star"]) < 0.05 * mx]
        text = (f"Screening {o.describe()}: the parameters with the largest effects are " + ", ".join(parts) + ".")
        if small:
            text += (f" {', '.join(small)} barely matter{'s' if len(small) == 1 else ''} (mu* below 5% "
                     "of the largest) and could be held at nominal values in further studies.")
        return text

    def plot_mu_sigma(self, outcome: str | Outcome | None = None) -> go.Figure:
        """mu* (x, with interval) against sigma (y); points far from the origin matter,
        points above the diagonal act non-linearly or through interactions."""
        import plotly.graph_objects as go

        o = self.outcome(outcome)
        ind = self.indices(o)
        x = ind["mu_star"].to_numpy(dtype=float)
        y = ind["sigma"].to_numpy(dtype=float)
        top = float(np.nanmax(np.concatenate([x + ind["mu_star_conf"].fillna(0).to_numpy(), y, [0.0]]))) or 1.0
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=[0, top * 1.05], y=[0, top * 1.05], mode="lines", name="sigma = mu*",
                                 line={"color": "#999999", "dash": "dash", "width": 1}, hoverinfo="skip"))
        # label the most important points only, each on its own side, so labels do not pile up
        # near the origin where unimportant parameters crowd; every point has its name on hover
        order = np.argsort(-np.nan_to_num(x))
        labels = [""] * len(x)
        positions = ["top center"] * len(x)
        for rank, i in enumerate(order[:6]):
            labels[i] = str(ind.index[i])
            positions[i] = "top center" if rank % 2 == 0 else "bottom center"
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="markers+text", text=labels, textposition=positions, name="parameters",
            customdata=list(ind.index), cliponaxis=False, textfont={"size": 11},
            marker={"size": 10, "color": PALETTE[5]},
            error_x={"type": "data", "array": ind["mu_star_conf"].to_numpy(dtype=float), "visible": True},
            hovertemplate="%{customdata}<br>mu* = %{x:.3g}<br>sigma = %{y:.3g}<extra></extra>",
        ))
        fig.update_layout(template="plotly_white", title=f"Morris screening: {o.label}",
                          xaxis_title="mu* (mean absolute elementary effect)",
                          yaxis_title="sigma (spread of effects)", height=520, font={"size": 13},
                          showlegend=False, margin={"l": 70, "r": 150, "t": 60, "b": 60})
        ytop = float(np.nanmax(np.concatenate([y, [0.0]]))) or top
        fig.update_xaxes(range=[0, top * 1.15])
        fig.update_yaxes(range=[0, ytop * 1.35])
        fig.add_annotation(text="unlabelled points: hover for the name", xref="paper", yref="paper", x=1, y=1.06,
                           showarrow=False, font={"size": 11, "color": "#666"}, xanchor="right")
        return fig


def _colours(n: int) -> list[str]:
    """Distinguishable colours: pvsd's run colours without the baseline's black, and without
    grey, which the stacked S1 chart keeps for its interactions band."""
    return run_colours(n + 1, exclude=("#888888",))[1:]


def _variance_text(o: Outcome, ind: pd.DataFrame, ranked: list[str], top: int) -> str:
    lead = ranked[0]
    s1, st = float(ind.loc[lead, "S1"]), float(ind.loc[lead, "ST"])
    c1 = float(ind.loc[lead, "S1_conf"]) if "S1_conf" in ind.columns else float("nan")
    ct = float(ind.loc[lead, "ST_conf"]) if "ST_conf" in ind.columns else float("nan")
    ci = (f" ({max(s1, 0):.0%} ± {c1:.0%} and {min(max(st, 0), 1):.0%} ± {ct:.0%}, 95% intervals)"
          if np.isfinite(c1) and np.isfinite(ct) else "")
    if np.isfinite(c1) and np.isfinite(ct) and abs(st - s1) <= max(c1, ct):
        # S1 > ST, or a gap smaller than the intervals, is estimation noise, not a finding
        text = (f"For {o.describe()}, the most influential parameter is {lead}: it explains about "
                f"{max(min(s1, st), 0):.0%}-{min(max(s1, st, 0), 1):.0%} of the variation across runs{ci}; "
                "its interactions with other parameters add nothing measurable (the difference between "
                "S1 and ST is within the estimation noise).")
    else:
        text = (f"For {o.describe()}, the most influential parameter is {lead}: on its own it explains "
                f"about {max(s1, 0):.0%} of the variation across runs, and {min(max(st, 0), 1):.0%} "
                f"including its interactions with other parameters{ci}.")
    rest = [f"{p} (total {min(max(float(ind.loc[p, 'ST']), 0), 1):.0%})" for p in ranked[1:top]]
    if rest:
        text += " Next come " + ", ".join(rest) + "."
    small = [p for p in ranked if float(ind.loc[p, "ST"]) < 0.01]
    if small:
        text += (f" {', '.join(small)} {'has' if len(small) == 1 else 'have'} almost no influence "
                 "(total index below 0.01).")
    inter = 1 - float(ind["S1"].clip(lower=0).sum())
    if inter > 0.1:
        text += f" Interactions between parameters account for roughly {inter:.0%} of the variation."
    return text


_RESULT_CLASSES: dict[str, type[SensitivityResult]] = {
    "sobol": SobolResult,
    "fast": FastResult,
    "delta": DeltaResult,
    "morris": MorrisResult,
}


def result_class(method: str) -> type[SensitivityResult]:
    """The result class of a registered method (a generic one for third-party methods)."""
    if method in _RESULT_CLASSES:
        return _RESULT_CLASSES[method]
    cls = type(f"{method.title()}Result", (SensitivityResult,), {"method": method})
    return dataclass(frozen=True, repr=False)(cls)
