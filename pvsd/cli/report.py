"""``pvsd report``: the main job, a full report of a model and its scenarios."""

from __future__ import annotations

import argparse

from pvsd.cli.common import (
    add_model_arg,
    add_output_args,
    add_time_args,
    default_out,
    say,
    time_kwargs,
)
from pvsd.errors import PvsdError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a model and its scenarios (main job)",
        description="Run a model's baseline and scenarios and write a report folder: "
        "report.html (self-contained, opens offline), CSVs of every table and plotted series, "
        "and with --fragment embeddable figures. With no arguments: the bundled reference "
        "model public_value_chain and its bundled scenarios.",
    )
    add_model_arg(p, optional=True)
    p.add_argument("--scenarios", metavar="FILE",
                   help="scenario file (default: the model's bundled scenarios, if any)")
    p.add_argument("--fragment", action="store_true",
                   help="also write one embeddable HTML fragment per figure")
    p.add_argument("--live", action="store_true",
                   help="add a live simulator section: sliders re-simulate the model in the browser")
    add_time_args(p)
    add_output_args(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.io import check_new
    from pvsd.resources import REFERENCE_MODEL, bundled_scenarios

    model_name = args.model or REFERENCE_MODEL
    out = args.out or default_out(f"pvsd-report-{model_name if not args.model else 'model'}")
    check_new(out, args.force)
    model = pvsd.load(model_name)
    scen_file = args.scenarios
    if scen_file is None:
        found = bundled_scenarios(model.name)
        if found is None:
            raise PvsdError(
                f"{model.path.name} has no bundled scenarios; pass --scenarios FILE "
                "(a TOML scenario file; see `pvsd scenarios --help`)."
            )
        scen_file = str(found)
    sset = pvsd.load_scenarios(scen_file, model)
    if args.live:  # fail before running anything when the model cannot be compiled
        from pvsd.embed.js_backend import check_supported, ir_of

        check_supported(ir_of(model), what="add the live simulator (--live)")
    say(f"running {model.path.name}: baseline + {len(sset)} scenarios ...")
    comparison = pvsd.run_scenarios(model, sset, **time_kwargs(args))
    from pvsd.report.scenario_report import scenario_report

    rep = scenario_report(comparison, model, scenario_file=scen_file, live=args.live)
    path = rep.write(out, force=args.force, fragments=args.fragment)
    say(f"report written: {path.resolve()}")
    say(f"open it in a browser: file://{path.resolve()}")
    return 0
