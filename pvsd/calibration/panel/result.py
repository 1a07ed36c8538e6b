"""The outcome of a panel calibration: a frozen record with a fixed schema, figures and files."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.calibration.result import _g as _g_unit

if TYPE_CHECKING:
    import plotly.graph_objects as go
    import xarray as xr

__all__ = ["PanelResult"]


def _g(v: Any, d: int = 4) -> str:
    # the single-unit formatter, at the panel tables' 4 significant digits
    return _g_unit(v, d)


@dataclass(frozen=True)
class PanelResult:
    """Fitted shared and per-unit parameters, forecasts and forecast skill of a panel.

    Attributes
    ----------
    units, skipped
        Units fitted; units skipped for too few observations (``unit, observations``).
    shared
        One row per shared parameter: ``parameter, scope, value, stderr, lower, upper``
        (Wald 95%), ``at_bound, bound_lower, bound_upper`` and, with a posterior,
        ``posterior_mean, posterior_sd, posterior_lower, posterior_upper, rhat, ess``.
    estimates
        The same per (unit, per-unit parameter).
    population
        Pooled parameters: population mean/sd on the logit scale and its quantiles.
    unit_stats
        Per unit and series: n, RMSE, MAPE in and out of sample, parameters at a bound.
    fitted
        Every used observation: ``unit, series, year, period, data, fitted, residual``;
        period ``fit``, ``holdout`` or (estimator "wave-ahead", not predicted) ``start``
        (each unit's first wave: it only sets a run's state) or ``unused`` (a fitted-period
        observation after the unit's last state observation).
    forecast
        ``unit, series, year, value, lo, hi, kind (holdout|forecast), assumption`` on the
        indicator's scale; lo/hi: 95% predictive interval.
    skill, skill_units
        Out-of-sample MAPE, RMSE, share within 5% of the model and the naive forecasts,
        overall and per unit (:func:`pvsd.calibration.skill.compare`).
    verdict
        Plain sentences: where the model beats and where it loses to each naive forecast.
    paths
        Fitted lever paths, one row per (unit, path): ``unit, parameter, variable, path,
        from, at | start, end, to, scenario`` (the hard step, for reading) and
        ``scenario_exact`` (the form the fit ran: a step as a linear change over the one
        time step before its year), as scenario-file inline tables.
    scenarios
        A scenario file (TOML) reproducing each unit's fitted run (estimator "wave-ahead":
        the fitted parameters; the runs start from the states below).
    states
        Estimator "wave-ahead": the state set at each run's start, ``unit, start, constant,
        value, clipped`` (empty for the path estimator).
    """

    title: str
    model: str
    units: tuple[str, ...]
    skipped: pd.DataFrame
    shared: pd.DataFrame
    estimates: pd.DataFrame
    population: pd.DataFrame
    unit_stats: pd.DataFrame
    fitted: pd.DataFrame
    forecast: pd.DataFrame
    skill: pd.DataFrame
    skill_units: pd.DataFrame
    verdict: tuple[str, ...]
    trajectories: pd.DataFrame
    fit: Mapping[str, Any]
    mcmc: Mapping[str, Any] = field(default_factory=dict)
    show: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)
    paths: pd.DataFrame = field(default_factory=pd.DataFrame)
    scenarios: str = ""
    states: pd.DataFrame = field(default_factory=pd.DataFrame)

    # ------------------------------------------------------------------ views
    def to_dataframe(self) -> pd.DataFrame:
        """Per-unit estimates, one row per unit and a column per parameter."""
        return self.estimates.pivot(index="unit", columns="parameter", values="value")

    def to_xarray(self) -> xr.Dataset:
        """Estimates and standard errors as a Dataset (unit, parameter) plus shared values."""
        import xarray as xr

        cols = [c for c in ("value", "stderr", "lower", "upper", "posterior_mean", "posterior_sd",
                            "posterior_lower", "posterior_upper", "rhat", "ess")
                if c in self.estimates]
        ds = xr.Dataset()
        if len(self.estimates):
            e = self.estimates.set_index(["unit", "parameter"])[cols]
            ds = xr.Dataset.from_dataframe(e)
            ds["at_bound"] = xr.DataArray.from_series(
                self.estimates.set_index(["unit", "parameter"])["at_bound"].astype(str))
        for r in self.shared.itertuples(index=False):
            ds[f"shared: {r.parameter}"] = float(r.value)
            ds[f"shared: {r.parameter}"].attrs["stderr"] = float(r.stderr)
        if len(self.forecast):
            f = self.forecast.set_index(["unit", "series", "year"])[["value", "lo", "hi"]]
            fx = xr.Dataset.from_dataframe(f).rename({"value": "forecast", "lo": "forecast_lo",
                                                      "hi": "forecast_hi", "year": "forecast_year"})
            ds = xr.merge([ds, fx], combine_attrs="drop")
        ds.attrs.update({k: str(v) for k, v in self.provenance.items()})
        return ds

    def unit_ranking(self) -> pd.DataFrame:
        """Units from the worst to the best in-sample fit (mean RMSE over series)."""
        return self.unit_stats.groupby("unit")["rmse_fit"].mean().sort_values(ascending=False)

    # ------------------------------------------------------------------ text
    def report(self) -> str:
        """A plain-text summary."""
        f = self.fit
        lines = [f"[[Panel calibration]] {self.title}",
                 f"    model              = {self.model}",
                 f"    units              = {f['n_units']} fitted, {len(self.skipped)} skipped",
                 f"    observations       = {f['n_obs']} fitted",
                 f"    parameters         = {f['n_params']} ({f['n_shared']} shared, "
                 f"{f['n_per_unit']} per unit)",
                 f"    estimator          = {_estimator(f)}",
                 "    sigma              = " + ", ".join(f"{k} {_g(v)}" for k, v in f["sigma"].items()),
                 f"    cost               = {f['model_runs']} model runs in {f['ensemble_calls']} "
                 f"ensemble calls; point fit {f['seconds_point']} s, total {f['seconds']} s"]
        lines.append("[[Shared parameters]] (value +/- standard error)")
        for r in self.shared.itertuples(index=False):
            extra = f" posterior {_g(r.posterior_mean)} [{_g(r.posterior_lower)}, " \
                f"{_g(r.posterior_upper)}] R-hat {_g(r.rhat)}" if "rhat" in self.shared else ""
            b = f" AT {r.at_bound.upper()} BOUND" if r.at_bound else ""
            lines.append(f"    {r.parameter}: {_g(r.value, 6)} +/- {_g(r.stderr)}{b}{extra}")
        if len(self.population):
            lines.append("[[Population of pooled parameters]]")
            for r in self.population.itertuples(index=False):
                lines.append(f"    {r.parameter}: median {_g(r.population_median)}, 90% of units in "
                             f"[{_g(r.population_p05)}, {_g(r.population_p95)}] (logit mu "
                             f"{_g(r.mu_logit)}, tau {_g(r.tau_logit)})")
        lines.append("[[Per-unit parameters]] (distribution over units)")
        for p, d in self.estimates.groupby("parameter", sort=False):
            q = d["value"].quantile([0, 0.25, 0.5, 0.75, 1]).to_numpy()
            lines.append(f"    {p}: min {_g(q[0])}, quartiles {_g(q[1])} / {_g(q[2])} / {_g(q[3])}, "
                         f"max {_g(q[4])}; at a bound in {int((d['at_bound'] != '').sum())} units")
        if len(self.paths):
            lines.append("[[Fitted lever paths]] (per unit; scenario form in paths.csv)")
            for r in self.paths.head(12).itertuples(index=False):
                lines.append(f"    {r.unit}: {r.variable} {r.scenario}")
            if len(self.paths) > 12:
                lines.append(f"    ... {len(self.paths) - 12} more rows in paths.csv")
            if self.fit.get("path_form"):
                lines.append(f"    (fitted form: {self.fit['path_form']})")
        lines.append("[[Forecast skill out of sample]]")
        if len(self.skill):
            st = self.skill.copy()
            lines += ["    " + ln for ln in st.to_string(index=False, float_format=lambda v: f"{v:.4g}")
                      .splitlines()]
        lines += [f"    {s}" for s in self.verdict]
        if self.mcmc:
            m = self.mcmc
            lines.append(f"[[Posterior]] {m['sampler']}: {m['chains']} chains x {m['iterations']} "
                         f"sweeps (warm-up {m['warmup']}), max R-hat {m['max_rhat']:.4f}, min ESS "
                         f"{m['min_ess']:.0f}, {m['seconds']} s")
        if self.warnings:
            lines.append("[[Warnings]]")
            lines += [f"    {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def __repr__(self) -> str:
        return f"PanelResult({self.model!r}: {len(self.units)} units, {self.fit['n_params']} parameters)"

    def _repr_html_(self) -> str:
        from pvsd.document import table_html

        return (f"<p><b>PanelResult</b>: {html.escape(self.title)}, {len(self.units)} units</p>"
                + table_html(self.shared, index=False) + table_html(self.skill, index=False))

    # ------------------------------------------------------------------ figures
    def pick_units(self, n_worst: int = 3, n_best: int = 3) -> list[tuple[str, str]]:
        """(unit, why) for the small multiples: worst, best and named units."""
        rank = list(self.unit_ranking().index)
        out: list[tuple[str, str]] = [(u, "worst fit") for u in rank[:n_worst]]
        out += [(u, "best fit") for u in rank[::-1][:n_best] if u not in dict(out)]
        out += [(u, "named") for u in self.show if u not in dict(out)]
        return out

    def plot(self, units: Sequence[str] | None = None, series: str | None = None) -> go.Figure:
        """Small multiples of data against fit (and forecast bands) for chosen units."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        from pvsd.plotting import PALETTE

        picked = [(u, "") for u in units] if units else self.pick_units()
        ser = series or str(self.fitted["series"].iloc[0])
        cols = min(3, len(picked))
        rows = math.ceil(len(picked) / cols)
        fig = make_subplots(rows=rows, cols=cols, subplot_titles=[
            f"{u} ({why})" if why else u for u, why in picked], vertical_spacing=0.12)
        for k, (u, _) in enumerate(picked):
            r, c = k // cols + 1, k % cols + 1
            first = k == 0
            fc = self.forecast[(self.forecast["unit"] == u) & (self.forecast["series"] == ser)]
            if len(fc):
                fig.add_trace(go.Scatter(x=fc["year"], y=fc["hi"], mode="lines", line={"width": 0},
                                         showlegend=False, hoverinfo="skip"), row=r, col=c)
                fig.add_trace(go.Scatter(x=fc["year"], y=fc["lo"], mode="lines", line={"width": 0},
                                         fill="tonexty", fillcolor="rgba(0,114,178,0.18)",
                                         name="95% forecast band", showlegend=first,
                                         legendgroup="band"), row=r, col=c)
            t = self.trajectories[(self.trajectories["unit"] == u)
                                  & (self.trajectories["series"] == ser)]
            fig.add_trace(go.Scatter(x=t["year"], y=t["fitted"], mode="lines", name="model",
                                     line={"color": PALETTE[5], "width": 2}, showlegend=first,
                                     legendgroup="fit"), row=r, col=c)
            d = self.fitted[(self.fitted["unit"] == u) & (self.fitted["series"] == ser)]
            for per, colour, sym in (("fit", PALETTE[0], "circle"), ("holdout", PALETTE[4], "diamond")):
                # wave-ahead "start"/"unused" observations (not predicted) are drawn as fitted data
                dd = d[d["period"].isin([per, "start", "unused"] if per == "fit" else [per])]
                if len(dd):
                    fig.add_trace(go.Scatter(x=dd["year"], y=dd["data"], mode="markers",
                                             name="data (fitted)" if per == "fit" else "data (held out)",
                                             marker={"color": colour, "symbol": sym, "size": 8},
                                             showlegend=first, legendgroup=per), row=r, col=c)
        height = 260 * rows + 140
        fig.update_layout(template="plotly_white", height=height,
                          title={"text": f"{ser}: data and fit", "y": 1 - 16 / height,
                                 "yanchor": "top"},
                          legend={"orientation": "h", "yref": "container", "y": 1 - 50 / height,
                                  "yanchor": "top", "x": 0},
                          margin={"l": 50, "r": 20, "t": 110, "b": 40})
        return fig

    def plot_distribution(self) -> go.Figure:
        """Histogram of each per-unit parameter's estimates over units."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        params = list(dict.fromkeys(self.estimates["parameter"]))
        fig = make_subplots(rows=1, cols=max(len(params), 1), subplot_titles=params)
        for j, p in enumerate(params, start=1):
            v = self.estimates.loc[self.estimates["parameter"] == p, "value"]
            fig.add_trace(go.Histogram(x=v, nbinsx=30, name=p, showlegend=False,
                                       marker_color="#0072B2"), row=1, col=j)
        fig.update_layout(template="plotly_white", height=340, margin={"t": 70},
                          title="Per-unit estimates across units")
        return fig

    def plot_skill(self) -> go.Figure | None:
        """Out-of-sample MAPE of the model beside the naive forecasts."""
        if not len(self.skill):
            return None
        import plotly.graph_objects as go

        from pvsd.plotting import run_colours

        fig = go.Figure()
        groups = list(self.skill.groupby("series", sort=False))
        for (s, d), colour in zip(groups, run_colours(len(groups) + 1)[1:], strict=True):
            fig.add_trace(go.Bar(x=d["method"], y=d["mape"], name=str(s), marker_color=colour,
                                 text=[f"{v:.2f}%" for v in d["mape"]], textposition="outside"))
        fig.update_layout(template="plotly_white", height=360, yaxis_title="MAPE (%) out of sample",
                          title="Forecast skill: model vs naive forecasts (lower is better)",
                          margin={"t": 70})
        return fig

    # ------------------------------------------------------------------ files
    def html_report(self) -> Any:
        """A :class:`pvsd.report.Report` of this panel calibration."""
        from pvsd.calibration.panel.report import panel_report

        return panel_report(self)

    def write(self, folder: str | Path, force: bool = False, **write_options: Any) -> Path:
        """Write report.html, every table as CSV, results.nc and report.txt (atomically).

        ``write_options`` go to :meth:`pvsd.document.Report.write` (``fragments``,
        ``formats``, ``plotly_js``).
        """
        import shutil
        import tempfile

        from pvsd.io import check_new, replace_dir, write_csv, write_text
        from pvsd.provenance import as_text as provenance_text

        out = Path(folder)
        check_new(out, force)
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            tmp = stage / "out"
            self.html_report().write(tmp, staged_for=out, **write_options)
            tables = {"shared": self.shared, "estimates": self.estimates,
                      "population": self.population, "unit_stats": self.unit_stats,
                      "fitted": self.fitted, "skill": self.skill, "skill_units": self.skill_units,
                      "skipped_units": self.skipped, "paths": self.paths,
                      "forecast": self.forecast[["unit", "series", "year", "value", "lo", "hi",
                                                 "kind", "assumption"]]}
            if not len(self.paths):
                tables.pop("paths")
            if len(self.states):
                tables["states"] = self.states
            for name, t in tables.items():
                write_csv(tmp / f"{name}.csv", t, self.provenance, force=True, index=False)
            ds = self.to_xarray()
            ds.to_netcdf(tmp / "results.nc")
            write_text(tmp / "report.txt", self.report() + "\n\n" + provenance_text(self.provenance))
            if self.scenarios:
                write_text(tmp / "scenarios.toml", self.scenarios + "\n")
            replace_dir(tmp, out, force)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return out / "report.html"


def _estimator(f: Mapping[str, Any]) -> str:
    """One line on the estimator (and, for wave-ahead, its pairs and clipped starts)."""
    if f.get("estimator", "path") != "wave-ahead":
        return "path (each unit's whole path from the run's start)"
    return (f"wave-ahead (one-wave-ahead prediction error): {f['wave_pairs']} pairs of consecutive "
            f"waves, each run from the observed state ({f['wave_state']}); "
            f"{f['wave_clipped']} of {f['wave_starts']} starts clipped; runs: {f['wave_runs']}"
            + (f"; {f['wave_unused']} fitted-period observations are not predicted (fitted.csv: "
               "period \"start\" for each unit's first wave, which only sets the state; "
               "\"unused\" for any after its last state observation)"
               if f.get("wave_unused") else ""))


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float, np.floating)) and math.isfinite(float(v))
