"""The ``pvsd`` command line.

Each command lives in its own module ``pvsd.cli.<name>`` with a ``register``
function that adds an argparse sub-parser whose ``func`` handles it. User errors
(:class:`~pvsd.errors.PvsdError`) print one paragraph and exit with code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import textwrap
from collections.abc import Sequence

from pvsd.errors import PvsdError

__all__ = ["COMMANDS", "build_parser", "main"]

# Order is the order of `pvsd --help`.
COMMANDS: tuple[str, ...] = (
    "report", "run", "scenarios", "ensemble", "explore", "info",
    "sensitivity", "calibrate", "loops", "doc", "diagram", "embed", "stepcheck",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: exit 2, no traceback
        self.print_usage(sys.stderr)
        self.exit(2, f"pvsd: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered command."""
    from pvsd import __version__

    parser = _Parser(
        prog="pvsd",
        description="System-dynamics models of how digital government creates public value: "
        "run them, compare scenarios and write self-contained reports.",
        epilog="Run `pvsd COMMAND --help` for a command's options. With no arguments, "
        "`pvsd report` runs the bundled reference model and its scenarios.",
    )
    parser.add_argument("--version", action="version", version=f"pvsd {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(f"pvsd.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PvsdError as exc:
        msg = textwrap.fill(str(exc), width=100, subsequent_indent="  ",
                            break_long_words=False, break_on_hyphens=False)
        print(f"pvsd: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("pvsd: interrupted", file=sys.stderr)
        return 130
