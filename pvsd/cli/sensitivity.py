"""``pvsd sensitivity``: which assumptions drive a result, with an HTML report and CSVs."""

from __future__ import annotations

import argparse
import time

from pvsd.cli.common import (
    add_alias,
    add_executor_args,
    add_figure_args,
    add_model_arg,
    add_output_args,
    add_quiet_arg,
    add_scenario_args,
    add_set_arg,
    base_scenario,
    default_out,
    executor_of,
    figure_options,
    say,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sensitivity",
        help="global sensitivity analysis (Morris, Sobol, eFAST, delta) with an HTML report",
        description="Run a sensitivity study described by a spec file (uncertain parameters, outcomes, "
        "settings; see models/public_value_chain_sensitivity.toml) and write a report folder: "
        "report.html (rankings with confidence intervals, Morris mu*-sigma charts, indices over time, "
        "uncertainty bands, a plain-language summary) and CSVs (indices, outcomes of every run, bands, "
        "convergence). Command-line options override the spec's [settings].",
    )
    add_model_arg(p)
    p.add_argument("spec", metavar="SPEC.toml", help="sensitivity spec file (TOML)")
    p.add_argument("--analysis", metavar="NAME",
                   help="morris, sobol, fast (eFAST) or delta (default: the spec's, else sobol)")
    add_alias(p, "-m", "analysis")
    p.add_argument("-n", "--n", type=int, metavar="N",
                   help="sample size: Sobol base samples (power of two), Morris trajectories, eFAST samples "
                        "per parameter, delta runs (default: the spec's, else the method's)")
    p.add_argument("--seed", type=int, help="random seed (default: the spec's, else a fresh one, recorded)")
    p.add_argument("--method", metavar="NAME", dest="integration",
                   help="integration method of every run: euler (default) or rk4 (Vensim's RK4 Fixed)")
    add_alias(p, "--integration", "integration")
    p.add_argument("--second-order", action="store_true", help="Sobol: also second-order indices")
    p.add_argument("--tolerance", type=float, metavar="W",
                   help="flag indices whose confidence interval is wider than W (default 0.1)")
    p.add_argument("--until-converged", action="store_true",
                   help="double n until every index is within the tolerance or --max-runs is reached")
    p.add_argument("--max-runs", type=int, metavar="RUNS", help="run budget for --until-converged")
    p.add_argument("--bands", type=int, metavar="N", dest="bands_n",
                   help="runs for the uncertainty bands (default: the spec's [bands] n, else 500)")
    p.add_argument("--no-bands", action="store_true", help="skip the uncertainty bands")
    add_scenario_args(p)
    add_set_arg(p)
    add_executor_args(p)
    add_quiet_arg(p)
    add_figure_args(p)
    add_output_args(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.io import check_new
    from pvsd.sensitivity import prepare, sensitivity, uncertainty_bands
    from pvsd.sensitivity.report import sensitivity_report

    if args.out:
        check_new(args.out, args.force)
    progress = False if args.quiet else None
    figopts = figure_options(args)
    model = pvsd.load(args.model)
    scenario = base_scenario(args, model)
    options = {"second_order": True if args.second_order else None, "tolerance": args.tolerance,
               "until_converged": True if args.until_converged else None, "max_runs": args.max_runs,
               "integration": getattr(args, "integration", None)}
    # Check everything (names, bounds, method, n) before any run and say what will happen.
    m, spec, meth, n, seed, opt = prepare(model, args.spec, args.analysis, args.n, args.seed, **options)
    runs = meth.runs(n, spec.space, opt)
    say(f"{meth.title}: {len(spec.space.names)} parameters, {len(spec.outcomes)} outcome(s), "
        f"n = {n} -> {runs:,} runs, seed {seed}")
    t0 = time.perf_counter()
    result = sensitivity(m, spec, meth.name, n, seed, executor=executor_of(args), progress=progress,
                         scenario=scenario, **options)
    say(f"done in {time.perf_counter() - t0:.1f} s "
        f"(runs {result.timings['run_seconds']:.1f} s, analysis {result.timings['analysis_seconds']:.1f} s)")
    bands = None
    if not args.no_bands:
        bands = uncertainty_bands(m, spec, n=args.bands_n, seed=seed, executor=executor_of(args), progress=progress,
                                  scenario=scenario)
    say("")
    say(result.summary())
    out = args.out or str(default_out(f"{m.name}-sensitivity-{meth.name}"))
    rep = sensitivity_report(result, bands, model=m)
    path = rep.write(out, force=args.force, fragments=args.fragment, **figopts)
    say(f"\nreport: {path.resolve()}")
    return 0
