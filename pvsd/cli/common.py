"""Argument helpers shared by the CLI commands, and the one flag vocabulary.

Every command spells the same thing the same way and gives it the same meaning
(docs/cli.md has this table for users). New commands and options use these names
and the ``add_*`` helpers below; an option that means something else gets another name.

=========================  ==================================================================
``MODEL``                  first positional: model file or bundled model name
``--scenarios FILE``       a scenario TOML file (format: ``pvsd scenarios --help``)
``--scenario NAME``        one scenario of ``--scenarios`` (repeatable where several run)
``--set NAME=VALUE``       override a constant, wherever a model runs (repeatable); applied on
                           top of the scenario, to the baseline and to every scenario
``-v/--outputs NAMES``     a LIST of variables to output, keep or chart (comma-separated or
                           repeated); never one variable
``--variable NAME``        ONE variable (e.g. drawn under the loop scores)
``--initial-time T``,      time settings for the run (``--saveper``: interval between saved
``--final-time T``,        times; there is no ``--save-every``)
``--time-step DT``,
``--saveper DT``
``--method NAME``          the integration method (euler, rk4), wherever a model runs.
                           Other choices of algorithm have their own names: ``--analysis``
                           (sensitivity: morris, sobol, fast, delta), ``--search`` (loops)
``-n/--n N``               sample size / number of runs drawn
``--seed N``               random seed (recorded in the provenance)
``--spec FILE``            a parameter/uncertainty spec (TOML); positional ``SPEC`` where the
                           spec is the command's subject (sensitivity, calibrate)
``--bands N``              Monte Carlo runs for uncertainty bands; ``--no-bands`` skips them
``--executor``,            how ensembles run; Dask scheduler address
``--scheduler ADDRESS``
``-o/--out PATH``          the file or folder to write
``--force``                replace an existing output (never done silently)
``--fragment``             also write one embeddable HTML fragment per figure
``--format FMT``           also write every figure as static images: png, svg, pdf
                           (comma-separated or repeated)
``--plotly-js MODE``       how pages load plotly.js: ``shared`` (one copy in ``pvsd-assets/``
                           beside the report folders of a parent folder, shared by all; default
                           for report folders), ``folder`` (a copy inside each report folder),
                           ``inline`` (self-contained page; default for a single file) or
                           ``cdn`` (from cdn.plot.ly; needs the internet to view)
``-q/--quiet``             no progress bars and only the essential messages
=========================  ==================================================================

Old spellings kept as hidden aliases: ``--scenario-file`` (= ``--scenarios``), ``--only``
(= ``--scenario``), ``--save-every`` (= ``--saveper``), ``--no-progress`` (= ``--quiet``),
``--integration`` (= ``--method`` in sensitivity),
``--band-runs`` (= ``--bands``), ``--uncertainty`` (= ``--spec``).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pvsd.errors import ParameterError, PvsdError

__all__ = [
    "add_alias",
    "add_figure_args",
    "add_model_arg",
    "add_output_args",
    "add_quiet_arg",
    "add_scenario_args",
    "add_set_arg",
    "add_time_args",
    "base_scenario",
    "default_out",
    "figure_options",
    "model_with_sets",
    "parse_sets",
    "record_sets",
    "say",
    "scenarios_with_sets",
    "split_names",
    "time_kwargs",
]


def add_model_arg(p: argparse.ArgumentParser, optional: bool = False) -> None:
    """The MODEL positional: a file path or a bundled model name."""
    help_ = ("model file (.mdl, .xmile/.stmx, translated .py) or a bundled model name "
             "such as public_value_chain_v2")
    if optional:
        p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                       help=help_ + " (default: the bundled reference model)")
    else:
        p.add_argument("model", metavar="MODEL", help=help_)


def add_time_args(p: argparse.ArgumentParser, saveper: bool = True, method: bool = True) -> None:
    """--initial-time, --final-time, --time-step, --saveper (hidden alias --save-every), --method."""
    g = p.add_argument_group("time settings (default: the model file's)")
    g.add_argument("--initial-time", type=float, metavar="T")
    g.add_argument("--final-time", type=float, metavar="T")
    g.add_argument("--time-step", type=float, metavar="DT")
    if saveper:
        g.add_argument("--saveper", type=float, metavar="DT", help="interval between saved times")
        add_alias(g, "--save-every", "saveper", type=float)
    if method:
        g.add_argument("--method", metavar="NAME", default=None,
                       help="integration method: euler (default, as PySD) or rk4 (Vensim's RK4 Fixed)")
        g.add_argument("--force-long", action="store_true", default=False,
                       help="run even when the estimated work or memory is above pvsd's limits")


def add_set_arg(p: argparse.ArgumentParser) -> None:
    """--set NAME=VALUE (repeatable), for every command that runs a model."""
    p.add_argument("--set", action="append", metavar="NAME=VALUE", dest="set",
                   help="override a constant in every run of the command (repeatable; quote names with "
                   "spaces); applied on top of any scenario, to the baseline and every scenario")


def add_scenario_args(p: argparse.ArgumentParser, several: bool = False, default_help: str = "",
                      pick: bool = True) -> None:
    """--scenarios FILE (hidden alias --scenario-file) and --scenario NAME (alias --only)."""
    p.add_argument("--scenarios", metavar="FILE",
                   help="scenario file (TOML; format in `pvsd scenarios --help`)" + default_help)
    add_alias(p, "--scenario-file", "scenarios")
    if not pick:
        return
    if several:
        p.add_argument("--scenario", action="append", metavar="NAMES",
                       help="run only these scenarios of --scenarios (comma-separated or repeated)")
        add_alias(p, "--only", "scenario", action="append")
    else:
        p.add_argument("--scenario", metavar="NAME", help="the scenario of --scenarios to use")


def add_quiet_arg(p: argparse.ArgumentParser) -> None:
    """-q/--quiet (hidden alias --no-progress)."""
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress bars and only the essential messages")
    add_alias(p, "--no-progress", "quiet", action="store_true")


def add_alias(p: Any, flag: str, dest: str, **kwargs: Any) -> None:
    """An old spelling of an option, accepted but not shown in ``--help``."""
    p.add_argument(flag, dest=dest, help=argparse.SUPPRESS, **kwargs)


def add_figure_args(p: argparse.ArgumentParser, folder: bool = True) -> None:
    """--fragment, --format, --plotly-js for commands that write figures."""
    if folder:
        p.add_argument("--fragment", action="store_true",
                       help="also write one embeddable HTML fragment per figure")
    p.add_argument("--format", action="append", metavar="FMT", dest="format",
                   help="also write every figure as a static image: png, svg or pdf (comma-separated "
                   "or repeated; uses the system Chromium, offline)")
    p.add_argument("--plotly-js", default=None, dest="plotly_js", metavar="MODE",
                   help="how the HTML loads plotly.js: shared (one copy in pvsd-assets/ beside the "
                   "report folders of the parent folder, shared by every report there; default for a "
                   "report folder), folder (a copy inside the report folder), inline (self-contained "
                   "page; default for a single file) or cdn (from cdn.plot.ly; needs the internet)")


def figure_options(args: argparse.Namespace) -> dict[str, Any]:
    """``formats`` and ``plotly_js`` keywords for report writers, checked."""
    from pvsd.document import check_plotly_js_mode
    from pvsd.figures import check_formats

    mode = getattr(args, "plotly_js", None)
    if mode is not None:
        check_plotly_js_mode(mode, where="--plotly-js")
    return {"formats": check_formats(split_names(getattr(args, "format", None)) or ()),
            "plotly_js": mode}


def base_scenario(args: argparse.Namespace, model: Any) -> Any:
    """The one scenario a single run uses: ``--scenarios``/``--scenario`` with ``--set`` on top.

    Returns None when neither is given. With a file of exactly one scenario,
    ``--scenario`` may be left out.
    """
    from pvsd.errors import ScenarioError

    name = getattr(args, "scenario", None)
    if isinstance(name, list):
        names = split_names(name) or []
        if len(names) > 1:
            raise ScenarioError(f"--scenario: this command runs one scenario, got {', '.join(names)}.")
        name = names[0] if names else None
    file = getattr(args, "scenarios", None)
    if name and not file:
        raise ScenarioError("--scenario NAME needs --scenarios FILE (the file that defines it).")
    scenario = None
    if file:
        import pvsd

        sset = pvsd.load_scenarios(file, model)
        if name:
            scenario = sset[name]
        elif len(sset) == 1:
            scenario = next(iter(sset))
        else:
            raise ScenarioError(f"{file} defines {len(sset)} scenarios; choose one with --scenario NAME "
                                f"({', '.join(sset.names)}).")
    sets = parse_sets(getattr(args, "set", None))
    if not sets:
        return scenario
    from pvsd.overrides import scenario_with_sets

    return scenario_with_sets(model, scenario, sets)


def time_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The time settings given on the command line, as Model.run keywords."""
    keys = ("initial_time", "final_time", "time_step", "saveper")
    out: dict[str, Any] = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    if getattr(args, "method", None) is not None:
        from pvsd.numerics import resolve_method

        out["method"] = resolve_method(args.method, "--method")
    if getattr(args, "force_long", False):
        out["allow_long"] = True
    return out


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


def model_with_sets(args: argparse.Namespace, model: Any,
                    taken: dict[str, str] | None = None) -> tuple[Any, dict[str, float]]:
    """``--set`` for commands whose runs happen inside an analysis (policy search, scenario
    discovery, calibration): the model copy that applies the values to every run
    (:func:`pvsd.overrides.fix_constants`) and the values by canonical name.

    ``taken`` maps names the command varies itself (levers, uncertainties, fitted
    parameters) to what they are; a ``--set`` of one of them is an error, since the
    command's own values would otherwise win silently.
    """
    from pvsd.arrays import split_label
    from pvsd.overrides import fix_constants, resolve_sets

    sets = {model.resolve(k, where="--set"): v for k, v in parse_sets(getattr(args, "set", None)).items()}
    if not sets:
        return model, {}
    bases = {split_label(k)[0]: what for k, what in (taken or {}).items()}
    for k in sets:
        what = bases.get(split_label(k)[0])
        if what:
            raise ParameterError(f"--set {k!r}: it is {what}, which the command varies itself; a constant "
                                 "is either varied or set. Leave it out of --set, or take it out of the spec.")
    sets = resolve_sets(model, sets)  # now the declared ranges
    return fix_constants(model, sets), sets


def record_sets(result: Any, sets: dict[str, float]) -> Any:
    """A copy of a frozen result whose provenance records the ``--set`` values."""
    import dataclasses

    if not sets:
        return result
    prov = dict(result.provenance)
    prov["parameters"] = {**dict(prov.get("parameters") or {}), **sets}
    prov["set"] = dict(sets)
    return dataclasses.replace(result, provenance=prov)


def scenarios_with_sets(text: str, sets: dict[str, float]) -> str:
    """A scenario file (as written by optimize/discover) whose every scenario also carries
    the ``--set`` values, so running it later reproduces what the command ran."""
    if not sets:
        return text
    import tomllib

    from pvsd.arrays import split_label
    from pvsd.policy.result import scenarios_toml

    data = tomllib.loads(text)
    head = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        head.append(line[2:] if line.startswith("# ") else line[1:])
    head.append("With --set " + ", ".join(f"{k}={v:g}" for k, v in sets.items())
                + " in every scenario (as in the runs that chose them).")
    bases = {split_label(k)[0] for k in sets}
    tables = {}
    for name, t in data.get("scenarios", {}).items():
        t = dict(t)
        # a lever wins over set in a scenario file: drop levers --set replaced
        levers = {k: v for k, v in (t.get("levers") or {}).items() if split_label(k)[0] not in bases}
        t["set"] = {**{k: v for k, v in (t.get("set") or {}).items() if k not in sets}, **sets}
        t["levers"] = levers
        tables[name] = t
    return scenarios_toml(tables, "\n".join(head), data.get("compare"))


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
