"""The headline finding of a report, derived from the results (never hand-written).

Outcomes that only accumulate (a stock with inflows and no outflow, such as a
cumulative total counted from the start of the run) dilute every difference in
the years before a policy starts, so the headline ranks effects on the other
outputs. Outputs whose baseline crosses or touches zero have no meaningful
percentage difference and are left out of the ranking (the tables show them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pvsd.scenarios import ScenarioComparison

__all__ = ["accumulating_outputs", "describe_outputs", "display_outputs", "headline"]

#: An arrayed output with more elements than this is shown (tables, charts) by a selection;
#: the CSV files keep every element.
MAX_SHOWN_ELEMENTS = 8


def accumulating_outputs(model: Any, outputs: Sequence[str]) -> list[str]:
    """The outputs that are pure accumulations: stocks without an outflow whose net flow
    does not depend on the stock itself (a running total, not a goal-seeking level).

    Read from the model's IR; for a model without one, stocks named ``Cumulative ...``.
    """
    try:
        from pvsd.embed.js_backend import ir_of

        ir = ir_of(model)
        pure = set()
        for v in ir.variables.values():
            if v.kind != "stock" or v.outflows:
                continue
            own = {v.py_name, *ir.value_deps(v.py_name)}  # the stock and its integrator state
            seen: set[str] = set()
            todo = list(v.inflows)
            while todo:
                d = todo.pop()
                if d in seen:
                    continue
                seen.add(d)
                var = ir.variables.get(d)
                if var is not None and var.kind != "stock" and d not in ir.states:
                    todo.extend(ir.value_deps(d))
            if v.inflows and not (own & seen):
                pure.add(v.name)
    except Exception:  # no IR (translated .py) or an unsupported construct: fall back to names
        pure = {s for s in getattr(model, "stocks", []) if str(s).lower().startswith("cumulative")}
    from pvsd.arrays import split_label

    return [o for o in outputs if o in pure or split_label(o)[0] in pure]


def _groups(labels: Sequence[str]) -> dict[str, list[str]]:
    """Labels by variable (``Pop[North]`` and ``Pop[South]`` under ``Pop``), in order."""
    from pvsd.arrays import split_label

    out: dict[str, list[str]] = {}
    for lab in labels:
        out.setdefault(split_label(lab)[0], []).append(lab)
    return out


def describe_outputs(labels: Sequence[str], limit: int = 4) -> str:
    """Outputs for a sentence: an arrayed variable with many elements is one item
    (``Population[Abington] ... Population[Yarmouth] (351 elements)``)."""
    parts = []
    for base, labs in _groups(labels).items():
        if len(labs) > limit:
            parts.append(f"{labs[0]} … {labs[-1]} ({len(labs)} elements of {base})")
        else:
            parts.extend(labs)
    return ", ".join(parts)


def display_outputs(comparison: ScenarioComparison, limit: int = MAX_SHOWN_ELEMENTS
                    ) -> tuple[list[str], list[str]]:
    """The outputs the report's tables and charts show, and a note per trimmed variable.

    An arrayed variable with more than ``limit`` elements is shown by the ``limit`` elements
    with the largest effect of any scenario in the last comparison year (with a baseline
    only: the largest relative change over the run), the larger final value first on ties.
    """
    base = comparison.baseline.to_dataframe()
    scen = [n for n in comparison.runs if n != "baseline"]
    t = comparison.table() if scen else None
    shown, notes = [], []
    for var, labs in _groups(comparison.outputs).items():
        if len(labs) <= limit:
            shown.extend(labs)
            continue
        if t is not None:
            last = t[(t["scenario"] != "baseline") & np.isclose(t["year"], comparison.years[-1])]
            score = last.assign(a=last["pct_difference"].abs()).groupby("variable")["a"].max()
            what = "largest effect of a scenario"
        else:
            start, end = base[labs].iloc[0], base[labs].iloc[-1]
            score = ((end - start) / start.abs()).abs() * 100
            what = "largest relative change over the run"
        rank = pd.DataFrame({"score": score.reindex(labs).fillna(-1.0).round(1),
                             "size": base[labs].iloc[-1].abs().fillna(0.0)}, index=labs)
        pick = rank.sort_values(["score", "size"], ascending=False).index[:limit]
        shown.extend(lab for lab in labs if lab in set(pick))
        notes.append(f"{var} has {len(labs)} elements; the tables and charts show the {limit} with "
                     f"the {what}. Every element is in key_results.csv and series.csv.")
    return shown, notes


def _pct_ok(series: pd.Series) -> bool:
    v = series.to_numpy(dtype=float)
    return bool(np.all(np.isfinite(v)) and (np.all(v > 0) or np.all(v < 0)))


def _fmt_value(v: float) -> str:
    return f"{v:.3g}"


def headline(comparison: ScenarioComparison, accumulated: Sequence[str] = ()) -> tuple[str, pd.DataFrame]:
    """One or two sentences with the report's main finding, and the effects they rank.

    With scenarios: the largest effect of any scenario on any ranked output in the
    last comparison year, and the scenario whose largest effect is smallest. With a
    baseline only: the outputs that change most and least over the run.

    Returns
    -------
    (text, effects)
        ``effects`` has one row per scenario and ranked output: scenario, label,
        variable, year, value, baseline, pct_difference.
    """
    base = comparison.baseline.to_dataframe()
    ranked = [o for o in comparison.outputs if o not in set(accumulated) and _pct_ok(base[o])]
    skipped_acc = [o for o in comparison.outputs if o in set(accumulated)]
    note = (f" Accumulated totals ({describe_outputs(skipped_acc)}) are not ranked: counted from "
            f"{base.index[0]:g}, they dilute every difference." if skipped_acc else "")
    if not ranked:
        return ("No output has a well-defined relative change to rank (every output accumulates or "
                "crosses zero); see the tables." + note, pd.DataFrame())
    scen = [n for n in comparison.runs if n != "baseline"]
    if not scen:
        t0, t1 = base.index[0], base.index[-1]
        ch = pd.DataFrame([(o, float(base[o].iloc[0]), float(base[o].iloc[-1])) for o in ranked],
                          columns=["variable", "start", "end"])
        ch["pct_change"] = (ch["end"] - ch["start"]) / ch["start"].abs() * 100
        order = ch.reindex(ch["pct_change"].abs().sort_values(ascending=False).index)
        hi, lo = order.iloc[0], order.iloc[-1]
        if len(order) > 1 and f"{hi['pct_change']:+.1f}" == f"{lo['pct_change']:+.1f}":
            return (f"Baseline {t0:g}-{t1:g}: every ranked output ({describe_outputs(ranked)}) "
                    f"changes by {hi['pct_change']:+.1f}%." + note, order.reset_index(drop=True))
        text = (f"Baseline {t0:g}-{t1:g}: {hi['variable']} changes most, from {_fmt_value(hi['start'])} to "
                f"{_fmt_value(hi['end'])} ({hi['pct_change']:+.1f}%)")
        if len(order) > 1:
            text += (f"; {lo['variable']} changes least ({_fmt_value(lo['start'])} to {_fmt_value(lo['end'])}, "
                     f"{lo['pct_change']:+.1f}%)")
        return text + "." + note, order.reset_index(drop=True)
    t = comparison.table()
    year = comparison.years[-1]
    eff = t[(t["scenario"] != "baseline") & np.isclose(t["year"], year) & t["variable"].isin(ranked)].copy()
    eff = eff[["scenario", "label", "variable", "year", "value", "baseline", "pct_difference"]]
    eff["abs_pct"] = eff["pct_difference"].abs()
    top = eff.loc[eff["abs_pct"].idxmax()]
    if not top["abs_pct"] > 0.05:  # "largest effect ... +0.0%" would be a wrong headline
        return (f"By {year:g}, no scenario changes {describe_outputs(ranked)} by as much as 0.05% from the "
                "baseline (check that the scenarios set what they mean to, and that --set does not "
                "override their settings)." + note, eff.drop(columns="abs_pct").reset_index(drop=True))
    per = eff.loc[eff.groupby("scenario", sort=False)["abs_pct"].idxmax()]
    weak = per.loc[per["abs_pct"].idxmin()]
    verb = "raises" if top["pct_difference"] > 0 else "lowers"
    text = (f"By {year:g}, '{top['label']}' has the largest effect: it {verb} {top['variable']} to "
            f"{_fmt_value(top['value'])} ({top['pct_difference']:+.1f}% vs baseline {_fmt_value(top['baseline'])}).")
    if len(per) > 1:
        text += (f" '{weak['label']}' has the smallest: its largest change is {weak['variable']} "
                 f"{weak['pct_difference']:+.1f}% ({_fmt_value(weak['value'])} vs {_fmt_value(weak['baseline'])}).")
    return text + note, eff.drop(columns="abs_pct").reset_index(drop=True)
