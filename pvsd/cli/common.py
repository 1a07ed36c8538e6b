"""Argument helpers shared by the CLI commands."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pvsd.errors import ParameterError, PvsdError

__all__ = [
    "add_model_arg",
    "add_output_args",
    "add_time_args",
    "default_out",
    "parse_sets",
    "say",
    "split_names",
    "time_kwargs",
]


def add_model_arg(p: argparse.ArgumentParser, optional: bool = False) -> None:
    """The MODEL positional: a file path or a bundled model name."""
    help_ = ("model file (.mdl, .xmile/.stmx, translated .py) or a bundled model name "
             "such as public_value_chain")
    if optional:
        p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                       help=help_ + " (default: the bundled reference model)")
    else:
        p.add_argument("model", metavar="MODEL", help=help_)


def add_time_args(p: argparse.ArgumentParser) -> None:
    """--initial-time, --final-time, --time-step, --saveper."""
    g = p.add_argument_group("time settings (default: the model file's)")
    g.add_argument("--initial-time", type=float, metavar="T")
    g.add_argument("--final-time", type=float, metavar="T")
    g.add_argument("--time-step", type=float, metavar="DT")
    g.add_argument("--saveper", type=float, metavar="DT", help="interval between saved times")


def time_kwargs(args: argparse.Namespace) -> dict[str, float]:
    """The time settings given on the command line, as Model.run keywords."""
    keys = ("initial_time", "final_time", "time_step", "saveper")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def add_output_args(p: argparse.ArgumentParser, what: str = "report folder") -> None:
    """-o/--out, --force."""
    p.add_argument("-o", "--out", metavar="PATH", help=f"where to write the {what}")
    p.add_argument("--force", action="store_true",
                   help="replace the output if it exists (never done silently)")


def split_names(values: Sequence[str] | None) -> list[str] | None:
    """Accept repeated options and comma-separated lists: ``-v A -v B,C``.

    Commas inside brackets belong to an element name: ``-v 'Pop[Town A, Young],Births'``.
    """
    from pvsd.arrays import split_list

    if not values:
        return None
    out = [v for item in values for v in split_list(item)]
    return out or None


def parse_sets(items: Sequence[str] | None) -> dict[str, float]:
    """Parse ``NAME=VALUE`` pairs from ``--set``."""
    out: dict[str, float] = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ParameterError(
                f"--set expects NAME=VALUE (quote names with spaces: --set "
                f"'Technology Investment=0.4'; one element: --set 'Population[Town A]=3'), "
                f"got {item!r}."
            )
        try:
            number = float(value)
        except ValueError:
            raise ParameterError(f"--set {name.strip()!r}: {value!r} is not a number.") from None
        if not math.isfinite(number):
            raise ParameterError(f"--set {name.strip()!r}: value must be finite, got {value!r}.")
        out[name.strip()] = number
    return out


def default_out(stem: str) -> Path:
    """A new folder name in the working directory: ``stem``, ``stem-2``, ``stem-3`` ..."""
    p = Path(stem)
    k = 2
    while p.exists():
        p = Path(f"{stem}-{k}")
        k += 1
    return p


def say(*parts: Any) -> None:
    """Print a message for the user (standard output)."""
    print(*parts)
    sys.stdout.flush()


def fail(message: str) -> PvsdError:
    """A user error to raise from a handler."""
    return PvsdError(message)


def add_executor_args(p: argparse.ArgumentParser) -> None:
    """--executor and --scheduler for commands that run ensembles."""
    p.add_argument("--executor", choices=("inprocess", "processes", "dask"), default="inprocess",
                   help="how ensembles run: in this process, vectorised (default), a local process pool, "
                   "or Dask (a local cluster unless --scheduler)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://host:8786 (implies --executor dask; the "
                   "workers must see the same file system)")


def executor_of(args: argparse.Namespace) -> str:
    """The ``executor`` value for :func:`pvsd.ensemble.run_ensemble`."""
    if getattr(args, "scheduler", None):
        if "://" not in args.scheduler:
            raise PvsdError(f"--scheduler {args.scheduler!r}: give an address such as tcp://host:8786.")
        return str(args.scheduler)
    return str(args.executor)
