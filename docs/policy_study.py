"""Policy study on the reference model: best pathway mix for a budget, its robustness, and where
a technology-first strategy fails.

    python docs/policy_study.py [MODEL] [--out FOLDER] [--quick]

MODEL defaults to the bundled reference model (public_value_chain, v1); the script reads the spec
files beside it (MODEL_sensitivity.toml, scenarios/MODEL.toml) and so reruns unchanged on a model
that keeps v1's lever names. The v1 model's levers cost nothing, so the budget is total lever
effort (sum of the four pathway levers' levels, 0-1 each). The v2 model has a finite budget and
allocation levers: its study is docs/policy_study_v2.py. Levers act from 2025 (a step in 2025 from the
model's value to the chosen level), so the past is not rewritten. Prints Markdown tables (pasted
into models/README.md) and, with --out, writes each report folder there.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import pvsd
from pvsd.policy import discover, optimize

LEVERS = ["Technology Investment", "Organisational Reform Effort", "Coproduction Programme",
          "Agile Capability Programme"]
BUDGETS = [0.8, 1.2, 1.6, 2.0]


def spec(budget: float, pop: int, gens: int, robust: dict | None = None) -> dict:
    s = {"settings": {"population": pop, "generations": gens, "seed": 20260101},
         "levers": {n: {"type": "step", "year": [2025, 2025], "level": [0, 1]} for n in LEVERS},
         "objectives": [{"variable": "Cumulative Public Value", "stat": "at", "time": 2040, "sense": "max"}],
         "constraints": [{"budget": budget}]}
    if robust:
        s["robust"] = robust
    return s


def md(frame: pd.DataFrame, index: bool = True) -> str:
    """A Markdown table (no extra dependency)."""
    f = frame.reset_index() if index else frame
    cells = [[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row] for row in f.itertuples(index=False)]
    head = [str(c) for c in f.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", default="public_value_chain")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--quick", action="store_true", help="small searches (a smoke test)")
    a = ap.parse_args()
    m = pvsd.load(a.model)
    here = m.path.parent
    pop, gens, worlds = (8, 2, 5) if a.quick else (30, 12, 30)
    t0 = time.perf_counter()
    base = m.run(outputs=["Cumulative Public Value"]).to_dataframe()
    base40 = float(base.loc[2040.0, "Cumulative Public Value"])
    rows = []
    for b in BUDGETS:
        r = optimize(m, spec(b, pop, gens), progress=False)
        best = r.best
        rows.append({"budget (total effort)": b,
                     **{n: round(float(best[f"{n}: level"]), 3) for n in LEVERS},
                     "Cumulative Public Value 2040": round(float(best.iloc[-1]), 3),
                     "vs baseline": f"{(best.iloc[-1] / base40 - 1):+.1%}"})
        if a.out:
            from pvsd.policy.report import write_folder

            write_folder(r.report(), r.to_scenarios_toml(), a.out / f"optimize-budget-{b:g}")
    table = pd.DataFrame(rows)
    print(f"Baseline Cumulative Public Value in 2040: {base40:.3f}\n")
    print(md(table, index=False))

    unc = here / f"{m.name}_sensitivity.toml"
    r = optimize(m, spec(1.6, pop, gens, {"uncertainties": str(unc), "n": worlds,
                                          "statistic": "percentile", "percentile": 10}), progress=False)
    ch = r.chosen.set_index("policy")
    print("\nRobust (10th percentile over the uncertainty ensemble) vs nominal optimum, budget 1.6:\n")
    print(md(ch[[f"{n}: level" for n in LEVERS]] .join(ch.iloc[:, -1:])))
    print()
    print(md(r.robustness.drop(columns="objective"), index=False))
    if a.out:
        from pvsd.policy.report import write_folder

        write_folder(r.report(), r.to_scenarios_toml(), a.out / "optimize-robust-1.6")

    disc = {"uncertainties": str(unc), "settings": {"n": 2000 if a.quick else 10_000, "seed": 20260102},
            "policy": {"scenarios": str(here / "scenarios" / f"{m.name}.toml"), "scenario": "technology_alone"},
            "case": {"variable": "Public Trust", "stat": "at", "time": 2040,
                     "below": {"variable": "Public Trust", "stat": "at", "time": 2025}}}
    d = discover(m, disc, progress=False)
    print("\nTechnology first (scenario technology_alone): " + d.summary() + "\n")
    print(md(d.prim.box))
    if a.out:
        from pvsd.policy.report import write_folder

        write_folder(d.report(), d.to_scenarios_toml(), a.out / "discover-technology-first")
    print(f"\n(study took {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
