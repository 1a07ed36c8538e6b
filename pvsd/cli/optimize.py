"""``pvsd optimize``: search the levers for the best policy (or a Pareto front), with a report."""

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
        "optimize",
        help="search the levers for the best policy (one objective) or a Pareto front (several)",
        description="Search the decision levers of a policy spec (constants, steps, ramps with bounds; "
        "objectives; constraints on lever effort or model variables; optionally [robust] over an "
        "uncertainty ensemble; see models/public_value_chain_policy.toml). One objective: differential "
        "evolution (scipy); several: NSGA-II (pymoo). Every generation runs as one vectorised ensemble. "
        "Writes a report folder: report.html, chosen.csv, convergence.csv, evaluated.csv and "
        "scenarios.toml with the chosen policies, which `pvsd scenarios MODEL scenarios.toml` runs. "
        "--set fixes a constant in every run of the search (and in every scenario written).",
    )
    add_model_arg(p)
    p.add_argument("spec", metavar="SPEC.toml", help="policy spec file (TOML)")
    add_set_arg(p)
    p.add_argument("--population", type=int, metavar="N", help="members per generation (default: the spec's, else 100)")
    p.add_argument("--generations", type=int, metavar="G", help="generations (default: the spec's, else 20)")
    p.add_argument("--seed", type=int, help="random seed (default: the spec's, else a fresh one, recorded)")
    p.add_argument("--nominal", action="store_true", help="ignore the spec's [robust] table")
    p.add_argument("--polish", action="store_true", help="one objective: finish with L-BFGS-B")
    add_executor_args(p)
    add_quiet_arg(p)
    add_figure_args(p)
    add_output_args(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.io import check_new
    from pvsd.policy import load_policy_spec, optimize
    from pvsd.policy.report import write_folder

    if args.out:
        check_new(args.out, args.force)
    figopts = figure_options(args)
    model = pvsd.load(args.model)
    spec = load_policy_spec(args.spec).validate(model)  # every name and bound checked before any run
    taken = {lv.variable: "a lever of the policy spec" for lv in spec.levers}
    if spec.robust is not None and not args.nominal:
        taken.update({n: "an uncertainty of the spec's [robust] table" for n in spec.robust.space.names})
    model, sets = model_with_sets(args, model, taken)
    for name, v in (("--population", args.population), ("--generations", args.generations)):
        if v is not None and v < 1:
            raise pvsd.SpecError(f"{name} must be a positive whole number, got {v}.")
    pop = args.population or spec.settings.get("population", 100)
    gens = args.generations or spec.settings.get("generations", 20)
    rob = spec.robust is not None and not args.nominal
    say(f"{len(spec.levers)} lever(s), {len(spec.objectives)} objective(s), {len(spec.constraints)} "
        f"constraint(s); {pop} members x {gens} generations"
        + (f" x {spec.robust.n} worlds (robust {spec.robust.statistic}), plus the nominal search"
           if rob and spec.robust else ""))
    res = optimize(model, spec, population=args.population, generations=args.generations, seed=args.seed,
                   robust=False if args.nominal else None, executor=executor_of(args),
                   progress=False if args.quiet else None, polish=args.polish)
    res = record_sets(res, sets)
    say(res.summary())
    out = args.out or str(default_out(f"{model.name}-optimize"))
    path = write_folder(res.report(), scenarios_with_sets(res.to_scenarios_toml(), sets), out, force=args.force,
                        fragments=args.fragment, **figopts)
    say(f"\nreport: {path.resolve()}\nscenarios: {(path.parent / 'scenarios.toml').resolve()}")
    return 0
