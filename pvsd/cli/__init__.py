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
    "sensitivity", "calibrate", "loops", "doc", "diagram", "embed",
    "optimize", "discover", "stepcheck",
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
    except OSError as exc:  # an output place that cannot be written: say where and why
        print(f"pvsd: error: {_os_error_text(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a pvsd bug: one paragraph, the traceback only on request
        import os

        if os.environ.get("PVSD_DEBUG"):
            raise
        msg = textwrap.fill(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug in pvsd, not in your "
            "input; please report it with the command line (run again with PVSD_DEBUG=1 to see "
            "the traceback).", width=100, subsequent_indent="  ", break_long_words=False)
        print(f"pvsd: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pvsd: interrupted", file=sys.stderr)
        return 130


def _os_error_text(exc: OSError) -> str:
    """One paragraph for a file-system error: the path, what is wrong, the fix."""
    import errno

    path = exc.filename or "the output path"
    why = {
        errno.EACCES: "permission denied (the folder is read-only for you)",
        errno.EPERM: "operation not permitted",
        errno.EEXIST: "a file or folder of that name exists already (or a part of the path is a file)",
        errno.EISDIR: "it is an existing folder, not a file",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
        errno.ENOSPC: "the disk is full",
        errno.EROFS: "the file system is read-only",
        errno.ENOENT: "a folder on the way does not exist",
    }.get(exc.errno or -1, exc.strerror or type(exc).__name__)
    msg = (f"cannot write {str(path)!r}: {why}. Choose an output path in a folder you can write "
           "(-o/--out), or remove what is in the way.")
    return textwrap.fill(msg, width=100, subsequent_indent="  ", break_long_words=False,
                         break_on_hyphens=False)
