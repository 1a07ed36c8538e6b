"""Scenario discovery: under which conditions does an outcome of interest happen?

A discovery spec (TOML)::

    uncertainties = "public_value_chain_sensitivity.toml"   # a sensitivity spec, or inline:
    # [parameters."Capability Build Time"] lower = 0.5  upper = 2

    [settings]
    n = 10000
    seed = 1
    method = "prim"                # or "cart" (a classification tree; its case leaves are the boxes)
    peel_alpha = 0.05              # PRIM: share peeled per step
    mass_min = 0.05                # PRIM: stop peeling below this share of the members
    min_density = 0.8              # both: the chosen box is the widest with at least this density
    max_depth = 4                  # CART: depth of the tree
    min_leaf = 0.01                # CART: smallest leaf, as a share of the members

    [policy]                       # optional: the policy every member runs
    scenarios = "scenarios/public_value_chain.toml"
    scenario = "technology_alone"

    [case]                         # the outcome of interest
    variable = "Public Trust"
    stat = "at"
    time = 2040
    below = { variable = "Public Trust", stat = "at", time = 2025 }   # or a number; or above = ...

The reference outcome can come from the same world under another policy: ``scenario`` names a
scenario of the [policy] file (or ``"baseline"``, the model as it is) and ``factor`` scales it,
e.g. "public value created 2025-2040 below 90% of what the balanced mix creates in that world"::

    below = { variable = "Public Value Index", stat = "mean", period = [2025, 2040],
              scenario = "balanced_mix", factor = 0.9 }

Every member then also runs under that scenario (the same draws), doubling the runs.
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
from pvsd.policy.cart import DEFAULT_MAX_DEPTH, DEFAULT_MIN_LEAF, CartResult, cart
from pvsd.policy.prim import PrimResult, prim
from pvsd.policy.result import scenarios_toml
from pvsd.sensitivity.spec import Outcome

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from pvsd.parameters import ParameterSpace
    from pvsd.scenarios import Scenario

__all__ = ["DiscoveryResult", "DiscoverySpec", "discover"]

SETTINGS = ("n", "seed", "method", "peel_alpha", "paste_alpha", "mass_min", "min_density", "paste",
            "max_depth", "min_leaf", "title")
METHODS = ("prim", "cart")


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
    #: the reference outcome is read from the same world run under this scenario
    #: (``"baseline"``: the model as it is); None: from the member's own run
    reference_run: str | None = None
    reference_scenario: Scenario | None = None
    #: the reference outcome is multiplied by this
    reference_factor: float = 1.0

    @property
    def where(self) -> str:
        return str(self.source) if self.source else "discovery spec"

    @property
    def case_label(self) -> str:
        if isinstance(self.reference, float):
            ref = f"{self.reference:g}"
        else:
            ref = self.reference.label
            if self.reference_factor != 1.0:
                ref = f"{self.reference_factor:g} x {ref}"
            if self.reference_run is not None:
                ref += f" under {self.reference_run!r} in the same world"
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
        ref_run, factor = None, 1.0
        if isinstance(raw, Mapping):
            raw = dict(raw)
            if "scenario" in raw:
                ref_run = raw.pop("scenario")
                if not isinstance(ref_run, str) or not ref_run:
                    raise SpecError(f"{w}, [case] {rels[0]}: scenario must be a scenario name of the [policy] "
                                    f"file or \"baseline\", got {ref_run!r}.")
            if "factor" in raw:
                factor = raw.pop("factor")
                if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not np.isfinite(factor):
                    raise SpecError(f"{w}, [case] {rels[0]}: factor must be a finite number, got {factor!r}.")
                factor = float(factor)
            reference: float | Outcome = Outcome.from_dict(raw, f"{w}, [case] {rels[0]}")
        elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
            reference = float(raw)
        else:
            raise SpecError(f"{w}, [case]: {rels[0]} must be a number or an outcome table, got {raw!r}.")
        settings = dict(data.get("settings", {}))
        bad = sorted(set(settings) - set(SETTINGS))
        if bad:
            raise SpecError(f"{w}: unknown [settings] key(s) {bad}; allowed: {', '.join(SETTINGS)}.")
        scen = ref_scen = None
        pol = data.get("policy")
        if pol is not None:
            from pvsd.scenarios import load_scenarios

            if not isinstance(pol, Mapping) or "scenarios" not in pol or "scenario" not in pol:
                raise SpecError(f"{w}: [policy] needs scenarios = \"FILE.toml\" and scenario = \"NAME\".")
            file = load_scenarios(rel(str(pol["scenarios"])))
            scen = _pick(file, str(pol["scenario"]), w, "[policy] scenario")
            if ref_run is not None and ref_run != "baseline":
                ref_scen = _pick(file, ref_run, w, f"[case] {rels[0]} scenario")
        elif ref_run is not None and ref_run != "baseline":
            raise SpecError(f"{w}, [case] {rels[0]}: scenario {ref_run!r} needs a [policy] table naming the "
                            "scenarios file it is in (or use scenario = \"baseline\").")
        return cls(space, outcome, "<" if rels[0] == "below" else ">", reference, settings, scen, src,
                   ref_run, ref_scen, factor)

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
        if self.reference_scenario is not None:
            model.check_params(None, self.reference_scenario)
        return replace(self, space=self.space.validate(model), outcome=out, reference=ref)


@dataclass(frozen=True)
class DiscoveryResult:
    """An ensemble, the case of interest in each member, and the boxes found (PRIM or CART).

    ``method`` says which finder ran; ``prim`` or ``cart`` holds its result (the other is
    None) and :attr:`finder` is whichever ran. ``prim_seconds`` is the time the finder took.
    :meth:`with_method` applies the other finder to the same ensemble without rerunning it.
    """

    model: str
    spec: DiscoverySpec
    inputs: pd.DataFrame
    outcome: np.ndarray
    case: np.ndarray
    prim: PrimResult | None
    provenance: Mapping[str, Any]
    run_seconds: float
    prim_seconds: float
    cart: CartResult | None = None
    method: str = "prim"

    @property
    def finder(self) -> PrimResult | CartResult:
        """The PRIM or CART result, whichever ran."""
        out = self.cart if self.method == "cart" else self.prim
        assert out is not None
        return out

    @property
    def box(self) -> pd.DataFrame:
        """Limits of the chosen box on its restricted inputs, with quasi-p-values."""
        return self.finder.box

    @property
    def stats(self) -> pd.Series:
        """Coverage, density, mass, members and restricted inputs of the chosen box."""
        return self.finder.stats

    @property
    def method_label(self) -> str:
        return "CART" if self.method == "cart" else "PRIM"

    def with_method(self, method: str, **settings: Any) -> DiscoveryResult:
        """The same ensemble and cases with boxes found by ``method`` (``prim`` or ``cart``)."""
        from dataclasses import replace

        method, kw = _finder_settings(self.spec, method, settings)
        t1 = _time.perf_counter()
        found = _find(method, self.inputs[self.spec.space.names], self.case, kw, self.provenance.get("seed"))
        secs = _time.perf_counter() - t1
        prov = {k: v for k, v in self.provenance.items() if k not in ("prim_seconds", "cart_seconds")}
        prov.update({"method": method, "finder_settings": kw, f"{method}_seconds": round(secs, 3)})
        return replace(self, prim=found if method == "prim" else None, cart=found if method == "cart" else None,
                       method=method, provenance=prov, prim_seconds=secs)

    def to_dataframe(self) -> pd.DataFrame:
        df = self.inputs.copy()
        df[self.spec.outcome.label] = self.outcome
        df["case"] = self.case.astype(int)
        return df

    def to_xarray(self) -> Any:
        return self.to_dataframe().to_xarray()

    def summary(self) -> str:
        s = self.stats
        box = self.box
        lims = "; ".join(f"{k} in [{r['min']:.4g}, {r['max']:.4g}]" for k, r in box.iterrows())
        what = f"PRIM box {int(s['box'])}" if self.method == "prim" else f"CART box (leaf {int(s['leaf'])})"
        text = (f"Case: {self.spec.case_label}. It happens in {self.case.mean():.1%} of {len(self.case):,} "
                f"members. {what}: {lims or 'no restriction'}; coverage {s['coverage']:.3f}, "
                f"density {s['density']:.3f}, mass {s['mass']:.3f}.")
        if self.cart is not None and self.method == "cart" and len(self.cart.boxes) > 1:
            text += (f" The tree has {len(self.cart.boxes)} case leaves (boxes) of {len(self.cart.leaves)} leaves; "
                     f"together they hold {self.cart.covered:.1%} of the cases.")
        return text

    def scenario_tables(self) -> dict[str, dict[str, Any]]:
        """The chosen box as scenarios: its centre and its two corners on its restricted inputs.

        With CART, every other case leaf adds its centre (``leaf_N_centre``).
        """
        nominal = self.spec.space.nominal
        base = dict(self.spec.scenario.constants) if self.spec.scenario is not None else {}
        levers = ({k: v.to_toml() for k, v in self.spec.scenario.levers.items()}
                  if self.spec.scenario is not None else {})
        boxes: list[tuple[str, pd.DataFrame, bool]] = [("box", self.box, True)]
        if self.cart is not None and self.method == "cart":
            leaves = self.cart.case_leaves
            boxes += [(f"leaf_{int(leaves.loc[i, 'leaf'])}", b, False)
                      for i, b in enumerate(self.cart.boxes) if i != self.cart.chosen]
        out = {}
        for stem, box, corners in boxes:
            lim = "; ".join(f"{k} {r['min']:.4g}-{r['max']:.4g}" for k, r in box.iterrows())
            picks = [("centre", lambda r: 0.5 * (r["min"] + r["max"]))]
            if corners:
                picks += [("low_corner", lambda r: r["min"]), ("high_corner", lambda r: r["max"])]
            for key, pick in picks:
                sets = {**base, **{k: float(v) for k, v in nominal.items() if k not in box.index},
                        **{k: float(pick(r)) for k, r in box.iterrows()}}
                label = "box" if stem == "box" else stem.replace("_", " ")
                t: dict[str, Any] = {"title": f"{self.method_label} {label} {key.replace('_', ' ')}",
                                     "description": f"Where {self.spec.case_label}: {lim} (others nominal).",
                                     "set": sets}
                if levers:
                    t["levers"] = levers
                out[f"{stem}_{key}"] = t
        return out

    def to_scenarios_toml(self) -> str:
        head = (f"{self.method_label} box from pvsd discover on {self.model}, seed {self.provenance.get('seed')}.\n"
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
        """PRIM: the peeling trajectory; CART: the leaves' coverage against density."""
        import plotly.graph_objects as go

        if self.method == "cart":
            return self.plot_leaves()
        assert self.prim is not None
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

    def plot_leaves(self) -> go.Figure:
        """CART: every leaf's coverage against density (marker area: mass), case leaves in blue."""
        import plotly.graph_objects as go

        if self.cart is None:
            raise PvsdError("plot_leaves needs a CART result; use with_method('cart') first.")
        lv = self.cart.leaves
        fig = go.Figure()
        for is_case, colour, name in ((False, "#bbbbbb", "leaf: not the case"),
                                      (True, "#0072B2", "leaf: case (a box)")):
            g = lv[lv["case"] == is_case]
            if g.empty:
                continue
            fig.add_trace(go.Scatter(
                x=g["coverage"], y=g["density"], mode="markers", name=name,
                marker=dict(size=8 + 40 * np.sqrt(g["mass"].to_numpy()), color=colour, opacity=0.8),
                text=[f"leaf {int(r.leaf)}: {r.rule}<br>mass {r.mass:.3f}, {int(r.n)} members"
                      for r in g.itertuples()], hoverinfo="text+x+y"))
        c = self.cart.stats
        fig.add_trace(go.Scatter(x=[c["coverage"]], y=[c["density"]], mode="markers", name="chosen box",
                                 marker=dict(size=22, symbol="circle-open", color="#D55E00", line=dict(width=3))))
        fig.add_hline(y=self.cart.y_mean, line_dash="dot", line_color="#777777",
                      annotation_text="share of cases overall", annotation_position="bottom right")
        fig.update_layout(title="CART leaves: coverage against density (marker area: mass)",
                          xaxis_title="coverage", yaxis=dict(title="density", range=[-0.05, 1.05]), height=460,
                          template="plotly_white", legend=dict(orientation="h", yanchor="top", y=-0.18, x=0))
        return fig

    def plot_box(self) -> go.Figure:
        import plotly.graph_objects as go

        box = self.box
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
                             name="box", hovertext=qp, hoverinfo="y+text"))
        # the limits are written in the right margin, sized to them: as bar text they were cut
        # at the plot's edge in a 700 px column
        for name, text in zip(names, qp, strict=True):
            fig.add_annotation(x=1.01, y=name, xref="paper", yref="y", text=text, showarrow=False,
                               xanchor="left", font={"size": 12})
        fig.update_layout(title=f"{self.method_label} box limits<br><sup>share of each input's sampled range; "
                                "qp = quasi-p-values of the lower, upper limit</sup>",
                          barmode="overlay", xaxis=dict(range=[0, 1.0], title="position in sampled range"),
                          margin={"r": 30 + 7 * max(len(t) for t in qp), "t": 70},
                          legend=dict(orientation="h", yanchor="top", y=-0.35, x=0),
                          height=200 + 60 * len(names), template="plotly_white")
        return fig

    def plot(self) -> go.Figure:
        return self.plot_tradeoff()

    def report(self, title: str | None = None) -> Any:
        from pvsd.policy.report import discovery_report

        return discovery_report(self, title)

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self.summary())}</p>" + self.box.to_html()


def _fmt_p(p: float) -> str:
    return "-" if not np.isfinite(p) else f"{p:.2g}"


def _pick(file: Any, name: str, where: str, what: str) -> Scenario:
    try:
        return file[name]
    except PvsdError as exc:
        raise SpecError(f"{where}, {what}: {exc}") from None


def _finder_settings(spec: DiscoverySpec, method: str | None, over: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The method and its keyword arguments: ``over`` (non-None values) before the spec's [settings]."""
    given = {k: v for k, v in over.items() if v is not None}
    st = {**spec.settings, **given}
    m = method if method is not None else st.get("method", "prim")
    m = str(m).lower() if isinstance(m, str) else m
    src = ("the method argument (--algorithm)" if method is not None
           else f"[settings] method of {spec.where}" if "method" in spec.settings else "the default")
    if m not in METHODS:
        raise SpecError(f"{src}: unknown discovery method {m!r}; choose \"prim\" (Patient Rule "
                        "Induction, one nested box with a peeling trajectory) or \"cart\" (a classification "
                        "tree whose case leaves are the boxes).")
    if m == "prim":
        if "max_depth" in given:
            raise SpecError(f"max_depth (--max-depth) is a setting of CART, but the method is PRIM ({src}); "
                            "add --algorithm cart (method = \"cart\"), or drop --max-depth.")
        kw = {k: st[k] for k in ("peel_alpha", "paste_alpha", "mass_min", "min_density", "paste") if k in st}
        return m, kw
    depth = st.get("max_depth", DEFAULT_MAX_DEPTH)
    src = ("the max_depth argument (--max-depth)" if "max_depth" in given
           else f"[settings] max_depth of {spec.where}")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 1:
        raise SpecError(f"{src}: CART max_depth must be a whole number of at least 1 (the number of "
                        f"splits from the root to a leaf), got {depth!r}; 3-5 keeps the boxes readable.")
    leaf = st.get("min_leaf", DEFAULT_MIN_LEAF)
    if isinstance(leaf, bool) or not isinstance(leaf, (int, float)) or not 0 < leaf < 0.5:
        raise SpecError(f"[settings] min_leaf of {spec.where}: CART min_leaf is the smallest leaf as a share "
                        f"of the members and must lie strictly between 0 and 0.5, got {leaf!r}.")
    kw = {"max_depth": int(depth), "min_leaf": float(leaf)}
    if "min_density" in st:
        kw["min_density"] = st["min_density"]
    return m, kw


def _find(method: str, X: pd.DataFrame, case: np.ndarray, kw: Mapping[str, Any],
          seed: Any) -> PrimResult | CartResult:
    if method == "cart":
        return cart(X, case, seed=int(seed) if seed is not None else 0, **kw)
    return prim(X, case, **kw)


def discover(model: Any, spec: Any, *, n: int | None = None, seed: int | None = None,
             method: str | None = None, max_depth: int | None = None,
             executor: str = "inprocess", progress: bool | None = None) -> DiscoveryResult:
    """Run an uncertainty ensemble and find with PRIM (or CART) where the case of interest happens.

    Parameters
    ----------
    model
        A :class:`pvsd.Model`.
    spec
        :class:`DiscoverySpec`, its TOML file or a dict.
    n, seed
        Override the spec's ensemble size (default 10,000) and seed.
    method
        ``"prim"`` (default) or ``"cart"``; overrides the spec's ``[settings] method``.
    max_depth
        CART only: depth of the tree (default: the spec's, else 4).

    Raises
    ------
    SpecError
        Bad spec or settings (unknown method, ``max_depth`` below 1 ...).
    """
    from pvsd.ensemble import run_ensemble
    from pvsd.provenance import provenance

    if isinstance(spec, Mapping):
        spec = DiscoverySpec.from_dict(spec)
    elif not isinstance(spec, DiscoverySpec):
        spec = DiscoverySpec.from_toml(spec)
    spec = spec.validate(model)
    method, kw = _finder_settings(spec, method, {"max_depth": max_depth})
    st = spec.settings
    n = int(n or st.get("n", 10_000))
    if n < 100:
        raise SpecError(f"{spec.where}: scenario discovery needs an ensemble of at least 100 members, got n = {n}.")
    if seed is None:
        seed = st.get("seed")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31))
    X = spec.space.sample(n, seed=seed)
    ref = spec.reference
    same_run = isinstance(ref, Outcome) and spec.reference_run is None
    outs = [spec.outcome.variable] + ([ref.variable] if same_run else [])  # type: ignore[union-attr]
    t0 = _time.perf_counter()
    ds = run_ensemble(model, X, outputs=list(dict.fromkeys(outs)), scenario=spec.scenario,
                      executor=executor, progress=progress, seed=seed)
    times = ds["time"].values
    y, _ = spec.outcome.evaluate(ds[spec.outcome.variable].values, times)
    if isinstance(ref, Outcome):
        if same_run:
            r = ref.evaluate(ds[ref.variable].values, times)[0]
        else:
            # the same draws under the reference policy (common random numbers: same seed)
            dr = run_ensemble(model, X, outputs=[ref.variable], scenario=spec.reference_scenario,
                              executor=executor, progress=progress, seed=seed)
            r = ref.evaluate(dr[ref.variable].values, dr["time"].values)[0]
        r = spec.reference_factor * np.asarray(r)
    else:
        r = ref
    run_s = _time.perf_counter() - t0
    case = y < r if spec.relation == "<" else y > r
    if case.all():
        raise PvsdError(f"{spec.where}: the case ({spec.case_label}) happens in every one of the {n:,} "
                        f"members, so no condition separates it; {method.upper()} has nothing to find. "
                        "Make the case stricter (a lower threshold or factor) or widen the uncertainties.")
    t1 = _time.perf_counter()
    found = _find(method, X[spec.space.names], case, kw, seed)
    find_s = _time.perf_counter() - t1
    runs = n * (1 if same_run or not isinstance(ref, Outcome) else 2)
    prov = provenance(model.path, model.sha256, {}, scenario=spec.scenario.name if spec.scenario else None,
                      seed=seed, method=method, n_runs=runs, case=spec.case_label,
                      reference_scenario=spec.reference_run,
                      uncertainties=spec.space.names, spec=str(spec.source) if spec.source else "",
                      finder_settings=kw, run_seconds=round(run_s, 3), **{f"{method}_seconds": round(find_s, 3)})
    return DiscoveryResult(model.name, spec, X.reset_index(drop=True), np.asarray(y), np.asarray(case),
                           found if method == "prim" else None, prov, run_s, find_s,
                           cart=found if method == "cart" else None, method=method)
