"""The HTML report of a sensitivity study (built with :class:`pvsd.document.Report`)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import pandas as pd

from pvsd.sensitivity.results import MorrisResult, SensitivityResult, UncertaintyBands

if TYPE_CHECKING:
    from pvsd.document import Report

__all__ = ["sensitivity_report"]

_METHOD_TEXT = {
    "sobol": ("Sobol' indices split the variation of an outcome across runs into shares. S1 is the "
              "share a parameter explains on its own; ST adds everything it does together with other "
              "parameters. A parameter with ST near zero can be fixed at any value in its range without "
              "changing the outcome much."),
    "fast": ("eFAST indices split the variation of an outcome across runs into shares: S1 is the share a "
             "parameter explains on its own, ST adds its interactions. Its bootstrap intervals are "
             "indicative only."),
    "morris": ("Morris screening moves one parameter at a time across its range, many times from random "
               "starting points. mu* is the average size of the change in the outcome when a parameter moves "
               "across its range (in the outcome's units); sigma is how much that change varies, which is "
               "large when a parameter acts non-linearly or through interactions."),
    "delta": ("Borgonovo's delta measures how much knowing a parameter's value shifts the whole distribution "
              "of the outcome (0: not at all, 1: completely), not only its variance; S1 from the same runs "
              "is shown for comparison."),
}


def _quantile(p, value: float) -> float:
    """Where ``value`` lies in parameter ``p``'s distribution (0-1), NaN if it cannot be said."""
    try:
        if not p.vary:
            return float("nan")
        d = p.distribution()
        a, b = p._cdf_range()
        return float(min(max((float(d.cdf(value)) - a) / (b - a), 0.0), 1.0))
    except Exception:  # an exotic distribution: say nothing rather than something wrong
        return float("nan")


def _param_table(res: SensitivityResult, model_values: dict[str, float] | None = None) -> pd.DataFrame:
    t = res.space.to_dataframe()
    t = t.rename(columns={"nominal": "median"})
    t["median"] = [float(p.ppf(0.5)) if p.vary else float(p.value) for p in res.space]
    cols = ["distribution", "median", "group", "description"]
    if model_values:
        t.insert(t.columns.get_loc("median") + 1, "model value",
                 [model_values.get(n, float("nan")) for n in t.index])
        t.insert(t.columns.get_loc("model value") + 1, "model value percentile",
                 [100 * _quantile(p, model_values.get(p.name, float("nan"))) for p in res.space])
        cols = ["distribution", "median", "model value", "model value percentile", "group", "description"]
    t = t[cols]
    if not (t["group"] != "").any():
        t = t.drop(columns="group")
    if not (t["description"] != "").any():
        t = t.drop(columns="description")
    return t


def _off_centre_text(table: pd.DataFrame) -> str:
    """Why the baseline run is not in the middle of the bands, from the model values' percentiles."""
    if "model value percentile" not in table.columns:
        return ""
    q = table["model value percentile"].dropna()
    off = q[(q < 25) | (q > 75)]
    if off.empty:
        return ("The model's own values lie near the middle of every distribution (between the 25th and "
                "75th percentiles), so the baseline run is a central case.")
    parts = [f"{n} (model value at the {v:.0f}th percentile)" for n, v in off.sort_values().items()]
    return ("The baseline run uses the model's own values, not the medians of the distributions. "
            f"{len(off)} of {len(q)} lie outside the middle half of their distribution: " + "; ".join(parts)
            + ". That is why the baseline can sit near the edge of the uncertainty bands: it is one "
              "particular, not a central, combination of assumptions.")


def sensitivity_report(result: SensitivityResult, bands: UncertaintyBands | None = None,
                       title: str | None = None, model: Any = None) -> Report:
    """Assemble the report of a study: summary, parameters, rankings with confidence
    intervals, Morris mu*-sigma charts, indices over time, uncertainty bands and
    convergence, with the study's provenance.

    Parameters
    ----------
    result
        The study.
    bands
        Monte Carlo uncertainty bands to include.
    title
        Page title (default: model and method).
    model
        The :class:`pvsd.Model` studied: its own parameter values are shown beside
        the distributions (and explain where the baseline sits in the bands).

    Returns
    -------
    pvsd.document.Report
        Call ``.write(folder)`` to write ``report.html`` and the CSVs
        (``indices.csv``, ``outcomes.csv``, ``bands.csv``, ``convergence.csv`` ...).
    """
    from pvsd.document import Report

    info = result.method_info
    prov = dict(result.provenance)
    if bands is not None:
        prov["bands"] = {"n": bands.n, "seed": bands.seed, "sampling": bands.sampling,
                         "percentiles": list(bands.percentiles)}
    rep = Report(
        title=title or f"Sensitivity of {result.model}",
        subtitle=(f"{info.title}; {len(result.factors)} parameters, {len(result.outcomes)} outcome(s), "
                  f"n = {result.n} ({result.runs:,} runs), seed {result.seed}"),
        provenance=prov,
    )
    model_values = None
    if model is not None:
        model_values = {n: float(model.default(n)) for n in result.space.names}
    ptable = _param_table(result, model_values)
    off_centre = _off_centre_text(ptable)
    rep.section("Summary")
    rep.add_text(result.summary())
    if bands is not None:
        rep.add_text(bands.summary())
        if off_centre:
            rep.add_text(off_centre)
    rep.add_html(f'<p class="caption">{html.escape(_METHOD_TEXT.get(result.method, ""))}</p>')
    secs = result.timings
    rep.add_html(
        '<p class="caption">'
        f"{result.runs:,} model runs took {secs.get('run_seconds', 0):.1f} s; the analysis "
        f"{secs.get('analysis_seconds', 0):.1f} s. Intervals are {result.conf_level:.0%} bootstrap "
        f"intervals; an index counts as precise when its interval is at most {result.tolerance:g} wide"
        f"{' relative to the largest mu*' if info.relative_tolerance else ''}.</p>"
    )

    rep.section("Parameters and outcomes")
    rep.add_table(ptable, caption="The uncertain parameters and their distributions: median of the "
                  "distribution, the model file's own value (used by the baseline run) and where that value "
                  "lies in the distribution (percentile).", name="parameters")
    outs = pd.DataFrame(
        {"outcome": [o.label for o in result.outcomes], "what it measures": [o.describe() for o in result.outcomes]}
    ).set_index("outcome")
    rep.add_table(outs)

    if result.scalar_outcomes:
        rep.section("Which parameters matter")
        rep.add_figure(
            result.plot(kind="bar"), "ranking",
            caption=f"Parameters ranked by {result.main}; error bars are {result.conf_level:.0%} "
                    "confidence intervals.",
        )
        if isinstance(result, MorrisResult):
            for i, o in enumerate(result.scalar_outcomes):
                rep.add_figure(
                    result.plot_mu_sigma(o), f"morris-{i + 1}",
                    caption="Points to the right matter more; points above the dashed line act "
                            "non-linearly or through interactions.",
                )
        for o in result.scalar_outcomes:
            rep.add_heading(o.label)
            rep.add_table(result.indices(o).loc[result.ranking(o)], digits=3)
    if result.trajectory_outcomes:
        rep.section("Sensitivity over time")
        rep.add_text("Which assumptions drive a result changes over time: these charts repeat the analysis "
                     "at every saved time.")
        for i, o in enumerate(result.trajectory_outcomes):
            idx = "S1" if "S1" in result.columns else result.main
            rep.add_figure(result.plot_over_time(o, idx), f"over-time-{i + 1}",
                           caption=f"{idx} at every saved time"
                                   + (" (stacked; the grey band is the share due to interactions)."
                                      if idx == "S1" else "."))
            if result.main != idx:
                rep.add_figure(result.plot_over_time(o, result.main, stacked=False), f"over-time-{i + 1}-total",
                               caption=f"{result.main} at every saved time.")
    if bands is not None:
        rep.section("Uncertainty bands")
        rep.add_figure(
            bands.plot(), "bands",
            caption=(f"Shaded: percentile envelopes of {bands.n} runs drawn from the parameter distributions "
                     f"({', '.join(f'{p:g}' for p in bands.percentiles)}th percentiles); dashed: the "
                     "baseline run."),
        )
    if result.second_order is not None and not result.second_order.empty:
        rep.section("Interactions between pairs")
        s2 = result.second_order.sort_values("S2", ascending=False)
        rep.add_table(s2.head(15).set_index("outcome"), digits=3,
                      caption="Largest second-order Sobol' indices (the share of variation due to a pair "
                              "acting together).")
    rep.section("Convergence")
    hist = result.history.set_index("n") if not result.history.empty else result.history
    has_time = result.table["time"].notna().any() and result.table["time"].isna().any()
    rep.add_table(hist, digits=3, caption="Sample sizes tried and the widest confidence interval of each"
                  + (" (widest_interval and unconverged count the indices of the single-value outcomes, "
                     "which --until-converged drives; those over time are counted below)." if has_time else "."))
    bad = result.unconverged()
    if bad.empty:
        rep.add_text(f"Every index is within the tolerance of {result.tolerance:g}.")
    else:
        over_time = int(bad["time"].notna().sum())
        split = (f" ({len(bad) - over_time} of single-value outcomes, {over_time} of outcomes over time)"
                 if has_time else "")
        rep.add_notice(f"{len(bad)} indices have intervals wider than {result.tolerance:g}{split}: rerun with a "
                       "larger n (or --until-converged) before relying on them.")
        rep.add_table(bad.head(30), digits=3)
    for note in result.notes:
        rep.add_notice(note)
    # CSV-only tables (not shown in the page)
    _attach_csv(rep, "indices", result.to_dataframe())
    _attach_csv(rep, "outcomes", pd.concat([result.samples, result.values], axis=1).rename_axis("run"))
    if result.second_order is not None:
        _attach_csv(rep, "second_order", result.second_order.set_index("outcome"))
    _attach_csv(rep, "convergence", result.history.set_index("n") if not result.history.empty else result.history)
    if bands is not None:
        _attach_csv(rep, "bands", bands.to_dataframe())
    return rep


def _attach_csv(rep: Report, name: str, frame: pd.DataFrame) -> None:
    """Have ``Report.write`` also write ``<name>.csv`` (with provenance) without showing it."""
    rep.add_csv(name, frame)
