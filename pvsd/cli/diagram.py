"""``pvsd diagram``: the stock-flow diagram of a model as SVG."""

from __future__ import annotations

import argparse

from pvsd.cli.common import add_model_arg, add_quiet_arg, say, split_names


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diagram",
        help="draw a model's stock-flow diagram as SVG (optionally highlighting a loop)",
        description="Draw the stock-flow diagram from the sketch a Vensim .mdl file carries (stocks, "
        "flows with valves, clouds, variables, arrows with polarity; several views are stacked under "
        "their titles). A model without a sketch gets its causal graph laid out automatically, and the "
        "command says so.",
    )
    add_model_arg(p)
    p.add_argument("-o", "--out", metavar="FILE.svg",
                   help="SVG file to write (default: MODEL-diagram.svg in the working directory)")
    p.add_argument("--view", metavar="NAME", help="draw only this view (name or number from 1)")
    p.add_argument("--highlight", action="append", metavar="A,B,C",
                   help="variables of a feedback loop, in loop order, to highlight")
    p.add_argument("--loop", metavar="ID",
                   help="highlight this loop of `pvsd.loops` (its id, such as L0003)")
    p.add_argument("--force", action="store_true",
                   help="replace the output file if it exists (never done silently)")
    add_quiet_arg(p)  # accepted everywhere (one vocabulary); nothing here shows progress
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    import pvsd
    from pvsd.embed.diagram import diagram_svg
    from pvsd.embed.sketch import parse_sketch
    from pvsd.errors import PvsdError
    from pvsd.io import check_new, write_text

    model = pvsd.load(args.model)
    out = Path(args.out) if args.out else Path(f"{model.name}-diagram.svg")
    check_new(out, args.force)
    # an unknown name would silently highlight nothing
    highlight = [model.resolve(h, where="--highlight") for h in split_names(args.highlight) or []]
    if args.loop:
        if highlight:
            raise PvsdError("Give either --loop or --highlight, not both.")
        try:
            from pvsd.loops import loops
        except ImportError:
            raise PvsdError("--loop needs pvsd's loop analysis (pvsd.loops), which is not installed; "
                            "list the loop's variables with --highlight instead.") from None
        res = loops(model)
        highlight = list(res.loop(args.loop)["variables"])
    svg = diagram_svg(model, view=args.view, highlight=highlight)
    from pvsd.provenance import markup_comment, provenance

    prov = provenance(model.path, model.sha256, view=args.view, highlight=highlight)
    head, sep, rest = svg.partition("?>\n")  # after the XML declaration, before <svg>
    svg = f"{head}{sep}{markup_comment(prov)}\n{rest}" if sep else f"{markup_comment(prov)}\n{svg}"
    write_text(out, svg, force=args.force)
    if not parse_sketch(model.path):
        say(f"{model.path.name} has no sketch: the causal graph was laid out automatically.")
    say(f"diagram written: {out.resolve()}")
    return 0
