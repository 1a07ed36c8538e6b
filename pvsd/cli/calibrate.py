"""``pvsd calibrate``: fit a model to data and write a report and the fitted parameters."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pvsd.cli.common import (
    add_figure_args,
    add_quiet_arg,
    add_set_arg,
    default_out,
    figure_options,
    model_with_sets,
    record_sets,
    say,
    split_names,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="fit a model's constants to indicator data (report + fitted scenario)",
        description="Fit the parameters named in a calibration spec (TOML) to its data series and "
        "write a folder with report.html (opens offline: fit statistics in and out of sample, data "
        "vs fit with bands, estimates with standard errors and intervals, diagnostics), "
        "fitted_parameters.toml (a scenario file: run it with `pvsd run MODEL --scenarios ... "
        "--scenario calibrated`), fitted_parameters.csv and CSVs of every table. Nothing is "
        "written unless the whole calibration succeeds. --set holds a constant the spec does not "
        "fit at a value in every run (it is then listed with the fixed constants and written into "
        "fitted_parameters.toml).",
    )
    p.add_argument("spec", metavar="SPEC", help="calibration spec file (TOML), e.g. "
                   "calibration/us_reference.toml")
    p.add_argument("-o", "--out", metavar="FOLDER",
                   help="output folder (default: calibration-<spec name> in the working directory)")
    p.add_argument("--force", action="store_true", help="replace the output folder if it exists")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--mcmc", action="store_true", default=None,
                   help="also sample the Bayesian posterior (emcee; panel specs: Metropolis-within-Gibbs "
                   "over unit blocks), whatever the spec says")
    g.add_argument("--no-mcmc", dest="mcmc", action="store_false",
                   help="skip the posterior even if the spec enables it")
    p.add_argument("--steps", type=int, metavar="N",
                   help="MCMC steps (overrides [mcmc] steps; panel specs: [posterior] iterations)")
    p.add_argument("--profile", action="append", metavar="NAMES",
                   help="profile-likelihood intervals for these parameters (comma-separated or "
                   "repeated; 'all' for every parameter)")
    p.add_argument("--seed", type=int, help="random seed (overrides the spec's)")
    p.add_argument("--method", metavar="NAME",
                   help="integration method: euler or rk4 (overrides the spec's method)")
    p.add_argument("--scenario-name", default="calibrated", metavar="NAME",
                   help="name of the scenario in fitted_parameters.toml (default: calibrated)")
    p.add_argument("--holdout", type=int, metavar="N",
                   help="panel specs: hold out each unit's last N waves (overrides [panel] holdout)")
    p.add_argument("--forecast", type=float, nargs="+", metavar="YEAR",
                   help="panel specs: also forecast these years (forecast.csv)")
    add_set_arg(p)
    add_figure_args(p)
    add_quiet_arg(p)
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from pvsd.calibration import calibrate, load_spec
    from pvsd.io import check_new, replace_dir, write_text
    from pvsd.parameters import read_toml
    from pvsd.provenance import as_text as provenance_text

    if "panel" in read_toml(args.spec):
        return _handle_panel(args)
    if args.holdout is not None or args.forecast:
        from pvsd.errors import SpecError

        raise SpecError(f"{args.spec}: --holdout and --forecast apply to panel specs (with a "
                        "[panel] table); for a single-unit spec set holdout_period in [calibration].")
    import dataclasses

    spec = load_spec(args.spec)
    if getattr(args, "method", None):
        spec = dataclasses.replace(spec, method=args.method)  # validated by the spec
    out = Path(args.out) if args.out else default_out(f"calibration-{Path(args.spec).stem}")
    check_new(out, args.force)
    figopts = figure_options(args)
    model, sets = _model_with_sets(args, spec)
    mcmc: bool | dict | None = args.mcmc
    if args.steps is not None:
        mcmc = {"steps": args.steps, "enabled": True if args.mcmc is None else bool(args.mcmc)}
    prof = split_names(args.profile)
    profile: bool | list[str] | None = None
    if prof:
        profile = True if [x.lower() for x in prof] == ["all"] else prof
    say(f"calibrating {spec.model} against {len(spec.series)} series ({args.spec})")
    result = calibrate(spec, model=model, mcmc=mcmc, profile=profile, seed=args.seed,
                       progress=False if args.quiet else None, log=lambda m: say(f"  {m} ..."))
    if sets:  # held fixed during the fit: listed, and written into fitted_parameters.toml
        result = record_sets(dataclasses.replace(result, fixed={**dict(result.fixed), **sets}), sets)
    say(result.report())
    rep = result.html_report()
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        folder = stage / "out"
        rep.write(folder, fragments=args.fragment, staged_for=out, **figopts)
        write_text(folder / "fitted_parameters.toml", result.scenario_toml(args.scenario_name))
        result.save_parameters(folder / "fitted_parameters.csv", force=True)
        write_text(folder / "report.txt", result.report() + "\n\n" + provenance_text(result.provenance))
        replace_dir(folder, out, args.force)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    say(f"report written: {(out / 'report.html').resolve()}")
    say(f"fitted parameters: {(out / 'fitted_parameters.toml').resolve()} (scenario "
        f"{args.scenario_name!r}) and fitted_parameters.csv")
    return 0


def _handle_panel(args: argparse.Namespace) -> int:
    import time

    from pvsd.calibration.panel import calibrate_panel, load_panel_spec
    from pvsd.io import check_new

    spec = load_panel_spec(args.spec)
    if args.seed is not None:
        spec = spec.with_options(seed=args.seed)
    if getattr(args, "method", None):
        from pvsd.calibration.panel.spec import _method

        spec = spec.with_options(method=_method(args.method, "--method"))
    out = Path(args.out) if args.out else default_out(f"calibration-{Path(args.spec).stem}")
    check_new(out, args.force)
    figopts = figure_options(args)
    model, sets = _model_with_sets(args, spec)
    post: bool | dict | None = args.mcmc
    if args.steps is not None:
        post = {"iterations": args.steps, "enabled": True if args.mcmc is None else bool(args.mcmc)}
    t0 = time.perf_counter()
    say(f"panel calibration of {spec.model} ({args.spec})")
    log = (lambda m: None) if args.quiet else (lambda m: say(f"  [{time.perf_counter() - t0:6.1f} s] {m}"))
    result = record_sets(calibrate_panel(spec, model, posterior=post, holdout=args.holdout,
                                         forecast=args.forecast, log=log), sets)
    say(result.report())
    path = result.write(out, force=args.force, fragments=args.fragment, **figopts)
    say(f"report written: {path.resolve()}")
    say(f"tables: {out.resolve()}/*.csv (forecast.csv, estimates.csv, skill.csv ...) and results.nc")
    return 0


def _model_with_sets(args: argparse.Namespace, spec: Any) -> tuple[Any, dict[str, float]]:
    """The spec's model, with ``--set`` applied to every run of the fit (None: not loaded)."""
    if not args.set:
        return None, {}
    import pvsd

    model = pvsd.load(spec.model)
    if hasattr(spec, "parameter_space"):
        taken = {n: "a parameter (or lever path) the spec fits" for n in spec.fitted_names(model)}
    else:  # a panel spec: fitted, or set per unit from data
        taken = {model.resolve(p.name, where=f"{spec.where} [parameters]"): "a parameter the spec fits "
                 "(or sets per unit)" for p in spec.parameters}
        taken.update({model.resolve(i.variable, where=f"{spec.where} [inputs]"): "an input the spec "
                      "sets per unit from data" for i in spec.inputs})
        taken.update({model.resolve(s.constant, where=f"{spec.where} [panel.state]"): "a state "
                      "constant [panel.state] sets per run" for s in getattr(spec, "state", ())})
    return model_with_sets(args, model, taken)
