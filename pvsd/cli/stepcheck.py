"""``pvsd stepcheck``: how much the outputs change when the time step is halved."""

from __future__ import annotations

import argparse

from pvsd.cli.common import (
    add_model_arg,
    add_quiet_arg,
    add_set_arg,
    add_time_args,
    parse_sets,
    say,
    split_names,
    time_kwargs,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stepcheck",
        help="check that the time step is small enough (run at TIME STEP and TIME STEP / 2)",
        description="Run the model at its TIME STEP (or --time-step) and at half of it, and report "
        "per output the largest change relative to the output's scale. More than 1% means the "
        "results depend on the step: halve it, or use --method rk4. Exit code 0 either way.",
    )
    add_model_arg(p)
    add_set_arg(p)
    p.add_argument("-v", "--outputs", action="append", metavar="NAMES",
                   help="variables to compare (comma-separated or repeated; default: the stocks)")
    add_time_args(p)
    add_quiet_arg(p)  # accepted everywhere (one vocabulary); nothing here shows progress
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.numerics.stepcheck import step_check

    model = pvsd.load(args.model)
    kw = time_kwargs(args)
    dt = kw.pop("time_step", None)
    method = kw.pop("method", "euler")
    from pvsd.overrides import resolve_sets

    sets = resolve_sets(model, parse_sets(args.set))
    res = step_check(model, params=sets or None, outputs=split_names(args.outputs), time_step=dt,
                     method=method, **kw)
    table = res.to_dataframe()
    say(table.to_string(float_format=lambda v: f"{v:.2e}"))
    say(res.summary())
    return 0
