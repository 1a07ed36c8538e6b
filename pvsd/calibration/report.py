"""The HTML report of a calibration (built on :mod:`pvsd.document`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from pvsd.calibration.skill import is_loss
from pvsd.document import Report, kv_table

if TYPE_CHECKING:
    from typing import Any as CalibrationResult  # a pvsd.calibration.result.CalibrationResult;
    # not imported: the result builds its report (result -> report), never the other way round

__all__ = ["calibration_report"]


def calibration_report(result: CalibrationResult) -> Report:
    """Build the self-contained report of a calibration (it runs nothing itself).

    Sections: summary and warnings, fit statistics per series and period, data
    against fit with bands and residuals, parameters (estimates, standard errors,
    intervals, correlations), profiles, MCMC diagnostics, data sources, provenance.
    """
    f = result.fit
    rep = Report(title=result.title, subtitle=f"Calibration of {result.model}",
                 provenance=result.provenance)
    rep.section("Summary")
    conv = result.convergence
    pairs = [
        ("model", result.model),
        ("objective", f"{f['objective_kind']} = {f['objective']:.6g}"),
        ("observations fitted", f["n_obs"]),
        ("parameters fitted", f["n_params"]),
        ("log-likelihood / AIC / BIC", f"{f['loglik']:.5g} / {f['aic']:.5g} / {f['bic']:.5g}"),
        ("converged", f"{conv.get('converged')} ({conv.get('starts_at_best')} of {conv.get('starts')} "
                      "local starts reached the best objective)"),
        ("standard errors", f["covariance_method"]),
        ("intervals", f"{f['interval_level']:.0%}: {f['interval_method']}"),
        ("cost", f"{f['model_runs']} model runs in {f['ensemble_calls']} ensemble calls, {f['seconds']} s"),
    ]
    if math.isfinite(f.get("residual_se", math.nan)):
        pairs.append(("residual standard error", f"{f['residual_se']:.5g} on {f['dof']} degrees of freedom"))
    rep.add_html(kv_table(pairs))
    # where the model loses to a naive forecast is said once here and in full under Forecast skill
    losses = [w for w in result.warnings if w in result.skill_verdict]
    for w in result.warnings:
        if w not in losses:
            rep.add_notice(w)
    if losses:
        series = list(dict.fromkeys(w.split(":", 1)[0] for w in losses))
        rep.add_notice(f"Out of sample the model loses to a naive forecast in {len(losses)} of "
                       f"{len(result.skill_verdict)} comparisons ({', '.join(series)}); see Forecast skill.")
    rep.section("Fit statistics")
    rep.add_table(result.stats.set_index(["series", "period"]), name="fit_statistics",
                  caption="On the model's scale. RMSE, MAPE (%), R² (squared correlation), MSE and "
                  "Theil's inequality proportions (Sterman 1984): U^M bias, U^S unequal variation, "
                  "U^C unequal co-variation; they sum to 1. 'holdout' rows are years not used in the fit.")
    if len(result.skill):
        rep.section("Forecast skill")
        for s in result.skill_verdict:  # a loss is a warning; a win is plain text
            (rep.add_notice if is_loss(s) else rep.add_text)(s)
        rep.add_table(result.skill.set_index(["series", "method"]), name="skill",
                      caption="Held-out years only, on the indicator's own scale: MAPE (%), RMSE and "
                      "share within 5% of the observed value, for the model and for naive forecasts "
                      "made from the fitted years: last value carried forward, least-squares trend "
                      "of the last four observations, last value plus their mean yearly change.")
    rep.section("Data and fit")
    band = "posterior" if result.mcmc else "Laplace (normal approximation at the optimum)"
    rep.add_figure(result.plot(), "fit",
                   caption=f"Points: data (circles fitted, diamonds held out). Line: best fit. Bands "
                   f"({f['interval_level']:.0%}, {band}): the darker one shows parameter uncertainty, the "
                   "lighter one also includes observation noise.")
    rep.add_table(result.noise.set_index("series"), name="noise",
                  caption="Noise model per series: sigma is the known or fitted standard deviation on "
                  "the model's scale (log scale for log-transformed series).")
    rep.section("Parameters")
    cols = ["parameter", "value", "stderr", "lower", "upper", "profile_lower", "profile_upper",
            "posterior_mean", "posterior_lower", "posterior_upper", "initial", "bound_lower", "bound_upper"]
    table = result.parameters[cols].dropna(axis=1, how="all")
    paths = getattr(result, "paths", None)
    # a fitted year needs more digits than 4 (2010.04 +/- 0.03 would read 2010 +/- 0.03)
    digits = 7 if paths is not None and len(paths) else 4
    rep.add_table(table.set_index("parameter"), name="parameters", digits=digits,
                  caption="value: maximum-likelihood (least-squares) estimate; stderr from the curvature at "
                  "the optimum; lower/upper: Wald interval; profile_*: profile-likelihood interval; "
                  "posterior_*: MCMC credible interval.")
    if paths is not None and len(paths):
        rep.add_table(paths.set_index("parameter"), name="paths", digits=7,
                      caption="Time-varying lever paths: the fitted pieces (also in the table above, "
                      "as 'Name: piece'). scenario: the hard step, for reading; scenario_exact: the form "
                      "the fit ran (a step as a linear change over the one time step ending at its year), "
                      "which fitted_parameters.toml holds and which reproduces the fitted run.")
    corr = result.strong_correlations()
    if corr:
        rep.add_table(pd.DataFrame(corr, columns=["parameter", "with", "correlation"]), index=False,
                      caption="Correlations of the estimates above 0.5 in absolute value.")
    rep.add_table(result.starts, index=False, name="starts",
                  caption="Local searches: where each started and where it ended.")
    prof = result.plot_profiles()
    if prof is not None:
        rep.section("Profiles")
        rep.add_figure(prof, "profiles", caption="Signed root deviance against the profiled parameter; "
                       "the interval ends where it crosses the cut-off.")
    if result.mcmc:
        rep.section("Posterior (MCMC)")
        d = result.mcmc
        rep.add_html(kv_table([(k.replace("_", " "), v) for k, v in d.items()]))
        rep.add_table(result.posterior.set_index("parameter"), name="posterior",
                      caption="tau: integrated autocorrelation time (steps); ess: effective sample size; "
                      "rhat: split R-hat across walkers.")
    rep.section("Data")
    rep.add_table(result.data, index=False, name="data",
                  caption="Every observation read: raw value, value on the model's scale, period, and the "
                  "line of the data file it came from.")
    return rep
