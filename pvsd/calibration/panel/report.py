"""The HTML report of a panel calibration (built on :mod:`pvsd.report`; it runs nothing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pvsd.calibration.panel.result import _estimator
from pvsd.calibration.skill import is_loss
from pvsd.document import Report, kv_table

if TYPE_CHECKING:
    from pvsd.calibration.panel.result import PanelResult

__all__ = ["panel_report"]


def panel_report(result: PanelResult) -> Report:
    """Sections: summary, forecast skill against naive forecasts, shared parameters,
    population, per-unit estimates (distribution and table), data vs fit small multiples,
    posterior diagnostics, skipped units. Figure names carry a ``panel-`` prefix so that
    element ids stay unique when the report is embedded beside others."""
    f = result.fit
    rep = Report(title=result.title, subtitle=f"Panel calibration of {result.model}",
                 provenance=result.provenance)
    rep.section("Summary")
    rep.add_html(kv_table([
        ("model", result.model),
        ("units", f"{f['n_units']} fitted, {len(result.skipped)} skipped (too few observations)"),
        ("observations fitted", f["n_obs"]),
        ("estimator", _estimator(f)),
        ("parameters", f"{f['n_params']} ({f['n_shared']} shared, {f['n_per_unit']} per unit)"),
        ("noise sigma (indicator units)", ", ".join(f"{k}: {v:.4g}" for k, v in f["sigma"].items())),
        ("bands", f"{f['interval_level']:.0%} predictive, from {f['bands']} draws"),
        ("runtime", f"point fit {f['seconds_point']} s, total {f['seconds']} s; {f['model_runs']} "
                    f"model runs in {f['ensemble_calls']} ensemble calls"),
    ]))
    for w in result.warnings:
        rep.add_notice(w)
    rep.section("Forecast skill")
    for s in result.verdict:  # a loss is a warning; a win is plain text
        (rep.add_notice if is_loss(s) else rep.add_text)(s)
    if len(result.skill):
        rep.add_table(result.skill.set_index(["series", "method"]), name="skill",
                      caption="Held-out observations only. MAPE (%), RMSE on the indicator's scale, "
                      "share of forecasts within 5% of the observed value; units_model_worse: units "
                      "whose mean absolute error is larger for the model than for that naive forecast. "
                      "Naive forecasts use only each unit's fitted-period data: last value carried "
                      "forward, least-squares trend of the last four observations, last value plus "
                      "the mean yearly change over the last four observations.")
        fig = result.plot_skill()
        if fig is not None:
            rep.add_figure(fig, "panel-skill")
    rep.section("Shared parameters")
    if len(result.shared):
        rep.add_table(result.shared.set_index("parameter"), name="shared",
                      caption="value: least-squares / maximum-likelihood (MAP for pooled models) "
                      "estimate; stderr from the curvature at the optimum; lower/upper: 95% Wald "
                      "interval; at_bound: the estimate sits at a bound (no standard error).")
    else:
        rep.add_html("<p>No shared parameters.</p>")
    if len(result.population):
        rep.add_table(result.population.set_index("parameter"), name="population",
                      caption="Pooled parameters: logit((value - lower)/(upper - lower)) ~ "
                      "Normal(mu, tau) across units, fitted by Laplace-EM; median and 90% range of "
                      "the population on the parameter's scale.")
    rep.section("Data and fit")
    for s in dict.fromkeys(result.fitted["series"]):
        rep.add_figure(result.plot(series=str(s)), f"panel-fit-{s}",
                       caption="Worst- and best-fitting units (in-sample RMSE) and the units named "
                       "in the spec: data (circles fitted, diamonds held out), model, and the 95% "
                       "predictive band of the held-out and forecast years.")
    rep.section("Per-unit estimates")
    if len(result.estimates):
        rep.add_figure(result.plot_distribution(), "panel-distribution",
                       caption="How the per-unit estimates spread over units.")
        rep.add_table(result.unit_stats.set_index(["unit", "series"]), name="unit_stats",
                      caption="Per unit: observations, RMSE and MAPE (%) in the fit and held-out "
                      "periods, and how many of its parameters end at a bound.")
        wide = result.estimates.pivot(index="unit", columns="parameter", values="value")
        se = result.estimates.pivot(index="unit", columns="parameter", values="stderr")
        for c in wide.columns:  # a fitted year needs its decimals (4 digits would hide them)
            if str(c).endswith((": at", ": start", ": end")):
                wide[c] = wide[c].map(lambda v: f"{v:.2f}")
        table = wide.join(se.rename(columns=lambda c: f"{c} (SE)"))
        bnd = result.estimates[result.estimates["at_bound"] != ""]
        rep.add_table(table, name="unit_estimates",
                      caption="Estimates and standard errors per unit (all rows: estimates.csv).")
        if len(bnd):
            rep.add_table(bnd[["unit", "parameter", "value", "at_bound"]], index=False,
                          name="at_bound", caption="Per-unit parameters at a bound.")
    if len(result.paths):
        rep.section("Fitted lever paths")
        rep.add_table(_paths_display(result.paths), index=False, name="paths",
                      caption="Per unit: the fitted step (year at, value to) or ramp (start, end, "
                      "to) from the value from, shown to 6 digits (full precision in paths.csv). "
                      "scenario: the path as a scenario-file lever; "
                      "scenario_exact: the form the fit ran (a step is fitted as a linear change "
                      "over the one time step before its year, so that its year has a gradient), "
                      "which reproduces the fitted runs; scenarios.toml holds every unit's "
                      "fitted run as a scenario.")
    if result.mcmc:
        rep.section("Posterior")
        rep.add_html(kv_table([(k.replace("_", " "), v) for k, v in result.mcmc.items()]))
    if len(result.skipped):
        rep.section("Skipped units")
        rep.add_table(result.skipped, index=False, name="skipped_units",
                      caption="Units with fewer observations than [panel] min_observations.")
    return rep


def _paths_display(paths: Any) -> Any:
    """The fitted-path table with years to 2 decimals and levers to 6 significant digits."""
    import re

    d = paths.copy()
    for c in ("at", "start", "end"):
        if c in d:
            d[c] = d[c].map(lambda v: f"{v:.2f}")
    num = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
    for c in ("scenario", "scenario_exact"):
        if c in d:
            d[c] = d[c].map(lambda t: num.sub(lambda m: f"{float(m.group()):.6g}", t))
    if (d["parameter"] == d["variable"]).all():
        d = d.drop(columns="variable")
    return d
