"""``pvsd scenarios``: baseline plus each scenario of a file, compared."""

from __future__ import annotations

import argparse
import textwrap

from pvsd.cli.common import (
    add_figure_args,
    add_model_arg,
    add_output_args,
    add_quiet_arg,
    add_scenario_args,
    add_set_arg,
    add_time_args,
    figure_options,
    parse_sets,
    say,
    split_names,
    time_kwargs,
)

#: The scenario file format, shown by ``pvsd scenarios --help`` and in docs/scenarios.md.
SCENARIO_FORMAT = """\
scenario file format (TOML, written by hand; one [scenarios.NAME] table per scenario):

  [compare]                          # optional: what to compare
  outputs = ["Public Trust", "Cumulative Public Value"]
  years = [2030, 2040, 2050]

  [scenarios.technology_alone]
  title = "Technology alone"         # label in tables and legends
  description = "Double technology investment, no organisational reform."
  set = { "Technology Investment" = 0.4 }        # constants, by model-file name

  [scenarios.technology_and_reform]
  extends = "technology_alone"       # start from another scenario (or a list)
  [scenarios.technology_and_reform.levers]       # settings that change during the run
  "Organisational Reform Effort" = { step = 2025, to = 0.5 }     # jump to 0.5 in 2025
  "Coproduction Programme" = { ramp = [2020, 2030], to = 0.4 }   # linear change 2020-2030
  "Agile Capability Programme" = { table = [[2000, 0.0], [2025, 0.2], [2050, 0.5]] }

step/ramp start from the value the variable otherwise has (add from = X to choose).
Later settings win: levers over set, a scenario over the one it extends, --set over all.
Names match ignoring case, spaces and underscores; an unknown name or a value outside a
declared range is an error naming the scenario. Full guide: docs/cli.md.
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scenarios",
        help="run the baseline and each scenario of a file and compare them",
        description=textwrap.fill("Run the baseline and every scenario of a TOML scenario file, print a table "
                                  "of chosen outputs at chosen years (absolute and percent vs baseline) and, "
                                  "with --out, write a report folder with overlay charts and CSVs.", 80),
        epilog=SCENARIO_FORMAT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arg(p)
    p.add_argument("scenario_file", nargs="?", metavar="SCENARIOS.toml",
                   help="scenario file (same as --scenarios; default: the model's bundled scenarios)")
    add_scenario_args(p, several=True)
    add_set_arg(p)
    p.add_argument("-v", "--outputs", action="append", metavar="NAMES",
                   help="variables to compare (default: the file's [compare] outputs, else stocks)")
    p.add_argument("-y", "--years", metavar="Y1,Y2,...",
                   help="years for the table (default: the file's, else start/middle/end)")
    add_figure_args(p)
    add_quiet_arg(p)
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
    import pandas as pd

    import pvsd
    from pvsd.errors import ScenarioError
    from pvsd.io import check_new
    from pvsd.resources import bundled_scenarios

    if args.out:
        check_new(args.out, args.force)
    if args.scenario_file and args.scenarios and args.scenario_file != args.scenarios:
        raise ScenarioError(f"Two scenario files given ({args.scenario_file} and --scenarios "
                            f"{args.scenarios}); give one.")
    figopts = figure_options(args)
    model = pvsd.load(args.model)
    scen_file = args.scenario_file or args.scenarios
    if scen_file is None:
        found = bundled_scenarios(model.name)
        if found is None:
            raise ScenarioError(f"{model.path.name} has no bundled scenarios; give a scenario file "
                                "(format: `pvsd scenarios --help`).")
        scen_file = str(found)
    sset = pvsd.load_scenarios(scen_file, model)
    chosen = sset
    only = split_names(args.scenario)
    if only:
        chosen = [sset[n] for n in only]
    from pvsd.overrides import resolve_sets

    sets = resolve_sets(model, parse_sets(args.set))
    comparison = pvsd.run_scenarios(model, chosen, outputs=split_names(args.outputs) or
                                    (list(sset.outputs) or None),
                                    years=parse_years(args.years) or (list(sset.years) or None),
                                    progress=False if args.quiet else None, params=sets or None,
                                    **time_kwargs(args))
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.max_colwidth", 40):
        say(comparison.display_table().to_string())
    if args.out:
        from pvsd.report.scenario_report import scenario_report

        rep = scenario_report(comparison, model, scenario_file=str(scen_file))
        path = rep.write(args.out, force=args.force, fragments=args.fragment, **figopts)
        say(f"\nreport: {path.resolve()}")
    return 0
