"""``pvsd report``: the main job, a full report of a model and its scenarios."""

from __future__ import annotations

import argparse

from pvsd.cli.common import (
    add_figure_args,
    add_model_arg,
    add_output_args,
    add_quiet_arg,
    add_scenario_args,
    add_set_arg,
    add_time_args,
    default_out,
    figure_options,
    parse_sets,
    say,
    split_names,
    time_kwargs,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write an HTML report of a model and its scenarios (main job; opens offline)",
        description="Run a model's baseline and scenarios and write a report folder: "
        "report.html (opens offline; plotly.js in pvsd-assets/ beside the folder, one copy shared by "
        "every report written into the same parent folder; --plotly-js inline for one "
        "self-contained file), tidy "
        "CSVs of every table and plotted series with provenance.json, with --fragment embeddable "
        "figures and with --format png/svg/pdf static images of every figure. With no arguments: "
        "the bundled reference model public_value_chain_v2 and its bundled scenarios. A model without "
        "scenarios gets a baseline report (add --scenarios FILE to compare what-ifs).",
    )
    add_model_arg(p, optional=True)
    add_scenario_args(p, several=True, default_help=" (default: the model's bundled scenarios, if any; "
                      "none: a baseline report)")
    add_set_arg(p)
    p.add_argument("-v", "--outputs", action="append", metavar="NAMES",
                   help="variables to compare (default: the file's [compare] outputs, else the stocks)")
    p.add_argument("--live", action="store_true",
                   help="add a live simulator section: sliders re-simulate the model in the browser")
    add_figure_args(p)
    add_quiet_arg(p)
    add_time_args(p)
    add_output_args(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.io import check_new
    from pvsd.resources import REFERENCE_MODEL, bundled_scenarios

    model_name = args.model or REFERENCE_MODEL
    model = pvsd.load(model_name)
    # named after the model, so reports of several models written in one folder tell apart
    out = args.out or default_out(f"pvsd-report-{model.name}")
    check_new(out, args.force)
    figopts = figure_options(args)
    scen_file = args.scenarios
    if scen_file is None:
        found = bundled_scenarios(model.name)
        scen_file = str(found) if found is not None else None
    sets = parse_sets(args.set)
    from pvsd.overrides import resolve_sets

    sets = resolve_sets(model, sets)
    if scen_file is not None:
        sset = pvsd.load_scenarios(scen_file, model)
        only = split_names(args.scenario)
        chosen = [sset[n] for n in only] if only else sset
    else:
        if args.scenario:
            from pvsd.errors import ScenarioError

            raise ScenarioError("--scenario NAME needs --scenarios FILE (the file that defines it).")
        from pvsd.scenarios import ScenarioSet

        sset = chosen = ScenarioSet(())
    if args.live:  # fail before running anything when the model cannot be compiled
        from pvsd.embed.js_backend import check_supported, ir_of

        check_supported(ir_of(model), what="add the live simulator (--live)")
    say(f"running {model.path.name}: baseline + {len(chosen)} scenarios"
        + (f", with --set {', '.join(f'{k}={v:g}' for k, v in sets.items())}" if sets else "") + " ...")
    outputs = split_names(args.outputs) or (list(sset.outputs) or None)
    comparison = pvsd.run_scenarios(model, chosen, outputs=outputs, years=list(sset.years) or None,
                                    progress=False if args.quiet else None, params=sets or None,
                                    **time_kwargs(args))
    from pvsd.report.scenario_report import scenario_report

    rep = scenario_report(comparison, model, scenario_file=scen_file, live=args.live)
    path = rep.write(out, force=args.force, fragments=args.fragment, **figopts)
    say(f"report written: {path.resolve()}")
    say(f"open it in a browser: file://{path.resolve()}")
    return 0
