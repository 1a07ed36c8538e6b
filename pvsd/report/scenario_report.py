"""The main report: a model's baseline and scenarios compared."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from pvsd.document import Report, kv_table
from pvsd.plotting import run_colours
from pvsd.provenance import provenance

if TYPE_CHECKING:
    from pvsd.model import Model
    from pvsd.scenarios import ScenarioComparison

__all__ = ["difference_figure", "scenario_report"]


def difference_figure(comparison: ScenarioComparison, year: float,
                      variables: Sequence[str] | None = None) -> go.Figure:
    """Grouped bars: % difference from baseline of each output (or of ``variables``) at ``year``."""
    t = comparison.table()
    t = t[(t["scenario"] != "baseline") & np.isclose(t["year"], year)]
    if variables is not None:
        t = t[t["variable"].isin(list(variables))]
    fig = go.Figure()
    # the colours of the trajectory charts (by position in the runs), so a scenario has one colour
    colours = dict(zip(comparison.runs, run_colours(len(comparison.runs)), strict=True))
    names = [n for n in comparison.runs if n != "baseline"]
    for name in names:
        sub = t[t["scenario"] == name]
        fig.add_trace(go.Bar(
            y=sub["variable"], x=sub["pct_difference"], name=comparison.label(name), orientation="h",
            marker_color=colours[name],
            hovertemplate="%{y}: %{x:+.1f}%<extra>" + html.escape(comparison.label(name)) + "</extra>",
        ))
    # Horizontal bars: output names of any length stay readable at any page width (rotated
    # category labels under vertical bars ran into the legend in narrow columns).
    n_vars = max(int(t["variable"].nunique()), 1)
    # about 9 px per bar, but the chart stays under ~2,400 px however many elements are shown
    group = max(18, min(max(36, 9 * len(names) + 14), 2400 // n_vars))
    plot_h = n_vars * group
    fig.update_layout(
        template="plotly_white", barmode="group", height=plot_h + 190 + 22 * ((len(names) + 1) // 2),
        title=f"Difference from baseline in {year:g} (%)",
        xaxis_title="% vs baseline", font={"size": 13},
        yaxis={"autorange": "reversed", "automargin": True, "ticksuffix": "  "},
        legend={"orientation": "h", "yanchor": "top", "y": -60 / plot_h, "x": 0, "traceorder": "normal"},
        margin={"l": 20, "r": 20, "t": 60, "b": 40},
    )
    fig.add_vline(x=0, line_color="#888", line_width=1)
    return fig


def scenario_report(
    comparison: ScenarioComparison,
    model: Model,
    scenario_file: str | None = None,
    title: str | None = None,
    live: bool = False,
    model_sections: bool = True,
) -> Report:
    """Build the report of a baseline-and-scenarios comparison.

    Parameters
    ----------
    comparison
        Results of :func:`pvsd.run_scenarios` (the report runs nothing itself).
    model
        The model, for its metadata (name, description, variables, SHA-256).
    scenario_file
        Path of the scenario file, for the record.
    title
        Page title.
    live
        Add the live simulator (the model compiled to JavaScript, with sliders).
    model_sections
        Add the model card sections (stock-flow diagram, stocks and flows, levers,
        feedback loops, equations) after the results.
    """
    base = comparison.baseline
    times = base.times
    scen_settings = {n: s.describe() for n, s in comparison.scenarios.items()}
    prov = provenance(
        model.path, model.sha256, params={}, scenario=scen_settings,
        scenario_file=scenario_file, initial_time=float(times[0]), final_time=float(times[-1]),
        time_step=base.provenance.get("time_step"),
    )
    from pvsd.report.findings import accumulating_outputs, describe_outputs, display_outputs, headline

    accumulated = accumulating_outputs(model, comparison.outputs)
    head, effects = headline(comparison, accumulated)
    shown, trimmed = display_outputs(comparison)
    n_scen = len(comparison.scenarios)
    rep = Report(
        title=title or (f"{model.name}: scenarios compared" if n_scen else f"{model.name}: baseline run"),
        subtitle=f"Model {model.path.name} · "
                 + (f"{n_scen} scenarios vs baseline · " if n_scen else "baseline (the model's own settings) · ")
                 + f"{times[0]:g}-{times[-1]:g} · {prov['created']}",
        provenance=prov,
        headline=head,
    )

    rep.section("What was run")
    desc = model.description
    if desc:
        rep.add_text(desc)
    rep.add_html(kv_table([
        ("Model file", model.path.name),
        ("Model SHA-256", model.sha256),
        ("Scenario file", scenario_file or ("(given in code)" if n_scen else "none: baseline only")),
        ("Runs", "baseline" + (" + " + ", ".join(comparison.label(n) for n in comparison.scenarios)
                               if n_scen else " only")),
        ("Simulated period", f"{times[0]:g} to {times[-1]:g}, time step "
                             f"{base.provenance.get('time_step', model.time_step):g}"),
        ("Outputs compared", describe_outputs(comparison.outputs)),
    ]))

    rep.section("Key results")
    if not effects.empty:
        rep.add_csv("headline_effects", effects)
    wide = comparison.display_table()
    if len(shown) < len(comparison.outputs):
        wide = wide[wide.index.get_level_values(0).isin(shown)]
    rep.add_table(
        wide,
        caption="Value of each output in each run; in brackets the % difference from the "
                "baseline (the model's own settings)." + (
                    f" {describe_outputs(accumulated)} accumulate(s) from {times[0]:g}, so their "
                    "differences are diluted by the years before a policy acts." if accumulated else "")
                + "".join(f" {n}" for n in trimmed),
    )
    long = comparison.table()
    rep.add_csv("key_results", long)
    last = comparison.years[-1]
    top = long[(long["scenario"] != "baseline") & np.isclose(long["year"], last)]
    if not top.empty:
        lines = []
        for var in shown:
            sub = top[top["variable"] == var].dropna(subset=["pct_difference"])
            if sub.empty:
                continue
            best = sub.loc[sub["pct_difference"].idxmax()]
            worst = sub.loc[sub["pct_difference"].idxmin()]
            if len(sub) == 1:
                lines.append(f"{var} in {last:g} under '{best['label']}': {best['pct_difference']:+.1f}% vs baseline.")
                continue
            lines.append(
                f"{var} in {last:g}: highest under '{best['label']}' "
                f"({best['pct_difference']:+.1f}% vs baseline), lowest under "
                f"'{worst['label']}' ({worst['pct_difference']:+.1f}%)."
            )
        rep.add_text("\n\n".join(lines))

    rep.section("Charts")
    rep.add_figure(
        comparison.plot(shown, title="Trajectories: baseline (black) and scenarios"),
        "trajectories",
        caption="Each panel is one output; each line one run. Hover for values."
                + "".join(f" {n}" for n in trimmed),
        series=comparison.series().rename(columns={"scenario": "trace", "variable": "panel",
                                                    "time": "x", "value": "y"}),
    )
    if n_scen:
        rep.add_figure(difference_figure(comparison, last, shown), "difference",
                       caption=f"Percentage difference from the baseline in {last:g}.")

    rep.section("Parameters and scenarios")
    rows = [(comparison.label(n), var, setting)
            for n, settings in scen_settings.items() for var, setting in settings.items()]
    if rows:
        rep.add_table(pd.DataFrame(rows, columns=["scenario", "variable", "setting"]),
                      index=False, caption="What each scenario changes; everything else keeps "
                                           "the model's value.", name="scenario_settings")
    for s in comparison.scenarios.values():
        if s.description:
            rep.add_html(f"<p><b>{html.escape(s.label)}</b>: {html.escape(s.description)}</p>")
    consts = model.variables
    consts = consts[consts["kind"] == "constant"][["name", "default", "units", "min", "max",
                                                    "comment"]]
    rep.add_heading("Model constants (baseline values)")
    rep.add_table(_short_comments(_array_defaults(model, consts)), index=False, name="constants")
    if model_sections or live:
        from pvsd.report.sections import add_model_sections

        add_model_sections(rep, model, scenarios=comparison.scenarios.values(), live=live,
                           card=model_sections)
    return rep


def _array_defaults(model: Model, consts: pd.DataFrame) -> pd.DataFrame:
    """Constants with an arrayed constant's default as text: its value, or its range."""
    out = consts.copy().astype({"default": object})
    for i, name in zip(out.index, out["name"], strict=True):
        if not model.dims(name):
            continue
        try:
            vals = np.asarray(model.defaults(name), float)
        except Exception:  # values PySD cannot read at load time (external data)
            continue
        vals = vals[np.isfinite(vals)]
        if vals.size:
            lo, hi = float(vals.min()), float(vals.max())
            out.at[i, "default"] = (f"{lo:.4g} (every element)" if lo == hi
                                    else f"{lo:.4g} to {hi:.4g} ({vals.size} elements)")
    return out


def _short_comments(frame: pd.DataFrame, width: int = 140) -> pd.DataFrame:
    out = frame.copy()
    out["comment"] = [c if len(c) <= width else c[: width - 1] + "…" for c in out["comment"]]
    return out


