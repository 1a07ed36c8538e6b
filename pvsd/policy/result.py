"""Results of a policy search: chosen policies, Pareto front, convergence, robustness."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.policy.spec import PolicySpec

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["OptimizationResult", "scenarios_toml"]


def _toml_value(v: Any) -> str:
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float, np.floating, np.integer)):
        return repr(float(v))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{_toml_value(str(k))} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def scenarios_toml(tables: Mapping[str, Mapping[str, Any]], header: str = "",
                   compare: Mapping[str, Any] | None = None) -> str:
    """A scenario file (see :mod:`pvsd.scenarios`) from scenario tables."""
    lines = [f"# {h}" if h else "#" for h in header.splitlines()] if header else []
    if compare:
        lines += ["", "[compare]"] + [f"{k} = {_toml_value(v)}" for k, v in compare.items()]
    for name, t in tables.items():
        lines += ["", f"[scenarios.{name}]"]
        for k in ("title", "description"):
            if t.get(k):
                lines.append(f"{k} = {_toml_value(t[k])}")
        if t.get("set"):
            lines.append(f"set = {_toml_value(t['set'])}")
        if t.get("levers"):
            lines.append(f"[scenarios.{name}.levers]")
            lines += [f"{_toml_value(k)} = {_toml_value(v)}" for k, v in t["levers"].items()]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class OptimizationResult:
    """What :func:`pvsd.optimize` found.

    Attributes
    ----------
    chosen
        One row per chosen policy (the optimum, or the Pareto set sorted by the first
        objective; with a robust search the robust and the nominal optimum): decision
        variables and objective values.
    history
        Every evaluated member: generation, decision variables, objectives, violation.
    robustness
        With a robust search: each chosen policy's objectives across fresh uncertainty
        worlds (a new sample, 4 x n and at least 200, not the worlds searched over):
        mean, percentiles, min, max.
    trajectories
        Nominal runs of the baseline and the chosen policies (policy, variable, time, value).
    """

    model: str
    spec: PolicySpec
    method: str
    chosen: pd.DataFrame
    history: pd.DataFrame
    robustness: pd.DataFrame | None
    trajectories: pd.DataFrame
    provenance: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    n_runs: int = 0
    seconds: float = 0.0
    run_seconds: float = 0.0

    @property
    def objectives(self) -> list[str]:
        return [o.label for o in self.spec.objectives]

    @property
    def regret(self) -> bool:
        """Whether the search minimised regret (then objective columns hold regret, not values)."""
        r = self.spec.robust
        return bool(self.provenance.get("robust")) and r is not None and r.statistic == "regret"

    @property
    def best(self) -> pd.Series:
        """The first chosen policy."""
        return self.chosen.iloc[0]

    @property
    def x(self) -> np.ndarray:
        """Decision variables of the chosen policies (k, d)."""
        return self.chosen[self.spec.names].to_numpy(float)

    def to_dataframe(self) -> pd.DataFrame:
        return self.chosen.copy()

    def to_xarray(self) -> Any:
        return self.history.to_xarray()

    def convergence(self) -> pd.DataFrame:
        """Best feasible value of each objective found up to each generation."""
        h = self.history
        feas = h[h["violation"] <= 0]
        rows = []
        for g in sorted(h["generation"].unique()):
            sub = feas[feas["generation"] <= g]
            row: dict[str, Any] = {"generation": int(g), "evaluations": int((h["generation"] <= g).sum()),
                                   "feasible share": float((h[h["generation"] == g]["violation"] <= 0).mean())}
            for o in self.spec.objectives:
                col = sub[o.label]
                up = o.sense == "max" and not self.regret  # regret is minimised
                row[f"best {o.label}"] = (col.max() if up else col.min()) if len(col) else np.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> str:
        s = self.spec
        lines = [f"{self.method} on {self.model}: {len(s.levers)} lever(s), {len(s.objectives)} objective(s), "
                 f"{len(s.constraints)} constraint(s); {self.n_runs:,} runs in {self.seconds:.1f} s, seed {self.seed}."]
        if len(s.objectives) == 1:
            b = self.best
            o = s.objectives[0]
            setting = _setting_text(s.names, s.bounds, b)
            r = self.spec.robust if self.provenance.get("robust") else None
            what = o.label if r is None else (
                f"{r.describe()} of {o.label} over the {r.n} worlds searched")
            sense = "min" if self.regret else o.sense
            lines.append(f"Best policy ({sense} {what} = {b[o.label]:.5g}): {setting}.")
            if self.regret:
                ref = (self.provenance.get("robust_spec") or {}).get("regret_reference", "")
                lines.append(f"  Regret against the {ref}.")
            if self.robustness is not None and len(self.chosen) > 1:
                r = self.robustness.set_index("policy")
                for pol in r.index.unique():
                    row = r.loc[[pol]].iloc[0]
                    lines.append(f"  {pol}: across {int(row['worlds'])} worlds mean {row['mean']:.4g}, "
                                 f"10th percentile {row['p10']:.4g}, 90th {row['p90']:.4g}.")
        else:
            lines.append(f"Pareto set of {len(self.chosen)} policies; ranges: " + "; ".join(
                f"{o.label} {self.chosen[o.label].min():.4g} to {self.chosen[o.label].max():.4g}"
                for o in s.objectives) + ".")
        return "\n".join(lines)

    def scenario_tables(self, limit: int = 10) -> dict[str, dict[str, Any]]:
        """The chosen policies as scenario tables (at most ``limit``, spread along the front)."""
        rows = self.chosen
        if len(rows) > limit:
            rows = rows.iloc[np.unique(np.linspace(0, len(rows) - 1, limit).round().astype(int))]
        out = {}
        for _, row in rows.iterrows():
            x = row[self.spec.names].to_numpy(float)
            settings = self.spec.settings_of(x)
            name = str(row["policy"]).replace(" ", "_")
            objs = ", ".join(f"{o} = {row[o]:.4g}" for o in self.objectives)
            t: dict[str, Any] = {"title": f"{row['policy']} ({self.method})",
                                 "description": f"Chosen by pvsd optimize: {objs}."}
            consts = {k: float(v) for k, v in settings.items() if isinstance(v, float)}
            levers = {k: v.to_toml() for k, v in settings.items() if not isinstance(v, float)}
            if consts:
                t["set"] = consts
            if levers:
                t["levers"] = levers
            out[name] = t
        return out

    def to_scenarios_toml(self) -> str:
        outs = list(dict.fromkeys(o.outcome.variable for o in self.spec.objectives))
        years = sorted({o.outcome.time for o in self.spec.objectives if o.outcome.time is not None})
        compare: dict[str, Any] = {"outputs": outs}
        if years:
            compare["years"] = years
        head = (f"Policies chosen by pvsd optimize ({self.method}) for {self.model}, seed {self.seed}.\n"
                f"model_sha256: {self.provenance.get('model_sha256', '')}\n"
                f"Run them: pvsd scenarios {self.model} THIS_FILE")
        return scenarios_toml(self.scenario_tables(), head, compare)

    def write_scenarios(self, path: str | Path, force: bool = False) -> Path:
        from pvsd.io import write_text

        return write_text(path, self.to_scenarios_toml(), force=force)

    # ------------------------------------------------------------------ figures
    def plot_convergence(self) -> go.Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        c = self.convergence()
        k = len(self.objectives)
        fig = make_subplots(rows=1, cols=k, subplot_titles=self.objectives)
        for j, o in enumerate(self.objectives):
            fig.add_trace(go.Scatter(x=c["generation"], y=c[f"best {o}"], mode="lines+markers",
                                     name=f"best {o}"), row=1, col=j + 1)
            fig.update_xaxes(title_text="generation", row=1, col=j + 1)
        fig.update_layout(title="Convergence: best feasible value found so far", height=360,
                          showlegend=False, template="plotly_white")
        return fig

    def plot_front(self) -> go.Figure:
        """Evaluated members and the Pareto set (first two objectives)."""
        import plotly.graph_objects as go

        a, b = self.objectives[:2]
        h = self.history
        feas = h[h["violation"] <= 0]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=feas[a], y=feas[b], mode="markers", name="evaluated (feasible)",
                                 marker=dict(size=4, color="#bbbbbb")))
        fig.add_trace(go.Scatter(x=self.chosen[a], y=self.chosen[b], mode="markers+lines",
                                 name="Pareto set", marker=dict(size=7, color="#0072B2")))
        senses = {o.label: o.sense for o in self.spec.objectives}
        fig.update_layout(title="Pareto front", xaxis_title=f"{a} ({senses[a]})",
                          yaxis_title=f"{b} ({senses[b]})", height=460, template="plotly_white")
        return fig

    def plot_trajectories(self) -> go.Figure:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        t = self.trajectories
        vars_ = list(dict.fromkeys(t["variable"]))
        cols = 2
        rows = (len(vars_) + 1) // 2
        fig = make_subplots(rows=rows, cols=cols, subplot_titles=vars_)
        palette = ["#444444", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00"]
        for i, v in enumerate(vars_):
            for j, (pol, g) in enumerate(t[t["variable"] == v].groupby("policy", sort=False)):
                fig.add_trace(go.Scatter(x=g["time"], y=g["value"], name=pol, legendgroup=pol,
                                         showlegend=i == 0, line=dict(color=palette[j % len(palette)])),
                              row=i // cols + 1, col=i % cols + 1)
        fig.update_layout(title="Chosen policies over time (nominal run)", height=300 * rows,
                          template="plotly_white")
        return fig

    def plot_robustness(self) -> go.Figure:
        import plotly.graph_objects as go

        r = self.robustness
        fig = go.Figure()
        if r is None:
            return fig
        for o, g in r.groupby("objective", sort=False):
            fig.add_trace(go.Bar(x=g["policy"], y=g["p50"], name=f"{o}: median",
                                 error_y=dict(type="data", symmetric=False, array=g["p90"] - g["p50"],
                                              arrayminus=g["p50"] - g["p10"])))
        fig.update_layout(title="Across the uncertainty ensemble: median with 10th-90th percentile",
                          height=380, template="plotly_white")
        return fig

    def plot(self) -> go.Figure:
        return self.plot_front() if len(self.objectives) > 1 else self.plot_convergence()

    def report(self, title: str | None = None) -> Any:
        from pvsd.policy.report import optimization_report

        return optimization_report(self, title)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(self.summary())}</pre>" + self.chosen.to_html(index=False)


def _setting_text(names: list[str], bounds: list[tuple[float, float]], best: Any) -> str:
    """The searched decision variables with their chosen values; those whose bounds are one
    value (a lever's fixed year, a budget held) follow once, grouped by value, so they do not
    drown what the search chose."""
    free = [f"{n} = {best[n]:.4g}" for n, (lo, hi) in zip(names, bounds, strict=True) if hi > lo]
    fixed: dict[str, list[str]] = {}
    for n, (lo, hi) in zip(names, bounds, strict=True):
        if hi <= lo:
            fixed.setdefault(f"{lo:.4g}", []).append(n)
    text = ", ".join(free) if free else "nothing searched"
    if fixed:
        text += "; fixed by their bounds: " + "; ".join(f"{', '.join(ns)} = {v}" for v, ns in fixed.items())
    return text

