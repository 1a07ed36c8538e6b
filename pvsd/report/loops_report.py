"""The feedback-loop report: loops, their polarity, and which ones drive behaviour when."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pandas as pd

from pvsd.document import Report, kv_table

if TYPE_CHECKING:
    from pvsd.loops import LoopResult
    from pvsd.model import Model

__all__ = ["loops_report"]

#: Loops listed in the HTML table (all of them go to loops.csv).
TABLE_ROWS = 40

_HOW_TO_READ = """\
A feedback loop is a closed chain of cause and effect: a variable influences itself through other \
variables and at least one stock. A reinforcing loop (R) amplifies change (growth or decline feeds \
itself); a balancing loop (B) counteracts it (the system moves towards a goal or limit).

The relative loop score says how much of the change in the model's stocks a loop explains at each \
moment, from -100% to +100%: positive for a reinforcing loop, negative for a balancing one. The \
scores of all loops add up to 100% in absolute value, so a loop with 60% explains more than half of \
what happens. Loops whose score is near zero are present but inactive at that time.

Scores come from the run itself (the Loops that Matter method of Schoenberg, Davidsen and Eberlein, \
2020, with the 2023 correction for links from flows to stocks): for every link, the share of the \
change in a variable caused by the change in one of its inputs, over one time step; a loop's score \
is the product of the shares along it. Polarities are observed in the run, so a loop whose effect \
changes sign (for example past a threshold in a lookup) is flagged.

Limits: loop dominance is about change, so a model in equilibrium has no dominant loop; relative \
scores compare loops within one run and one scenario; near an inflection point scores swing \
quickly from one loop to another."""


def _loop_names(result: LoopResult, ids: list[str]) -> dict[str, str]:
    out = {}
    for i in ids:
        names = list(result.loop(i)["variables"])
        out[i] = " → ".join([*names, names[0]])
    return out


def reporting_period(result: LoopResult, model: Any) -> float:
    """The interval of the leading-loop table: the model's saving interval, at least 1/50 of the run."""
    times = result.times
    span = float(times[-1] - times[0]) or 1.0
    save = float(getattr(model, "saveper", 0) or 0)
    return max(save, result.time_step, span / 50)


def diagram_loops(result: LoopResult, top: int = 4) -> tuple[list[str], int]:
    """Loops for the causal-loop diagram: dominating ones, named and longer loops first.

    First-order loops (a stock and its own flow, two variables) dominate often but say
    little; they are left out unless nothing else is left. Returns the ids and the
    number of first-order loops left out.
    """
    if not result.ids:
        return [], 0
    counts = result.dominant_mask.iloc[1:].sum(axis=0)
    t = result.loops.set_index("id")
    score = t["mean_abs_relative_score"]

    def key(i: str) -> tuple:
        return (-(bool(t.loc[i, "name"])), -int(counts.get(i, 0)), -float(score.get(i, 0)), i)

    trivial = {i for i in result.ids if int(t.loc[i, "length"]) <= 2 and not t.loc[i, "name"]}
    dominating = [i for i in result.ids if counts.get(i, 0) > 0]
    pool = sorted([i for i in dominating if i not in trivial], key=key)
    if len(pool) < top:
        pool += sorted([i for i in result.ids if i not in trivial and i not in pool], key=key)
    chosen = pool[:top] or sorted(dominating, key=key)[:top] or result.top(top)
    left_out = len([i for i in dominating if i in trivial and i not in chosen])
    return chosen, left_out


def loops_report(result: LoopResult, model: Model, variable: str | None = None,
                 scenario_file: str | None = None, title: str | None = None) -> Report:
    """Build the report of a loop analysis.

    Parameters
    ----------
    result
        The analysis (:func:`pvsd.loops`); the report runs nothing itself.
    model
        The model, for its metadata.
    variable
        Variable drawn under the loop scores (default: the stock in the most important loops).
    scenario_file
        Scenario file the scenario came from, for the record.
    title
        Page title.
    """
    prov = dict(result.provenance)
    if scenario_file:
        prov["scenario_file"] = scenario_file
    prov["loop_analysis"] = {"method": result.method, "loops": len(result.ids),
                             "time_step": result.time_step}
    times = result.times
    scen = f"scenario '{result.scenario}'" if result.scenario else "the model's own settings"
    rep = Report(
        title=title or f"{model.name}: feedback loops and what drives behaviour",
        subtitle=f"Model {model.path.name} · {scen} · {times[0]:g}-{times[-1]:g} · "
                 f"{prov.get('created', '')}",
        provenance=prov,
    )

    rep.section("What was analysed")
    rep.add_text(result.message)
    rep.add_html(kv_table([
        ("Model file", model.path.name),
        ("Model SHA-256", model.sha256),
        ("Scenario", result.scenario or "(none: the model's own settings)"),
        ("Scenario file", scenario_file or "(none)"),
        ("Simulated period", f"{times[0]:g} to {times[-1]:g}, scores at every time step "
                             f"({result.time_step:g})"),
        ("Loop search", "full enumeration (Johnson's algorithm)" if result.method == "enumeration"
         else "strongest-path search (Eberlein & Schoenberg 2020)"),
        ("Loops", f"{len(result.ids)} ({int((result.loops['polarity'] == 'R').sum())} reinforcing, "
                  f"{int((result.loops['polarity'] == 'B').sum())} balancing)"),
    ] + [("Arrays", nt.removeprefix("Arrayed model: ")) for nt in result.notes
         if nt.startswith("Arrayed model: ")]
      + [("Loop names", nt.removeprefix("Loop names from ")) for nt in result.notes
         if nt.startswith("Loop names from ")]))
    for note in result.notes:
        if "strongest-path" in note or "approximation" in note or "not scored" in note \
                or "polarity changes" in note or note.startswith("Named loops not among"):
            rep.add_notice(note)

    if not result.ids:
        rep.section("Behaviour")
        if variable or result.default_variable() is not None:
            rep.add_figure(result.plot(variable), "loop-scores",
                           caption="The model has no feedback loops, so nothing to attribute: the "
                                   "panel shows the chosen variable only.")
        else:
            rep.add_text("The model has no feedback loops and no variable that changes over time "
                         "(its run has only constants), so there is nothing to plot.")
        rep.section("How to read this")
        rep.add_text(_HOW_TO_READ)
        return rep

    rep.section("Which loops drive behaviour")
    var = variable or result.default_variable()
    rep.add_figure(
        result.plot(var),
        "loop-scores",
        caption=f"Top: relative loop score of the {min(8, len(result.ids))} most important loops "
                "(solid: reinforcing, dashed: balancing; other loops summed in grey). Bottom: "
                f"{var}; the shading marks which loop leads in each period. Hover a line to see "
                "the loop's variables.",
    )
    period = reporting_period(result, model)
    lead = result.leading(period)
    names = _loop_names(result, sorted(set(lead["id"])))
    periods = pd.DataFrame({
        "from": [f"{v:g}" for v in lead["start"]],
        "to": [f"{v:g}" for v in lead["end"]],
        "leading loop": [result.label(i) for i in lead["id"]],
        "R/B": lead["polarity"],
        "mean share": [f"{100 * v:.0f}%" for v in lead["mean_share"]],
        "variables": [names[i] for i in lead["id"]],
    })
    rep.add_heading("The leading loop in each period")
    rep.add_table(periods, index=False, name="leading_loops",
                  caption=f"The loop with the largest mean relative score in each interval of {period:g} "
                          "(the model's saving interval), merged while the same loop leads, and its mean "
                          "share of the change."
                          + (" With many loops no single one explains half of the change; "
                             if (lead["mean_share"] < 0.5).any() else " ")
                          + "dominance.csv lists the full dominant sets (the fewest loops that together "
                            "explain at least 50% of the change at each time step).")
    dom = result.dominance()
    rep._tables["dominance"] = dom

    rep.section("Causal-loop diagram")
    chosen, left_out = diagram_loops(result, 4)
    rep.add_figure(result.cld(chosen), "cld",
                   caption="The named loops and the longer loops that dominate most often ("
                           + ", ".join(result.label(c) for c in chosen)
                           + "). Boxes are stocks; + / − on an arrow is the link's polarity observed in "
                             "the run; the percentage is the loop's mean share of the change."
                           + (f" Left out: {left_out} first-order loop(s) in which a stock only drains or "
                              "refills itself through its own flow (they are in the loop table)."
                              if left_out else ""))

    rep.section("Loops")
    t = result.table()
    t = t.sort_values(["mean_abs_relative_score", "id"], ascending=[False, True])
    shown = pd.DataFrame({
        "id": t["id"],
        "name": t["name"],
        "R/B": t["polarity"] + ["*" if c else "" for c in t["polarity_changes"]],
        "length": t["length"],
        "mean relative score": [f"{100 * v:+.1f}%" for v in t["mean_relative_score"]],
        "dominant (share of time)": [f"{100 * v:.0f}%" for v in t["dominant_share"]],
        "variables": t["variables"],
    })
    n = len(shown)
    rep.add_table(shown.head(TABLE_ROWS), index=False,
                  caption=(f"The {min(n, TABLE_ROWS)} most important of {n} loops, by mean |relative "
                           "score|" if n > TABLE_ROWS else f"All {n} loops, by mean |relative score|")
                  + "; * marks a loop whose polarity changes during the run. Every loop is in loops.csv.")
    full = result.table().drop(columns=["stocks"])
    rep._tables["loops"] = full.set_index("id")

    rep.section("How to read this")
    rep.add_text(_HOW_TO_READ)
    other = [nt for nt in result.notes if nt not in ("",)]
    if other:
        rep.add_html("<ul>" + "".join(f"<li>{html.escape(nt)}</li>" for nt in other) + "</ul>")
    return rep
