"""Scenario discovery: under which conditions does an outcome of interest happen?

A discovery spec (TOML)::

    uncertainties = "public_value_chain_sensitivity.toml"   # a sensitivity spec, or inline:
    # [parameters."Capability Build Time"] lower = 0.5  upper = 2

    [settings]
    n = 10000
    seed = 1
    peel_alpha = 0.05
    mass_min = 0.05
    min_density = 0.8

    [policy]                       # optional: the policy every member runs
    scenarios = "scenarios/public_value_chain.toml"
    scenario = "technology_alone"

    [case]                         # the outcome of interest
    variable = "Public Trust"
    stat = "at"
    time = 2040
    below = { variable = "Public Trust", stat = "at", time = 2025 }   # or a number; or above = ...
"""

from __future__ import annotations

import html
import time as _time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pvsd.errors import PvsdError, SpecError
from pvsd.policy.prim import PrimResult, prim
from pvsd.policy.result import scenarios_toml
from pvsd.sensitivity.spec import Outcome

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from pvsd.parameters import ParameterSpace
    from pvsd.scenarios import Scenario

__all__ = ["DiscoveryResult", "DiscoverySpec", "discover"]

SETTINGS = ("n", "seed", "peel_alpha", "paste_alpha", "mass_min", "min_density", "paste", "title")


@dataclass(frozen=True)
class DiscoverySpec:
    """Uncertainties, the case of interest, an optional policy and PRIM settings."""

    space: ParameterSpace
    outcome: Outcome
    relation: str
    reference: float | Outcome
    settings: Mapping[str, Any] = field(default_factory=dict)
    scenario: Scenario | None = None
    source: Path | None = None

    @property
    def where(self) -> str:
        return str(self.source) if self.source else "discovery spec"

    @property
    def case_label(self) -> str:
        ref = f"{self.reference:g}" if isinstance(self.reference, float) else self.reference.label
        return f"{self.outcome.label} {self.relation} {ref}"

    @classmethod
    def from_toml(cls, path: str | Path) -> DiscoverySpec:
        p = Path(path)
        if not p.is_file():
            raise SpecError(f"Discovery spec {str(p)!r} does not exist; check the path.")
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SpecError(f"Discovery spec {str(p)!r} is not valid TOML: {exc}.") from None
        return cls.from_dict(data, p)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | Path | None = None) -> DiscoverySpec:
        from pvsd.parameters import ParameterSpace
        from pvsd.sensitivity.spec import load_spec

        src = Path(source) if source is not None else None
        w = str(src) if src else "discovery spec"
        unknown = sorted(set(data) - {"uncertainties", "parameters", "settings", "policy", "case",
                                      "title", "description"})
        if unknown:
            raise SpecError(f"{w}: unknown top-level key(s) {unknown}; a discovery spec has uncertainties "
                            "(or [parameters.NAME]), [settings], [policy] and [case].")

        def rel(p: str) -> Path:
            q = Path(p)
            return q if q.is_absolute() or src is None else src.parent / q

        if "parameters" in data:
            space = ParameterSpace.from_dict({"parameters": data["parameters"]}, source=src)
        elif "uncertainties" in data:
            space = load_spec(rel(str(data["uncertainties"]))).space
        else:
            raise SpecError(f"{w}: give uncertainties = \"SENSITIVITY_SPEC.toml\" or [parameters.NAME] tables.")
        case = data.get("case")
        if not isinstance(case, Mapping):
            raise SpecError(f"{w}: needs a [case] table: the outcome of interest, e.g. variable = "
                            "\"Public Trust\", stat = \"at\", time = 2040, below = 0.5.")
        case = dict(case)
        rels = [k for k in ("below", "above") if k in case]
        if len(rels) != 1:
            raise SpecError(f"{w}, [case]: give exactly one of below = ... or above = ... (a number or an "
                            "outcome table).")
        raw = case.pop(rels[0])
        outcome = Outcome.from_dict(case, f"{w}, [case]")
        if isinstance(raw, Mapping):
            reference: float | Outcome = Outcome.from_dict(raw, f"{w}, [case] {rels[0]}")
        elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
            reference = float(raw)
        else:
            raise SpecError(f"{w}, [case]: {rels[0]} must be a number or an outcome table, got {raw!r}.")
        settings = dict(data.get("settings", {}))
        bad = sorted(set(settings) - set(SETTINGS))
        if bad:
            raise SpecError(f"{w}: unknown [settings] key(s) {bad}; allowed: {', '.join(SETTINGS)}.")
        scen = None
        pol = data.get("policy")
        if pol is not None:
            from pvsd.scenarios import load_scenarios

            if not isinstance(pol, Mapping) or "scenarios" not in pol or "scenario" not in pol:
                raise SpecError(f"{w}: [policy] needs scenarios = \"FILE.toml\" and scenario = \"NAME\".")
            scen = load_scenarios(rel(str(pol["scenarios"])))[str(pol["scenario"])]
        return cls(space, outcome, "<" if rels[0] == "below" else ">", reference, settings, scen, src)

    def validate(self, model: Any) -> DiscoverySpec:
        from dataclasses import replace

        from pvsd.policy.spec import Objective, PolicySpec

        loc = f"{self.where}, [case]"
        out = PolicySpec._check_obj(Objective(self.outcome), model, loc).outcome
        ref = self.reference
        if isinstance(ref, Outcome):
            ref = PolicySpec._check_obj(Objective(ref), model, loc).outcome
        if self.scenario is not None:
            model.check_params(None, self.scenario)
        return replace(self, space=self.space.validate(model), outcome=out, reference=ref)


@dataclass(frozen=True)
class DiscoveryResult:
    """An ensemble, the case of interest in each member, and the PRIM boxes."""

    model: str
    spec: DiscoverySpec
    inputs: pd.DataFrame
    outcome: np.ndarray
    case: np.ndarray
    prim: PrimResult
    provenance: Mapping[str, Any]
    run_seconds: float
    prim_seconds: float

    def to_dataframe(self) -> pd.DataFrame:
        df = self.inputs.copy()
        df[self.spec.outcome.label] = self.outcome
        df["case"] = self.case.astype(int)
        return df

    def to_xarray(self) -> Any:
        return self.to_dataframe().to_xarray()

    def summary(self) -> str:
        s = self.prim.stats
        box = self.prim.box
        lims = "; ".join(f"{k} in [{r['min']:.4g}, {r['max']:.4g}]" for k, r in box.iterrows())
        return (f"Case: {self.spec.case_label}. It happens in {self.case.mean():.1%} of {len(self.case):,} "
                f"members. PRIM box {int(s['box'])}: {lims or 'no restriction'}; coverage {s['coverage']:.3f}, "
                f"density {s['density']:.3f}, mass {s['mass']:.3f}.")

    def scenario_tables(self) -> dict[str, dict[str, Any]]:
        """The box as scenarios: the box centre, and the box's two corners on its restricted inputs."""
        box = self.prim.box
        nominal = self.spec.space.nominal
        base = dict(self.spec.scenario.constants) if self.spec.scenario is not None else {}
        levers = ({k: v.to_toml() for k, v in self.spec.scenario.levers.items()}
                  if self.spec.scenario is not None else {})
        lim = "; ".join(f"{k} {r['min']:.4g}-{r['max']:.4g}" for k, r in box.iterrows())
        out = {}
        for key, pick, what in (("box_centre", lambda r: 0.5 * (r["min"] + r["max"]), "centre"),
                                ("box_low_corner", lambda r: r["min"], "low corner"),
                                ("box_high_corner", lambda r: r["max"], "high corner")):
            sets = {**base, **{k: float(v) for k, v in nominal.items() if k not in box.index},
                    **{k: float(pick(r)) for k, r in box.iterrows()}}
            t: dict[str, Any] = {"title": f"PRIM box {what}",
                                 "description": f"Where {self.spec.case_label}: {lim} (others nominal).",
                                 "set": sets}
            if levers:
                t["levers"] = levers
            out[key] = t
        return out

    def to_scenarios_toml(self) -> str:
        head = (f"PRIM box from pvsd discover on {self.model}, seed {self.provenance.get('seed')}.\n"
                f"model_sha256: {self.provenance.get('model_sha256', '')}\n"
                f"Run them: pvsd scenarios {self.model} THIS_FILE")
        comp: dict[str, Any] = {"outputs": [self.spec.outcome.variable]}
        if self.spec.outcome.time is not None:
            comp["years"] = [self.spec.outcome.time]
        return scenarios_toml(self.scenario_tables(), head, comp)

    def write_scenarios(self, path: str | Path, force: bool = False) -> Path:
        from pvsd.io import write_text

        return write_text(path, self.to_scenarios_toml(), force=force)

    def plot_tradeoff(self) -> go.Figure:
        import plotly.graph_objects as go

        t = self.prim.trajectory
        fig = go.Figure(go.Scatter(
            x=t["coverage"], y=t["density"], mode="markers+lines",
            marker=dict(size=8, color=t["res_dim"], colorscale="Viridis", showscale=True,
                        colorbar=dict(title="restricted<br>inputs")),
            text=[f"box {b}, mass {m:.3f}" for b, m in zip(t["box"], t["mass"], strict=True)],
            name="peeling trajectory"))
        c = t.iloc[self.prim.chosen]
        fig.add_trace(go.Scatter(x=[c["coverage"]], y=[c["density"]], mode="markers", name="chosen box",
                                 marker=dict(size=16, symbol="circle-open", color="#D55E00", line=dict(width=3))))
        fig.update_layout(title="PRIM peeling trajectory: coverage against density", xaxis_title="coverage",
                          yaxis_title="density", height=460, template="plotly_white",
                          legend=dict(orientation="h", yanchor="top", y=-0.18, x=0))
        return fig

    def plot_box(self) -> go.Figure:
        import plotly.graph_objects as go

        box = self.prim.box
        fig = go.Figure()
        if box.empty:
            return fig
        names = list(box.index)
        span = (box["range max"] - box["range min"]).replace(0, 1)
        lo = (box["min"] - box["range min"]) / span
        hi = (box["max"] - box["range min"]) / span
        fig.add_trace(go.Bar(y=names, x=[1] * len(names), orientation="h", marker_color="#e5e8ee",
                             name="range sampled", hoverinfo="skip"))
        qp = [f"{r['min']:.3g} to {r['max']:.3g} (qp {_fmt_p(r['qp min'])}, {_fmt_p(r['qp max'])})"
              for _, r in box.iterrows()]
        fig.add_trace(go.Bar(y=names, x=hi - lo, base=lo, orientation="h", marker_color="#0072B2",
                             name="box", text=qp, textposition="outside"))
        fig.update_layout(title="PRIM box limits (share of each input's sampled range; qp = quasi-p-value)",
                          barmode="overlay", xaxis=dict(range=[0, 1.6], title="position in sampled range"),
                          height=160 + 60 * len(names), template="plotly_white")
        return fig

    def plot(self) -> go.Figure:
        return self.plot_tradeoff()

    def report(self, title: str | None = None) -> Any:
        from pvsd.policy.report import discovery_report

        return discovery_report(self, title)

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.summary())}</p>" + self.prim.box.to_html()


def _fmt_p(p: float) -> str:
    return "-" if not np.isfinite(p) else f"{p:.2g}"


def discover(model: Any, spec: Any, *, n: int | None = None, seed: int | None = None,
             executor: str = "inprocess", progress: bool | None = None) -> DiscoveryResult:
    """Run an uncertainty ensemble and find with PRIM where the case of interest happens.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`.
    spec
        :class:`DiscoverySpec`, its TOML file or a dict.
    n, seed
        Override the spec's ensemble size (default 10,000) and seed.
    """
    from pvsd.ensemble import run_ensemble
    from pvsd.provenance import provenance

    if isinstance(spec, Mapping):
        spec = DiscoverySpec.from_dict(spec)
    elif not isinstance(spec, DiscoverySpec):
        spec = DiscoverySpec.from_toml(spec)
    spec = spec.validate(model)
    st = spec.settings
    n = int(n or st.get("n", 10_000))
    if n < 100:
        raise SpecError(f"{spec.where}: PRIM needs an ensemble of at least 100 members, got n = {n}.")
    if seed is None:
        seed = st.get("seed")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    X = spec.space.sample(n, seed=seed)
    outs = [spec.outcome.variable]
    if isinstance(spec.reference, Outcome):
        outs.append(spec.reference.variable)
    t0 = _time.perf_counter()
    ds = run_ensemble(model, X, outputs=list(dict.fromkeys(outs)), scenario=spec.scenario,
                      executor=executor, progress=progress, seed=seed)
    run_s = _time.perf_counter() - t0
    times = ds["time"].values
    y, _ = spec.outcome.evaluate(ds[spec.outcome.variable].values, times)
    ref = spec.reference
    r = ref.evaluate(ds[ref.variable].values, times)[0] if isinstance(ref, Outcome) else ref
    case = y < r if spec.relation == "<" else y > r
    if case.all():
        raise PvsdError(f"{spec.where}: the case ({spec.case_label}) happens in every one of the {n:,} "
                        "members, so no condition separates it; PRIM has nothing to find.")
    t1 = _time.perf_counter()
    kw = {k: st[k] for k in ("peel_alpha", "paste_alpha", "mass_min", "min_density", "paste") if k in st}
    res = prim(X[spec.space.names], case, **kw)
    prim_s = _time.perf_counter() - t1
    prov = provenance(model.path, model.sha256, {}, scenario=spec.scenario.name if spec.scenario else None,
                      seed=seed, method="prim", n_runs=n, case=spec.case_label,
                      uncertainties=spec.space.names, spec=str(spec.source) if spec.source else "",
                      prim_settings=kw, run_seconds=round(run_s, 3), prim_seconds=round(prim_s, 3))
    return DiscoveryResult(model.name, spec, X.reset_index(drop=True), np.asarray(y), np.asarray(case),
                           res, prov, run_s, prim_s)
