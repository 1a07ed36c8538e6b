"""``pvsd ensemble``: many runs in one vectorised pass, written as netCDF."""

from __future__ import annotations

import argparse
from pathlib import Path

from pvsd.cli.common import (
    add_executor_args,
    add_model_arg,
    add_quiet_arg,
    add_set_arg,
    add_time_args,
    executor_of,
    parse_sets,
    say,
    split_names,
    time_kwargs,
)
from pvsd.errors import DataError, PvsdError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ensemble",
        help="run many parameter sets at once and write the results as netCDF",
        description="Run an ensemble: either every row of a CSV of parameter values (one column per "
        "constant) or N sets drawn from the [parameters] of a spec file (the sensitivity/calibration "
        "format). Results are written as netCDF with dims (run, time), sampled values as run "
        "coordinates and provenance in the attributes.",
    )
    add_model_arg(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--samples", metavar="CSV", help="parameter sets, one row per run")
    src.add_argument("--spec", metavar="TOML", help="draw parameter sets from this file's [parameters]")
    p.add_argument("-n", "--n", type=int, default=1000, help="runs to draw with --spec (default 1000)")
    p.add_argument("--seed", type=int, default=12345, help="seed of the draw with --spec (default 12345)")
    p.add_argument("-v", "--outputs", action="append", metavar="NAMES",
                   help="variables to keep (default: the stocks)")
    add_set_arg(p)
    add_time_args(p)
    add_quiet_arg(p)
    add_executor_args(p)
    p.add_argument("-o", "--out", metavar="FILE.nc", required=True, help="netCDF file to write")
    p.add_argument("--force", action="store_true", help="replace FILE.nc if it exists")
    p.set_defaults(func=handle)


def _read_samples(path: str):
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DataError(f"Samples file {path!r} does not exist; check the path.")
    try:
        frame = pd.read_csv(p, comment="#")
    except Exception as exc:  # pandas raises several parser errors
        raise DataError(f"Samples file {path!r} is not a readable CSV: {exc}") from None
    if frame.empty:
        raise DataError(f"Samples file {path!r} has no rows; give one row per run.")
    bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise DataError(f"Samples file {path!r}: column(s) {bad} are not numeric.")
    nan_rows = frame.index[frame.isna().any(axis=1)]
    if len(nan_rows):
        row = int(nan_rows[0])
        cols = [str(c) for c in frame.columns[frame.iloc[row].isna().to_numpy()]]
        raise DataError(f"Samples file {path!r}, line {row + 2}: column(s) {cols} are empty or NaN; "
                        "give every run a number for every column.")
    return frame


def handle(args: argparse.Namespace) -> int:
    import pvsd
    from pvsd.io import check_new, write_netcdf

    if Path(args.out).suffix.lower() != ".nc":
        raise PvsdError(f"--out {args.out!r}: ensembles are written as netCDF; use a .nc file name.")
    check_new(args.out, args.force)
    model = pvsd.load(args.model)
    if args.samples:
        samples = _read_samples(args.samples)
    else:
        if args.n < 1:
            raise PvsdError(f"-n must be at least 1, got {args.n}.")
        space = pvsd.ParameterSpace.from_toml(args.spec)
        space.validate(model)
        samples = space.sample(args.n, seed=args.seed)
    from pvsd.overrides import resolve_sets

    sets = resolve_sets(model, parse_sets(args.set))
    if sets:
        clash = sorted(set(sets) & {model.resolve(c) for c in samples.columns})
        if clash:
            raise PvsdError(f"--set {', '.join(clash)}: also a sampled column; a parameter is either "
                            "sampled or set, not both.")
        samples = samples.assign(**sets)
    ds = model.run_ensemble(samples, outputs=split_names(args.outputs), save_every=args.saveper,
                            executor=executor_of(args), seed=args.seed if args.spec else None,
                            progress=False if args.quiet else None,
                            **{k: v for k, v in time_kwargs(args).items() if k != "saveper"})
    write_netcdf(args.out, ds, force=args.force)
    say(f"wrote {args.out}: {ds.sizes['run']} runs x {ds.sizes['time']} times of "
        f"{', '.join(ds.data_vars)} (engine: {ds.attrs.get('engine', '?')})")
    return 0
