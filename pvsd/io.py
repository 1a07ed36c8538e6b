"""Safe output writing: never half-write or silently overwrite a user's file."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import pandas as pd

from pvsd.errors import OutputExistsError

__all__ = ["atomic_write", "check_new", "replace_dir", "write_csv", "write_netcdf", "write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_new(path: str | Path, force: bool = False) -> Path:
    """Raise :class:`OutputExistsError` if ``path`` exists and ``force`` is false."""
    p = Path(path)
    if p.exists() and not force:
        raise OutputExistsError(
            f"Output {str(p)!r} exists already; pvsd never overwrites output silently. "
            "Pass --force (force=True) to replace it, or choose another name."
        )
    return p


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", force: bool = True) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; rename it over ``path`` only on success."""
    p = Path(path)
    check_new(p, force)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get normal permissions
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | Path, text: str, force: bool = True) -> Path:
    """Write ``text`` atomically."""
    with atomic_write(path, force=force) as fh:
        fh.write(text)
    return Path(path)


def provenance_path(path: str | Path) -> Path:
    """The provenance sidecar of a data file: ``out.csv`` -> ``out.provenance.json``."""
    p = Path(path)
    return p.with_name(p.stem + ".provenance.json")


def write_csv(
    path: str | Path,
    frame: pd.DataFrame,
    provenance: Mapping[str, Any] | None = None,
    force: bool = True,
    index: bool = True,
) -> Path:
    """Write a DataFrame as a plain CSV (the header is the first line, so spreadsheets
    open it as it is) and its provenance, if given, as the sidecar
    ``<name>.provenance.json`` (see :func:`provenance_path`). Both are atomic.
    """
    if provenance:
        check_new(provenance_path(path), force)
    with atomic_write(path, force=force) as fh:
        frame.to_csv(fh, index=index, lineterminator="\n")
    if provenance:
        record = {"data_file": Path(path).name, **dict(provenance)}
        write_text(provenance_path(path), json.dumps(record, indent=2, default=str) + "\n", force=force)
    return Path(path)


def replace_dir(tmp_dir: Path, final_dir: Path, force: bool) -> Path:
    """Move a fully written temporary folder into place (replacing only with ``force``)."""
    check_new(final_dir, force)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    if final_dir.exists():
        backup = final_dir.with_name(f".{final_dir.name}.old-{os.getpid()}")
        os.replace(final_dir, backup)
        os.replace(tmp_dir, final_dir)
        shutil.rmtree(backup, ignore_errors=True)
    else:
        os.replace(tmp_dir, final_dir)
    os.chmod(final_dir, 0o777 & ~_umask())  # mkdtemp makes 0700
    return final_dir


def write_netcdf(path: str | Path, dataset: Any, force: bool = True) -> Path:
    """Write an xarray Dataset as netCDF atomically.

    Sampled parameters are ``run`` coordinates named as in the model file; netCDF
    cannot mark names with spaces as coordinates, so they are stored as data
    variables along ``run`` (``xarray.open_dataset`` reads them back as such).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*has a space in its name.*")
        data = dataset.to_netcdf()
    with atomic_write(path, "wb", force=force) as fh:
        fh.write(bytes(data))
    return Path(path)
