"""The outcome of a calibration: a frozen record with a fixed schema."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from pvsd.scenarios import Scenario

__all__ = ["CalibrationResult"]


def _g(v: Any, digits: int = 5) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{v:.{digits}g}"


@dataclass(frozen=True)
class CalibrationResult:
    """Fitted parameters, their uncertainty and the fit, for one calibration.

    Every attribute is always present (empty tables when a step was not run).

    Attributes
    ----------
    title, model
        Label of the calibration and the model's name.
    params
        Fitted model constant -> value (maximum likelihood / least squares).
    fixed
        Constants held fixed during the fit.
    parameters
        One row per fitted parameter: ``parameter, kind (model|nuisance), value,
        stderr, lower, upper`` (Wald interval), ``profile_lower, profile_upper``,
        ``initial, bound_lower, bound_upper``, ``posterior_mean, posterior_sd,
        posterior_lower, posterior_upper, ess, rhat``.
    stats
        ``series, period (fit|holdout), n, rmse, mape, r2, mse, theil_um,
        theil_us, theil_uc`` on the model's scale.
    fitted
        Every used observation: ``series, variable, time, period, data, fitted, residual``.
    trajectory
        The best-fit run of the observed variables (index time).
    bands
        ``series, band (parameter|predictive), source (posterior|laplace), time,
        lower, median, upper`` at the interval level.
    correlation, covariance
        Of the estimates, from the curvature at the optimum.
    noise
        Per series: likelihood, fitted or known sigma, dispersion, weight.
    starts
        Each local start: origin, objective, converged, parameters.
    profiles
        Profile-likelihood points: ``parameter, value, objective, tau`` and the
        other parameters re-optimised.
    posterior, samples, mcmc
        MCMC summary per parameter (mean, sd, median, interval, tau, ess,
        rhat), the retained draws, and the sampler's diagnostics.
    convergence, fit
        Optimiser reports; objective, log-likelihood, AIC, BIC, n, dof,
        residual standard error, methods, cost.
    data
        Every observation read (including unused ones), with file line numbers.
    units
        Units of the observed variables.
    skill, skill_verdict
        Held-out forecast skill of the model beside naive forecasts (``series, method, n,
        mape, rmse, within_5pct`` on the indicator's scale) and sentences saying where it loses.
    warnings
        Plain-language warnings (parameters at a bound or not moved, short chains ...).
    provenance
        Model SHA-256, spec and data files with SHA-256, seed, versions.
    paths
        One row per time-varying lever path of the spec (``parameter, path, from, at | start,
        end, to, scenario, scenario_exact``): ``scenario`` the hard step for reading,
        ``scenario_exact`` the form the fit ran (see :mod:`pvsd.calibration.panel.paths`);
        empty without paths. The fitted pieces are also rows of ``parameters``
        (``"Name: at"``, kind ``path``).
    """

    title: str
    model: str
    params: Mapping[str, float]
    fixed: Mapping[str, float]
    parameters: pd.DataFrame
    stats: pd.DataFrame
    fitted: pd.DataFrame
    trajectory: pd.DataFrame
    bands: pd.DataFrame
    correlation: pd.DataFrame
    covariance: pd.DataFrame
    noise: pd.DataFrame
    starts: pd.DataFrame
    profiles: pd.DataFrame
    posterior: pd.DataFrame
    samples: pd.DataFrame
    mcmc: Mapping[str, Any]
    convergence: Mapping[str, Any]
    fit: Mapping[str, Any]
    data: pd.DataFrame
    units: Mapping[str, str] = field(default_factory=dict)
    skill: pd.DataFrame = field(default_factory=pd.DataFrame)
    skill_verdict: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)
    paths: pd.DataFrame = field(default_factory=pd.DataFrame)

    # ------------------------------------------------------------------ views
    @property
    def stderr(self) -> dict[str, float]:
        """Standard error of each fitted parameter."""
        return dict(zip(self.parameters["parameter"], self.parameters["stderr"].astype(float), strict=True))

    def to_dataframe(self) -> pd.DataFrame:
        """The parameter table (index: parameter)."""
        return self.parameters.set_index("parameter").copy()

    def strong_correlations(self, threshold: float = 0.5) -> list[tuple[str, str, float]]:
        """Pairs of parameters whose estimates correlate more than ``threshold`` (largest first)."""
        names = list(self.correlation.index)
        out = []
        c = self.correlation.to_numpy()
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if np.isfinite(c[i, j]) and abs(c[i, j]) > threshold:
                    out.append((names[i], names[j], float(c[i, j])))
        return sorted(out, key=lambda t: -abs(t[2]))

    # ------------------------------------------------------------------ text report
    def report(self, correlation_threshold: float = 0.5) -> str:
        """A plain-text report in the style of lmfit's ``fit_report``."""
        f = self.fit
        lines = [f"[[Calibration]] {self.title}", f"    model              = {self.model}"]
        lines += [
            f"    objective          = {f['objective_kind']}",
            f"    data points        = {f['n_obs']}",
            f"    variables          = {f['n_params']}",
            f"    degrees of freedom = {f['dof']}",
            f"    objective value    = {_g(f['objective'], 7)}",
            f"    log-likelihood     = {_g(f['loglik'], 7)}",
            f"    AIC, BIC           = {_g(f['aic'], 6)}, {_g(f['bic'], 6)}",
        ]
        if math.isfinite(f.get("residual_se", math.nan)):
            lines.append(f"    residual SE        = {_g(f['residual_se'])} on {f['dof']} degrees of freedom")
        conv = self.convergence
        lines.append(f"    converged          = {conv.get('converged')} ({conv.get('starts_at_best')} of "
                     f"{conv.get('starts')} starts reached the best objective)")
        lines.append(f"    model runs         = {f['model_runs']} in {f['ensemble_calls']} ensemble calls, "
                     f"{f['seconds']} s")
        if f.get("step_check"):
            lines.append(f"    step check         = {f['step_check']}")
        lines.append("[[Fit statistics]] (model scale; Theil U^M bias, U^S variance, U^C covariance)")
        st = self.stats.copy()
        lines += ["    " + ln for ln in st.to_string(index=False, float_format=lambda v: f"{v:.4g}").splitlines()]
        level = f.get("interval_level", 0.95)
        lines.append(f"[[Parameters]] (value +/- standard error, {level:.0%} interval, initial value)")
        for r in self.parameters.itertuples(index=False):
            rel = f" ({abs(r.stderr / r.value):.2%})" if r.value and math.isfinite(r.stderr) else ""
            iv = f"[{_g(r.lower)}, {_g(r.upper)}]"
            if math.isfinite(r.profile_lower) or math.isfinite(r.profile_upper):
                iv += f" profile [{_g(r.profile_lower)}, {_g(r.profile_upper)}]"
            if math.isfinite(r.posterior_mean):
                iv += f" posterior [{_g(r.posterior_lower)}, {_g(r.posterior_upper)}]"
            lines.append(f"    {r.parameter}: {_g(r.value, 6)} +/- {_g(r.stderr, 4)}{rel} {iv} "
                         f"(init = {_g(r.initial)}, bounds [{_g(r.bound_lower)}, {_g(r.bound_upper)}])")
        if len(self.paths):
            lines.append("[[Lever paths]] (fitted pieces above; as run: scenario_exact)")
            for r in self.paths.to_dict("records"):
                read = r.get("scenario") if isinstance(r.get("scenario"), str) else r["scenario_exact"]
                lines.append(f"    {r['parameter']}: {r['path']} {read}; as fitted: {r['scenario_exact']}")
        corr = self.strong_correlations(correlation_threshold)
        lines.append(f"[[Correlations]] (unreported correlations are < {correlation_threshold})")
        lines += [f"    C({a}, {b}) = {c:+.4f}" for a, b, c in corr] or ["    none"]
        if len(self.skill):
            lines.append("[[Forecast skill, held out]] (indicator scale; naive forecasts from the "
                         "fit period)")
            lines += ["    " + ln for ln in self.skill.to_string(
                index=False, float_format=lambda v: f"{v:.4g}").splitlines()]
            lines += [f"    {s}" for s in self.skill_verdict]
        if self.mcmc:
            d = self.mcmc
            lines.append(f"[[MCMC]] {d['sampler']}: {d['walkers']} walkers x {d['steps']} steps, burn-in "
                         f"{d['burn']}, acceptance {d['acceptance_fraction']:.2f}, max tau "
                         f"{d['max_tau']:.1f}, min ESS {d['min_ess']:.0f}, max R-hat {d['max_rhat']:.3f}")
        if self.warnings:
            lines.append("[[Warnings]]")
            lines += [f"    {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        ps = ", ".join(f"{k}={v:.4g}" for k, v in list(self.params.items())[:4])
        more = ", ..." if len(self.params) > 4 else ""
        return f"CalibrationResult({self.model!r}: {ps}{more})"

    # ------------------------------------------------------------------ scenario export
    def to_scenario(self, name: str = "calibrated", title: str | None = None) -> Scenario:
        """The fitted (and fixed) constants, and lever paths in the exact form the fit ran,
        as a :class:`pvsd.Scenario` the rest of pvsd can run."""
        from pvsd.scenarios import Scenario
        from pvsd.timefunc import Ramp

        levers = {}
        for r in self.paths.to_dict("records") if len(self.paths) else ():
            if r["path"] == "step":
                from pvsd.calibration.panel.paths import path_function

                dt = float(self.provenance.get("time_step") or 0)
                (ta, tb), (v0, v1) = path_function("step", r, dt)
            else:
                ta, tb, v0, v1 = r["start"], r["end"], r["from"], r["to"]
            levers[r["parameter"]] = Ramp(float(ta), float(tb), float(v1), float(v0))
        return Scenario(
            name=name,
            title=title or f"Calibrated: {self.title}",
            description=f"Constants fitted by pvsd calibrate ({self.title}); model SHA-256 "
            f"{str(self.provenance.get('model_sha256', ''))[:12]}.",
            constants={**{k: float(v) for k, v in self.fixed.items()},
                       **{k: float(v) for k, v in self.params.items()}},
            levers=levers,
        )

    def scenario_toml(self, name: str = "calibrated") -> str:
        """The scenario file text (TOML) with provenance comments."""
        import tomli_w

        scen = self.to_scenario(name)
        head = [f"# Fitted parameters: {self.title}",
                f"# model {self.model}, SHA-256 {self.provenance.get('model_sha256', '')}",
                f"# created {self.provenance.get('created', '')} by pvsd {self.provenance.get('pvsd_version', '')}",
                "# Run it: pvsd run MODEL --scenarios THIS_FILE --scenario " + name, ""]
        return "\n".join(head) + tomli_w.dumps({"scenarios": {name: scen.to_toml_table()}})

    def save_scenario(self, path: str | Path, name: str = "calibrated", force: bool = False) -> Path:
        """Write the fitted parameters as a scenario file (TOML, atomically)."""
        from pvsd.io import check_new, write_text

        check_new(path, force)
        return write_text(path, self.scenario_toml(name), force=True)

    def save_parameters(self, path: str | Path, force: bool = False) -> Path:
        """Write the parameter table as CSV with provenance header lines (atomically)."""
        from pvsd.io import write_csv

        return write_csv(path, self.parameters, self.provenance, force=force, index=False)

    # ------------------------------------------------------------------ figures
    def plot(self, show_bands: bool = True) -> go.Figure:
        """Data against the best fit (with bands), one row per series, residuals beside it."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        from pvsd.plotting import PALETTE

        series = list(dict.fromkeys(self.fitted["series"]))
        titles = []
        for s in series:
            var = self.fitted.loc[self.fitted["series"] == s, "variable"].iloc[0]
            # short enough for a 700 px column: the long form ran into the residual panel's title
            titles += [f"{s}: {var}" if len(s) + len(var) <= 34 else s, "residual (data - fit)"]
        fig = make_subplots(rows=len(series), cols=2, subplot_titles=titles, column_widths=[0.66, 0.34],
                            vertical_spacing=min(0.12, 0.4 / max(len(series), 1)), horizontal_spacing=0.08)
        for i, s in enumerate(series, start=1):
            d = self.fitted[self.fitted["series"] == s]
            var = d["variable"].iloc[0]
            first = i == 1
            if show_bands and len(self.bands):
                for band, colour, label in (("predictive", "rgba(0,114,178,0.13)", "predictive band"),
                                            ("parameter", "rgba(0,114,178,0.30)", "parameter band")):
                    b = self.bands[(self.bands["series"] == s) & (self.bands["band"] == band)]
                    if b.empty:
                        continue
                    fig.add_trace(go.Scatter(x=b["time"], y=b["upper"], mode="lines", line={"width": 0},
                                             showlegend=False, hoverinfo="skip", legendgroup=band),
                                  row=i, col=1)
                    fig.add_trace(go.Scatter(x=b["time"], y=b["lower"], mode="lines", line={"width": 0},
                                             fill="tonexty", fillcolor=colour, name=label,
                                             legendgroup=band, showlegend=first,
                                             hovertemplate="%{x:g}: %{y:.4g}<extra>" + label + "</extra>"),
                                  row=i, col=1)
            fig.add_trace(go.Scatter(x=self.trajectory.index, y=self.trajectory[var], mode="lines",
                                     name="best fit", line={"color": PALETTE[5], "width": 2.2},
                                     legendgroup="fit", showlegend=first,
                                     hovertemplate="%{x:g}: %{y:.4g}<extra>best fit</extra>"),
                          row=i, col=1)
            for period, colour, symbol in (("fit", PALETTE[0], "circle"), ("holdout", PALETTE[4], "diamond")):
                dd = d[d["period"] == period]
                if dd.empty:
                    continue
                label = "data (fitted)" if period == "fit" else "data (held out)"
                fig.add_trace(go.Scatter(x=dd["time"], y=dd["data"], mode="markers", name=label,
                                         marker={"color": colour, "symbol": symbol, "size": 8},
                                         legendgroup=period, showlegend=first,
                                         hovertemplate="%{x:g}: %{y:.4g}<extra>" + label + "</extra>"),
                              row=i, col=1)
                fig.add_trace(go.Scatter(x=dd["time"], y=dd["residual"], mode="markers", name=label,
                                         marker={"color": colour, "symbol": symbol, "size": 7},
                                         legendgroup=period, showlegend=False,
                                         hovertemplate="%{x:g}: %{y:.4g}<extra>residual</extra>"),
                              row=i, col=2)
            fig.add_hline(y=0, line_color="#888", line_width=1, row=i, col=2)
            if len(s) + len(var) > 34:  # the model variable left out of the title goes beside the axis
                fig.update_yaxes(title_text=var, title_font_size=11, row=i, col=1)
        height = max(380, 300 * len(series) + 120)
        fig.update_layout(template="plotly_white", height=height,
                          title={"text": self.title, "y": 1 - 18 / height, "yanchor": "top"},
                          legend={"orientation": "h", "yref": "container", "yanchor": "top",
                                  "y": 1 - 58 / height, "x": 0},
                          margin={"l": 55, "r": 20, "t": 120, "b": 40}, font={"size": 13})
        return fig

    def plot_profiles(self) -> go.Figure | None:
        """Profile statistic (signed root of the deviance) of each profiled parameter, or None."""
        if self.profiles.empty:
            return None
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        names = list(dict.fromkeys(self.profiles["parameter"]))
        fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
        for j, n in enumerate(names, start=1):
            t = self.profiles[self.profiles["parameter"] == n]
            fig.add_trace(go.Scatter(x=t["value"], y=t["tau"], mode="lines+markers", name=n,
                                     showlegend=False), row=1, col=j)
        fig.update_layout(template="plotly_white", height=360, title="Profile statistic (|tau| at the "
                          "interval cut-off marks the interval ends)", margin={"t": 90})
        return fig

    # ------------------------------------------------------------------ HTML
    def _repr_html_(self) -> str:
        from pvsd.document import table_html

        warn = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings)
        cols = ["parameter", "value", "stderr", "lower", "upper", "initial"]
        return (f"<p><b>CalibrationResult</b>: {html.escape(self.title)} ({html.escape(self.model)}), "
                f"{self.fit['n_obs']} observations, {self.fit['n_params']} parameters</p>"
                + table_html(self.parameters[cols], index=False)
                + table_html(self.stats, index=False)
                + (f"<p>Warnings:</p><ul>{warn}</ul>" if warn else ""))

    def html_report(self) -> Any:
        """A :class:`pvsd.report.Report` of this calibration (write it with ``.write(folder)``)."""
        from pvsd.calibration.report import calibration_report

        return calibration_report(self)
