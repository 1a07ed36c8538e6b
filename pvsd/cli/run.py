"""``pvsd run``: one simulation, written as CSV or netCDF."""

from __future__ import annotations

import argparse
from pathlib import Path

from pvsd.cli.common import (
    add_figure_args,
    add_model_arg,
    add_quiet_arg,
    add_scenario_args,
    add_set_arg,
    add_time_args,
    base_scenario,
    figure_options,
    say,
    split_names,
    time_kwargs,
)
from pvsd.errors import PvsdError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="simulate a model once and print or save the outputs",
        description="Simulate a model once from its original state. Without --out the outputs "
        "are printed at a few times; with --out they are written as CSV (.csv) or netCDF (.nc), "
        "with provenance.",
    )
    add_model_arg(p)
    add_set_arg(p)
    add_scenario_args(p)
    p.add_argument("-v", "--outputs", action="append", metavar="NAMES",
                   help="variables to output (comma-separated or repeated; default: all)")
    add_time_args(p)
    p.add_argument("-o", "--out", metavar="FILE", help="write outputs to FILE (.csv or .nc)")
    p.add_argument("--plot", metavar="HTML", help="also write a chart page (self-contained: "
                   "--plotly-js inline, unless another --plotly-js is given)")
    add_figure_args(p, folder=False)
    p.add_argument("--force", action="store_true", help="replace existing output files")
    add_quiet_arg(p)  # accepted everywhere (one vocabulary); nothing here shows progress
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.io import check_new

    for target in (args.out, args.plot):
        if target:
            check_new(target, args.force)
    if args.out and Path(args.out).suffix.lower() not in (".csv", ".nc"):
        raise PvsdError(f"--out {args.out!r}: use a .csv or .nc file name.")
    figopts = figure_options(args)
    model = pvsd.load(args.model)
    stem = Path(args.plot).with_suffix("") if args.plot else Path(f"{model.name}-run")
    for f in figopts["formats"]:  # refuse before anything is written
        check_new(f"{stem}.{f}", args.force)
    scenario = base_scenario(args, model)
    result = model.run(scenario=scenario, outputs=split_names(args.outputs), **time_kwargs(args))
    if args.out:
        if args.out.lower().endswith(".nc"):
            from pvsd.io import write_netcdf

            write_netcdf(args.out, result.to_xarray(), force=args.force)
        else:
            result.to_csv(args.out, force=args.force)
        say(f"wrote {args.out} ({len(result.variables)} outputs x {len(result.times)} times)")
    if args.plot:
        from pvsd.document import Report, write_page

        rep = Report(title=f"{model.name}: run", subtitle=model.path.name,
                     provenance=result.provenance)
        rep.section("Trajectories").add_figure(result.plot(), "run")
        write_page(args.plot, rep, plotly_js=figopts["plotly_js"], force=args.force)
        say(f"wrote {args.plot}")
    if figopts["formats"]:
        from pvsd.figures import save_figures

        written = save_figures([(result.plot(), f"{stem}.{f}") for f in figopts["formats"]], force=args.force)
        say("wrote " + ", ".join(str(w) for w in written))
    if not args.out:
        import pandas as pd

        frame = result.to_dataframe()
        if frame.columns.empty:
            say(f"{result.model}: no variable changes over time (only constants); name some "
                "with -v to print them.")
            return 0
        step = max(1, len(frame) // 10)
        shown = pd.concat([frame.iloc[::step], frame.iloc[[-1]]])
        # by time, not by value: rows of a model at equilibrium are equal and must all show
        shown = shown[~shown.index.duplicated()]
        with pd.option_context("display.width", 160, "display.max_columns", 12):
            say(shown.T.to_string(float_format=lambda v: f"{v:.4g}"))
    return 0
