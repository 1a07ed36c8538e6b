"""HTML reports of policy searches and scenario discovery (figures get ``policy-`` / ``prim-`` ids)."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["discovery_report", "optimization_report"]


def optimization_report(result: Any, title: str | None = None) -> Any:
    """A :class:`pvsd.report.Report` of an :class:`~pvsd.policy.OptimizationResult`."""
    from pvsd.report import Report

    spec = result.spec
    rep = Report(title=title or f"Policy search on {result.model}",
                 subtitle=f"{result.method}; {len(spec.levers)} levers, {len(spec.objectives)} objective(s); "
                          f"{result.n_runs:,} runs, seed {result.seed}",
                 provenance=dict(result.provenance))
    rep.section("Summary")
    rep.add_text(result.summary())
    rep.add_html(f'<p class="caption">{result.n_runs:,} model runs took {result.run_seconds:.1f} s '
                 f"of {result.seconds:.1f} s in all.</p>")
    rep.section("Levers, objectives and constraints")
    lev = pd.DataFrame([{"lever": lv.variable, "type": lv.kind,
                         "bounds": "; ".join(f"{n.split(': ')[-1] if lv.kind != 'constant' else 'level'} "
                                             f"[{a:g}, {b:g}]" for n, (a, b) in zip(lv.names, lv.bounds, strict=True))}
                        for lv in spec.levers]).set_index("lever")
    rep.add_table(lev)
    objs = pd.DataFrame([{"objective": o.label, "sense": o.sense} for o in spec.objectives]).set_index("objective")
    rep.add_table(objs)
    if spec.constraints:
        rep.add_table(pd.DataFrame({"constraint": [c.label for c in spec.constraints]}).set_index("constraint"))
    rep.section("Chosen policies")
    chosen = result.chosen
    if len(spec.objectives) > 1:
        rep.add_figure(result.plot_front(), "policy-pareto-front",
                       caption="Grey: every feasible member evaluated; blue: the non-dominated set.")
        if len(chosen) > 10:
            import numpy as np

            chosen = chosen.iloc[np.unique(np.linspace(0, len(chosen) - 1, 10).round().astype(int))]
    # decision variables fixed by their bounds are the same in every row: named in the caption
    fixed = {n: lo for n, (lo, hi) in zip(spec.names, spec.bounds, strict=True) if hi <= lo and n in chosen}
    shown = chosen.drop(columns=list(fixed)) if len(fixed) < len(spec.names) else chosen
    fixed_note = (" Fixed by their bounds (not columns): " + "; ".join(f"{n} = {v:.4g}" for n, v in fixed.items())
                  + "." if shown is not chosen else "")
    rep.add_table(shown.set_index("policy"),
                  caption=("Decision variables and objective values of the chosen policies"
                           + (f" (10 of the {len(result.chosen)} spread along the front; all in chosen.csv)"
                              if len(chosen) < len(result.chosen) else "")
                           + "; written as scenarios.toml, which `pvsd scenarios` runs."
                           + (f" Objective columns hold the {result.spec.robust.describe()} over the worlds "
                              "searched (lower is better), against the "
                              + str((result.provenance.get("robust_spec") or {}).get("regret_reference", ""))
                              + "." if result.regret and result.spec.robust else "")
                           + fixed_note))
    rep.add_csv("chosen", result.chosen)
    rep.add_figure(result.plot_trajectories(), "policy-trajectories",
                   caption="Nominal runs of the baseline and the chosen policies.")
    if result.robustness is not None:
        rep.section("Robustness")
        rep.add_table(result.robustness.set_index(["policy", "objective"]), name="robustness",
                      caption="Each chosen policy across a fresh sample of the uncertainty ensemble "
                          "(not the worlds the search used).")
        rep.add_figure(result.plot_robustness(), "policy-robustness")
    rep.section("Convergence")
    rep.add_figure(result.plot_convergence(), "policy-convergence")
    rep.add_table(result.convergence().set_index("generation"), name="convergence")
    rep.add_csv("evaluated", result.history)
    return rep


def discovery_report(result: Any, title: str | None = None) -> Any:
    """A :class:`pvsd.report.Report` of a :class:`~pvsd.policy.DiscoveryResult` (PRIM or CART)."""
    import html

    from pvsd.report import Report

    how = result.method_label
    rep = Report(title=title or f"Scenario discovery on {result.model}",
                 subtitle=f"{how} over {len(result.case):,} members; case: {result.spec.case_label}",
                 provenance=dict(result.provenance))
    rep.section("Summary")
    rep.add_text(result.summary())
    rep.add_html(f'<p class="caption">Ensemble {result.run_seconds:.1f} s, {how} {result.prim_seconds:.1f} s. '
                 "Coverage: share of all cases of interest inside the box; density: share of the box's "
                 "members that are cases; mass: share of all members inside the box. A quasi-p-value "
                 "below 0.05 marks a limit that matters.</p>")
    if result.spec.scenario is not None:
        rep.add_text(f"Every member runs the policy {result.spec.scenario.label!r}.")
    if result.method == "cart":
        c = result.cart
        st = c.settings
        rep.section("Classification tree")
        rep.add_figure(result.plot_leaves(), "cart-leaves",
                       caption="Each point is a leaf of the tree; blue leaves (majority: the case) are the boxes. "
                               "The chosen box has the highest coverage among the boxes with density at least "
                               f"{st['min_density']:g}.")
        cols = ["leaf", "case", "rule", "coverage", "density", "mass", "n", "res_dim", "depth"]
        rep.add_table(c.leaves[cols].set_index("leaf").sort_values(["case", "coverage"], ascending=False),
                      name="leaves",
                      caption=f"Every leaf of the tree (max_depth {st['max_depth']}, smallest leaf "
                              f"{st['min_leaf']:g} of the members, seed {st['seed']}); a box is lower < x <= upper.")
        rep.add_html("<details><summary>The fitted tree (scikit-learn export_text)</summary><pre>"
                     + html.escape(c.tree_text) + "</pre></details>")
    else:
        rep.section("Peeling trajectory")
        rep.add_figure(result.plot_tradeoff(), "prim-tradeoff",
                       caption="Each point is a box; peeling moves left (less coverage) and up (more density).")
        traj = result.prim.trajectory
        step = max(1, len(traj) // 12)
        shown = traj[(traj["box"] % step == 0) | (traj.index == result.prim.chosen) | (traj.index == len(traj) - 1)]
        rep.add_table(shown.set_index("box"), name="trajectory",
                      caption=f"One box in {step} of the {len(traj)}, the chosen one and the last "
                              "(all in trajectory.csv)." if step > 1 else "")
        rep.add_csv("trajectory", traj)
    rep.section("Box")
    rep.add_figure(result.plot_box(), f"{result.method}-box-limits")
    rep.add_table(result.box, name="box", caption="Limits of the chosen box on its restricted inputs.")
    rep.add_csv("ensemble", result.to_dataframe())
    return rep


def write_folder(rep: Any, scenarios_text: str, folder: Any, force: bool = False,
                 fragments: bool = False, **write_options: Any) -> Any:
    """Write the report and ``scenarios.toml`` into a staged folder, then move it into place."""
    import shutil
    import tempfile
    from pathlib import Path

    from pvsd.io import check_new, replace_dir, write_text

    final = Path(folder)
    check_new(final, force)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        inner = stage / "out"
        rep.write(inner, fragments=fragments, staged_for=final, **write_options)
        write_text(inner / "scenarios.toml", scenarios_text)
        replace_dir(inner, final, force)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return final / "report.html"
