"""``pvsd explore``: the interactive what-if explorer in the browser."""

from __future__ import annotations

import argparse

from pvsd.cli.common import add_alias, add_model_arg, add_quiet_arg, add_scenario_args, add_set_arg, parse_sets


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``explore`` sub-command."""
    p = sub.add_parser(
        "explore",
        help="move policy levers with sliders and watch the outputs respond (web app)",
        description="Start the what-if explorer: a local web page with a slider for each policy lever "
        "and ranged constant, charts of the key outputs against the baseline and the loaded "
        "scenarios, optional Monte Carlo uncertainty bands, saving of the current setting as a "
        "scenario and export of an HTML report. It listens on 127.0.0.1 only and needs no network.",
    )
    add_model_arg(p, optional=True)
    add_scenario_args(p, default_help=" to overlay (default for the reference model: its bundled scenarios)",
                      pick=False)
    p.add_argument("--spec", metavar="SPEC", dest="uncertainty",
                   help="sensitivity spec (TOML with [parameters]) for the uncertainty bands "
                   "(default: MODEL_sensitivity.toml next to the model, if any)")
    p.add_argument("--save-to", metavar="FILE",
                   help="scenario file that 'Save as scenario' appends to "
                   "(default: the --scenarios file, else MODEL_scenarios.toml here)")
    add_alias(p, "--uncertainty", "uncertainty")
    p.add_argument("--bands", type=int, metavar="N", dest="band_runs",
                   help="Monte Carlo runs for the uncertainty bands (default: the spec's [bands] n, else 200)")
    add_alias(p, "--band-runs", "band_runs", type=int)
    p.add_argument("--port", type=int, default=8050, metavar="N", help="port (default 8050; 0 = any free port)")
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    add_set_arg(p)
    add_quiet_arg(p)  # accepted everywhere (one vocabulary); nothing here shows progress
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    """Start the explorer and serve it until Ctrl+C."""
    from pvsd.errors import PvsdError

    if not 0 <= args.port <= 65535:
        raise PvsdError(f"--port must be between 0 and 65535, got {args.port}.")
    if args.band_runs is not None and args.band_runs < 10:
        raise PvsdError(f"--bands must be at least 10, got {args.band_runs}.")
    sets = parse_sets(args.set)
    from pvsd.explorer.app import serve

    serve(args.model, args.scenarios, args.uncertainty, port=args.port, open_browser=not args.no_browser,
          save_to=args.save_to, band_runs=args.band_runs, sets=sets)
    return 0
