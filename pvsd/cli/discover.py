"""``pvsd discover``: scenario discovery with PRIM over an uncertainty ensemble."""

from __future__ import annotations

import argparse

from pvsd.cli.common import (
    add_executor_args,
    add_figure_args,
    add_model_arg,
    add_output_args,
    add_quiet_arg,
    add_set_arg,
    default_out,
    executor_of,
    figure_options,
    model_with_sets,
    record_sets,
    say,
    scenarios_with_sets,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "discover",
        help="scenario discovery: find with PRIM or CART the conditions under which an outcome happens",
        description="Run an ensemble over the uncertainties of a discovery spec (optionally under one "
        "policy scenario), mark the members where the case of interest happens (e.g. trust in 2040 "
        "below its 2025 level) and find with PRIM (or, with --algorithm cart, a classification tree) the box "
        "of conditions that explains it. Writes a report folder: report.html (PRIM's peeling trajectory "
        "or CART's leaves, box limits with quasi-p-values), trajectory.csv or leaves.csv, box.csv, "
        "ensemble.csv and scenarios.toml (the box as scenarios). See "
        "models/public_value_chain_discover.toml. --set fixes a constant in every member of the "
        "ensemble (on top of the spec's [policy] scenario).",
    )
    add_model_arg(p)
    p.add_argument("spec", metavar="SPEC.toml", help="discovery spec file (TOML)")
    add_set_arg(p)
    p.add_argument("-n", "--n", type=int, metavar="N", help="ensemble size (default: the spec's, else 10000)")
    p.add_argument("--seed", type=int, help="random seed (default: the spec's, else a fresh one, recorded)")
    # not --method: across pvsd's commands that names the integration method (docs/cli.md)
    p.add_argument("--algorithm", metavar="NAME", dest="finder",
                   help="how boxes are found: prim (default; Patient Rule Induction) or cart (a "
                   "classification tree, scikit-learn; its case leaves are the boxes); overrides the "
                   "spec's [settings] method")
    p.add_argument("--max-depth", type=int, metavar="N", help="CART: depth of the tree (default: the spec's, else 4)")
    add_executor_args(p)
    add_quiet_arg(p)
    add_figure_args(p)
    add_output_args(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.io import check_new
    from pvsd.policy import discover
    from pvsd.policy.report import write_folder

    if args.out:
        check_new(args.out, args.force)
    figopts = figure_options(args)
    model, sets = _with_sets(args, pvsd.load(args.model))
    res = discover(model, args.spec, n=args.n, seed=args.seed, method=args.finder, max_depth=args.max_depth,
                   executor=executor_of(args),
                   progress=False if args.quiet else None)
    res = record_sets(res, sets)
    say(res.summary())
    out = args.out or str(default_out(f"{model.name}-discover"))
    path = write_folder(res.report(), scenarios_with_sets(res.to_scenarios_toml(), sets), out, force=args.force,
                        fragments=args.fragment, **figopts)
    say(f"\nreport: {path.resolve()}\nscenarios: {(path.parent / 'scenarios.toml').resolve()}")
    return 0


def _with_sets(args: argparse.Namespace, model: object) -> tuple[object, dict[str, float]]:
    """--set for every member of the ensemble; an uncertainty of the spec cannot also be set."""
    if not args.set:
        return model, {}
    from pvsd.policy.discover import DiscoverySpec

    spec = DiscoverySpec.from_toml(args.spec).validate(model)  # names checked before the clash test
    return model_with_sets(args, model, {n: "an uncertainty of the discovery spec" for n in spec.space.names})
