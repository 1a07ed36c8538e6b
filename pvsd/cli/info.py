"""``pvsd info``: describe a model's variables."""

from __future__ import annotations

import argparse

from pvsd.cli.common import add_model_arg, add_quiet_arg, say

KINDS = ("stock", "flow", "aux", "constant", "lookup", "data", "control")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="list a model's variables (name, kind, units, dims, default, comment)",
        description="Describe a model: its time settings and every variable with kind, units, "
        "default value and comment.",
    )
    add_model_arg(p)
    p.add_argument("--kind", choices=KINDS, action="append",
                   help="only variables of this kind (repeatable)")
    p.add_argument("--csv", action="store_true", help="print the table as CSV")
    add_quiet_arg(p)  # accepted everywhere (one vocabulary); nothing here shows progress
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import pandas as pd

    import pvsd

    model = pvsd.load(args.model)
    table = model.variables
    if args.kind:
        table = table[table["kind"].isin(args.kind)]
    cols = ["name", "kind", "units", "dims", "default", "min", "max", "comment"]
    if not model.subscripts and not args.csv:
        cols.remove("dims")
    if args.csv:
        say(table[cols].to_csv(index=False).rstrip())
        return 0
    say(f"{model.path} (SHA-256 {model.sha256})")
    if model.description:
        say(model.description)
    say(f"time {model.initial_time:g} to {model.final_time:g}, time step {model.time_step:g}, "
        f"saved every {model.saveper:g}")
    for dim, elems in model.subscripts.items():
        say(f"dimension {dim}: {', '.join(elems)}")
    counts = table["kind"].value_counts()
    say(", ".join(f"{counts[k]} {k}" for k in KINDS if k in counts))
    shown = table[cols].copy()
    shown["comment"] = shown["comment"].str.slice(0, 60)
    with pd.option_context("display.max_rows", None, "display.width", 160,
                           "display.max_colwidth", 60):
        say(shown.to_string(index=False, na_rep=""))
    return 0
