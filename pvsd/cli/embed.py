"""``pvsd embed``: a live simulator of a model in one static HTML file (or a fragment)."""

from __future__ import annotations

import argparse

from pvsd.cli.common import add_model_arg, add_quiet_arg, add_set_arg, parse_sets, say, split_names


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "embed",
        help="write a live simulator (sliders re-simulate the model in the browser) as one HTML file",
        description="Compile the model to JavaScript and write ONE self-contained HTML file, with no "
        "server and no network, in which readers move sliders for the policy levers and the charts "
        "re-simulate at once in the browser. --fragment writes a <div> plus script to paste into your "
        "own page or notebook. Macros (inlined), DELAY FIXED, DELAY N with a time-varying delay time "
        "and control variables that change during the run are simulated too; models outside the "
        "supported subset (data variables, random functions ...) get an error naming the construct. "
        "--set replaces a constant's value in the page's model: the baseline, the presets and the "
        "compiled JavaScript use it; a slider of that constant starts at it (the value must lie in "
        "the slider's range). It is recorded in the page's provenance.",
    )
    add_model_arg(p)
    p.add_argument("-o", "--out", metavar="FILE.html",
                   help="file to write (default: MODEL-live.html in the working directory)")
    p.add_argument("--scenarios", metavar="FILE", help="scenario file whose scenarios become presets")
    p.add_argument("--fragment", action="store_true",
                   help="write an embeddable <div> plus <script> instead of a whole page")
    p.add_argument("-v", "--outputs", action="append", metavar="NAMES",
                   help="variables to chart (repeat or comma-separate; default: the stocks)")
    p.add_argument("--levers", action="append", metavar="NAMES",
                   help="constants offered as sliders (default: those with a declared range)")
    p.add_argument("--force", action="store_true",
                   help="replace the output file if it exists (never done silently)")
    add_set_arg(p)
    add_quiet_arg(p)  # accepted everywhere (one vocabulary); nothing here shows progress
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pvsd
    from pvsd.embed.live import write_live
    from pvsd.io import check_new

    sets = parse_sets(args.set)
    model = pvsd.load(args.model)
    out = Path(args.out) if args.out else Path(f"{model.name}-live.html")
    check_new(out, args.force)
    scen = pvsd.load_scenarios(args.scenarios, model) if args.scenarios else None
    path = write_live(model, out, scenarios=scen, outputs=split_names(args.outputs),
                      lever_names=split_names(args.levers), fragment=args.fragment, force=args.force, sets=sets)
    say(f"{'fragment' if args.fragment else 'live simulator'} written: {path.resolve()}")
    if not args.fragment:
        say(f"open it in a browser: file://{path.resolve()}")
    return 0
