"""``pvsd scenarios``: baseline plus each scenario of a file, compared."""

from __future__ import annotations

import argparse

import pandas as pd

from pvsd.cli.common import (
    add_model_arg,
    add_output_args,
    add_time_args,
    say,
    split_names,
    time_kwargs,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scenarios",
        help="run the baseline and each scenario of a file and compare them",
        description="Run the baseline and every scenario of a TOML scenario file, print a table "
        "of chosen outputs at chosen years (absolute and %% vs baseline) and, with --out, "
        "write a report folder with overlay charts and CSVs.",
    )
    add_model_arg(p)
    p.add_argument("scenario_file", metavar="SCENARIOS.toml", help="scenario file")
    p.add_argument("-v", "--outputs", action="append", metavar="NAMES",
                   help="variables to compare (default: the file's [compare] outputs, else stocks)")
    p.add_argument("-y", "--years", metavar="Y1,Y2,...",
                   help="years for the table (default: the file's, else start/middle/end)")
    p.add_argument("--only", action="append", metavar="NAMES",
                   help="run only these scenarios of the file")
    p.add_argument("--fragment", action="store_true",
                   help="also write one embeddable HTML fragment per figure")
    add_time_args(p)
    add_output_args(p)
    p.set_defaults(func=handle)


def parse_years(text: str | None) -> list[float] | None:
    from pvsd.errors import ScenarioError

    if not text:
        return None
    try:
        return [float(y) for y in text.split(",") if y.strip()]
    except ValueError:
        raise ScenarioError(f"--years expects numbers separated by commas, got {text!r}.") from None


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.io import check_new

    if args.out:
        check_new(args.out, args.force)
    model = pvsd.load(args.model)
    sset = pvsd.load_scenarios(args.scenario_file, model)
    chosen = sset
    only = split_names(args.only)
    if only:
        chosen = [sset[n] for n in only]
    comparison = pvsd.run_scenarios(model, chosen, outputs=split_names(args.outputs) or
                                    (list(sset.outputs) or None),
                                    years=parse_years(args.years) or (list(sset.years) or None),
                                    **time_kwargs(args))
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 40):
        say(comparison.wide_table().to_string())
    if args.out:
        from pvsd.report.scenario_report import scenario_report

        rep = scenario_report(comparison, model, scenario_file=str(args.scenario_file))
        path = rep.write(args.out, force=args.force, fragments=args.fragment)
        say(f"\nreport: {path.resolve()}")
    return 0
