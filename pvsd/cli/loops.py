"""``pvsd loops``: a model's feedback loops and which of them drive behaviour when."""

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
    base_scenario,
    default_out,
    figure_options,
    say,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "loops",
        help="find the feedback loops of a model and which ones dominate behaviour over time",
        description="Find every feedback loop of a model (or, for models with very many, the ones "
        "that matter most), its polarity (reinforcing R / balancing B) observed in a run, and "
        "which loops dominate behaviour in each period (the Loops that Matter method). Writes a "
        "self-contained HTML report: loop table, relative loop scores over time above a chosen "
        "variable, and a causal-loop diagram of the dominant loops.",
    )
    add_model_arg(p)
    add_scenario_args(p)
    add_set_arg(p)
    p.add_argument("--variable", metavar="NAME",
                   help="the one variable drawn under the loop scores (default: the stock in the most "
                        "important loops)")
    p.add_argument("--max-length", type=int, metavar="N", help="longest loop searched, in variables")
    p.add_argument("--max-loops", type=int, metavar="N", default=None,
                   help="above this many loops use the strongest-path search instead of listing "
                        "every loop (default 2000)")
    p.add_argument("--search", choices=("auto", "enumerate", "strongest_path"), default="auto",
                   help="loop search (default: auto)")
    p.add_argument("--names", metavar="FILE",
                   help="loop-names TOML file ([[loop]] name, variables in causal order); default: "
                        "MODEL_loops.toml next to the model, if any")
    add_time_args(p, saveper=False, method=False)  # scores: every Euler time step
    add_figure_args(p)
    add_output_args(p)
    add_quiet_arg(p)  # accepted everywhere (one vocabulary); nothing here shows progress
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.io import check_new
    from pvsd.loops import DEFAULT_MAX_LOOPS
    from pvsd.report.loops_report import loops_report

    model = pvsd.load(args.model)
    out = args.out or default_out(f"{model.name}-loops")
    check_new(out, args.force)
    figopts = figure_options(args)
    scenario = base_scenario(args, model)
    if args.variable:
        model.resolve(args.variable, where="--variable")
    say(f"analysing the feedback loops of {model.path.name}"
        + (f", scenario {scenario.name!r}" if scenario else "") + " ...")
    res = pvsd.loops(model, scenario, max_length=args.max_length,
                     max_loops=args.max_loops or DEFAULT_MAX_LOOPS, method=args.search, names=args.names,
                     initial_time=args.initial_time, final_time=args.final_time,
                     time_step=args.time_step)
    say(res.message)
    if res.ids:
        t = res.table().sort_values(["mean_abs_relative_score", "id"], ascending=[False, True]).head(10)
        say("\nMost important loops (id, polarity, mean relative score over the run, variables):")
        for r in t.itertuples(index=False):
            text = textwrap.fill(r.variables, width=100, initial_indent=" " * 4, subsequent_indent=" " * 6)
            say(f"  {res.label(r.id)} ({r.polarity}) {100 * r.mean_relative_score:+5.1f}%\n{text}")
        from pvsd.report.loops_report import reporting_period

        lead = res.leading(reporting_period(res, model))
        say("\nLeading loop by period:")
        for r in lead.itertuples(index=False):
            say(f"  {r.start:g}-{r.end:g}: {res.label(r.id)} ({r.polarity}), "
                f"{100 * r.mean_share:.0f}% of the change")
    rep = loops_report(res, model, variable=args.variable, scenario_file=args.scenarios)
    path = rep.write(out, force=args.force, fragments=args.fragment, **figopts)
    say(f"\nreport written: {path.resolve()}")
    return 0
