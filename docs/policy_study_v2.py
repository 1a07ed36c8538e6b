"""Policy study on the reference model v2 (finite budget): the best pathway mix for a budget, how
robust it is, and under which conditions a technology-first strategy fails.

    python docs/policy_study_v2.py [--out FOLDER] [--quick]

v2 has one finite `Digital Government Budget` that four allocation weights split between the
pathways (technology, organisational reform, collaboration, agility; the weights are normalised
by their sum), with diminishing returns per lever. So the decision is the *mix*: the four
weights, each a step in 2025 from its baseline value to a chosen level (the past is not
rewritten), at a given budget (also a step in 2025). Objective: Cumulative Public Value in 2040.
The uncertainties are those of models/public_value_chain_v2_sensitivity.toml; the policies
compared are those of models/scenarios/public_value_chain_v2.toml. Prints the Markdown tables of
models/README.md; with --out, writes each report folder there. tests/test_policy_v2_study.py runs
`study(quick=True)` and checks the README's qualitative claims.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import pvsd
from pvsd.ensemble import run_ensemble
from pvsd.policy import discover, optimize
from pvsd.scenarios import load_scenarios
from pvsd.sensitivity.spec import load_spec
from pvsd.timefunc import Step

HERE = Path(__file__).resolve().parent.parent / "models"
MODEL = HERE / "public_value_chain_v2.mdl"
SENSITIVITY = HERE / "public_value_chain_v2_sensitivity.toml"
SCENARIOS = HERE / "scenarios" / "public_value_chain_v2.toml"
DISCOVER = HERE / "public_value_chain_v2_discover.toml"
LEVERS = ["Technology Allocation", "Reform Allocation", "Collaboration Allocation", "Agile Allocation"]
SHORT = {"Technology Allocation": "technology", "Reform Allocation": "reform",
         "Collaboration Allocation": "collaboration", "Agile Allocation": "agility"}
BUDGET = "Digital Government Budget"
BUDGETS = [0.3, 0.5, 0.8]
ROBUST_BUDGET = 0.5
SEED = 20260101
OBJ = "Cumulative Public Value"
YEAR = 2040
#: population, generations, worlds searched over, fresh worlds, discovery members
FULL = (30, 15, 30, 300, 10_000)
QUICK = (10, 4, 8, 120, 2000)
#: fixed mixes (shares) compared with the optimum, from the scenario file where it has them
MIXES = {"baseline mix": (0.5, 0.2, 0.15, 0.15), "balanced mix": (0.25, 0.25, 0.25, 0.25),
         "technology alone": (1.0, 0.0, 0.0, 0.0)}


def policy_spec(budget: float, pop: int, gens: int, robust: dict | None = None) -> dict:
    """The search at one budget (as models/public_value_chain_v2_policy.toml, whose budget is 0.5)."""
    s: dict[str, Any] = {
        "settings": {"population": pop, "generations": gens, "seed": SEED},
        "levers": {**{n: {"type": "step", "year": [2025, 2025], "level": [0, 1]} for n in LEVERS},
                   BUDGET: {"type": "step", "year": [2025, 2025], "level": [budget, budget]}},
        "objectives": [{"variable": OBJ, "stat": "at", "time": YEAR, "sense": "max"}]}
    if robust:
        s["robust"] = robust
    return s


def shares_of(row: pd.Series) -> tuple[float, ...]:
    """Allocation shares (the model normalises the weights by their sum)."""
    w = np.array([float(row[f"{n}: level"]) for n in LEVERS])
    return tuple(float(v) for v in w / w.sum())


def mix_params(shares: tuple[float, ...], budget: float) -> dict[str, Any]:
    p: dict[str, Any] = {n: Step(2025, v) for n, v in zip(LEVERS, shares, strict=True)}
    p[BUDGET] = Step(2025, budget)
    return p


def value(model: Any, shares: tuple[float, ...], budget: float, worlds: pd.DataFrame | None = None) -> np.ndarray:
    """Cumulative Public Value in 2040 of a mix at a budget (per world, or the nominal run)."""
    samples = worlds if worlds is not None else pd.DataFrame(index=range(1))
    ds = run_ensemble(model, samples, outputs=[OBJ], params=mix_params(shares, budget), progress=False)
    return ds[OBJ].sel(time=float(YEAR)).values


def study(quick: bool = False, out: Path | None = None, model: Any = None) -> dict[str, Any]:
    """Run the study; return its numbers (``quick``: small searches for the test)."""
    from pvsd.policy.report import write_folder

    m = model if model is not None else pvsd.load(MODEL)
    pop, gens, worlds_n, fresh_n, disc_n = QUICK if quick else FULL
    t0 = time.perf_counter()
    base = m.run(outputs=[OBJ]).to_dataframe()[OBJ]
    hist = float(base.loc[2025.0])  # the same in every policy (levers act from 2025)
    res: dict[str, Any] = {"quick": quick, "value_2025": hist, "baseline": float(base.loc[float(YEAR)]),
                           "settings": {"population": pop, "generations": gens, "worlds": worlds_n,
                                        "fresh_worlds": fresh_n, "discovery_members": disc_n, "seed": SEED}}

    # 1. the best mix at each budget, beside the fixed mixes at that budget
    rows = []
    for b in BUDGETS:
        r = optimize(m, policy_spec(b, pop, gens), progress=False)
        sh = shares_of(r.best)
        best = float(r.best[r.objectives[0]])
        row: dict[str, Any] = {"budget": b, **{SHORT[n]: s for n, s in zip(LEVERS, sh, strict=True)},
                               "optimum": best}
        for name, mix in MIXES.items():
            row[name] = float(value(m, mix, b)[0])
        rows.append(row)
        if out:
            write_folder(r.report(), r.to_scenarios_toml(), out / f"optimize-budget-{b:g}")
    res["optima"] = pd.DataFrame(rows)

    # 2. robustness at the baseline budget: expected value over the sensitivity spec's worlds
    r = optimize(m, policy_spec(ROBUST_BUDGET, pop, gens, {"uncertainties": str(SENSITIVITY), "n": worlds_n,
                                                            "statistic": "mean"}), progress=False)
    ch = r.chosen.set_index("policy")
    fresh = load_spec(SENSITIVITY).space.sample(fresh_n, seed=SEED + 1)
    pols = {"robust optimum": shares_of(ch.loc["robust optimum"]),
            "nominal optimum": shares_of(ch.loc["nominal optimum"]), **MIXES}
    vals = {k: value(m, s, ROBUST_BUDGET, fresh) for k, s in pols.items()}
    nominal_best = vals["nominal optimum"]
    rrows = []
    for k, v in vals.items():
        rrows.append({"policy": k, **{SHORT[n]: s for n, s in zip(LEVERS, pols[k], strict=True)},
                      "nominal run": float(value(m, pols[k], ROBUST_BUDGET)[0]),
                      "mean": v.mean(), "p10": np.percentile(v, 10), "p50": np.percentile(v, 50),
                      "p90": np.percentile(v, 90),
                      "nominal optimum better in": float(np.mean(nominal_best > v)) if k != "nominal optimum"
                      else np.nan})
    res["robust"] = pd.DataFrame(rrows)
    res["tech_below_balanced"] = float(np.mean(vals["technology alone"] < vals["balanced mix"]))
    res["robust_worlds"] = len(fresh)
    if out:
        write_folder(r.report(), r.to_scenarios_toml(), out / f"optimize-robust-{ROBUST_BUDGET:g}")

    # 3. where technology first fails: the spec of models/public_value_chain_v2_discover.toml
    scen = load_scenarios(SCENARIOS, m)
    tech = run_ensemble(m, fresh, outputs=["Public Trust"], scenario=scen["technology_alone"], progress=False)
    trust = tech["Public Trust"]
    res["tech_trust_falls"] = float(np.mean(trust.sel(time=float(YEAR)).values < trust.sel(time=2025.0).values))
    d = discover(m, DISCOVER, n=disc_n, method="prim", progress=False)
    c = d.with_method("cart")
    res["discovery"] = {"case": d.spec.case_label, "share": float(d.case.mean()), "n": len(d.case),
                        "prim": d.stats[["coverage", "density", "mass"]].astype(float).to_dict(),
                        "prim_box": d.box, "cart": c.stats[["coverage", "density", "mass"]].astype(float).to_dict(),
                        "cart_box": c.box, "cart_boxes": len(c.cart.boxes), "cart_covered": c.cart.covered,
                        "cart_union": c.cart.union}
    if out:
        write_folder(d.report(), d.to_scenarios_toml(), out / "discover-technology-first-prim")
        write_folder(c.report(), c.to_scenarios_toml(), out / "discover-technology-first-cart")
    res["seconds"] = time.perf_counter() - t0
    return res


def md(frame: pd.DataFrame, index: bool = False, digits: int = 3) -> str:
    """A Markdown table (no extra dependency)."""
    f = frame.reset_index() if index else frame

    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else (f"{v:.2g}" if 0 < abs(v) < 1e-3 else f"{v:.{digits}f}")
        return str(v)

    lines = ["| " + " | ".join(str(c) for c in f.columns) + " |", "|" + "---|" * len(f.columns)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in f.itertuples(index=False)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write the report folders here")
    ap.add_argument("--quick", action="store_true", help="small searches (what the test runs)")
    a = ap.parse_args()
    r = study(a.quick, a.out)
    h = r["value_2025"]
    print(f"Settings: {r['settings']}")
    print(f"Cumulative Public Value 2025 (every policy): {h:.3f}; baseline 2040: {r['baseline']:.3f}\n")
    o = r["optima"].copy()
    for k in ("optimum", *MIXES):
        o[f"{k} gain"] = o[k] - h
    rel = o["optimum gain"] / o["baseline mix gain"] - 1
    o["optimum vs baseline mix (gain 2025-2040)"] = [f"{v:+.1%}" for v in rel]
    o["optimum vs balanced mix"] = [f"{v:+.1%}" for v in o["optimum gain"] / o["balanced mix gain"] - 1]
    print("Best mix per budget (allocation shares), Cumulative Public Value 2040:\n")
    print(md(o[["budget", *SHORT.values(), "optimum", *MIXES, "optimum vs baseline mix (gain 2025-2040)",
                "optimum vs balanced mix"]]))
    print(f"\nRobust (mean over {r['settings']['worlds']} worlds), budget {ROBUST_BUDGET}; judged on "
          f"{r['robust_worlds']} fresh worlds:\n")
    print(md(r["robust"]))
    dd = r["discovery"]
    print(f"\nTechnology alone: trust in 2040 below its 2025 level in {r['tech_trust_falls']:.1%} of the fresh worlds; "
          f"less public value by 2040 than the balanced mix in {r['tech_below_balanced']:.1%}.")
    print(f"\nDiscovery: case {dd['case']}: {dd['share']:.1%} of {dd['n']:,} members.")
    print(f"PRIM: {dd['prim']}\n")
    print(md(dd["prim_box"], index=True))
    print(f"\nCART ({dd['cart_boxes']} case leaves; together {dd['cart_union']}): {dd['cart']}\n")
    print(md(dd["cart_box"], index=True))
    print(f"\n(study took {r['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
