"""``pvsd doc``: the model card (documentation) as self-contained HTML and Markdown."""

from __future__ import annotations

import argparse

from pvsd.cli.common import add_model_arg, add_quiet_arg, say


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doc",
        help="write a model card: purpose, diagram, stocks and flows, levers, loops, every equation",
        description="Write the documentation of a model as one self-contained HTML file (opens offline) "
        "and optionally Markdown: purpose from the model's header comment, the stock-flow diagram(s), "
        "stocks with their inflows and outflows, the policy levers, the feedback loops with polarity, and "
        "every variable with its equation, units, kind and comment, grouped by sector.",
    )
    add_model_arg(p)
    p.add_argument("-o", "--out", metavar="FILE.html",
                   help="HTML file to write (default: MODEL-card.html in the working directory)")
    p.add_argument("--markdown", metavar="FILE.md", help="also write the card as Markdown")
    p.add_argument("--no-loops", action="store_true",
                   help="leave out the feedback-loop section (it runs the model once)")
    p.add_argument("--force", action="store_true",
                   help="replace existing output files (never done silently)")
    add_quiet_arg(p)  # accepted everywhere (one vocabulary); nothing here shows progress
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pvsd
    from pvsd.embed.card import write_card

    model = pvsd.load(args.model)
    out = Path(args.out) if args.out else Path(f"{model.name}-card.html")
    written = write_card(model, out, args.markdown, force=args.force, loops=not args.no_loops)
    for path in written:
        say(f"model card written: {path.resolve()}")
    return 0
