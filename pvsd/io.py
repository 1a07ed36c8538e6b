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

from pvsd.errors import OutputExistsError, OutputPathError

__all__ = [
    "atomic_write",
    "check_new",
    "replace_dir",
    "write_csv",
    "write_netcdf",
    "write_text",
    "write_texts",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_new(path: str | Path, force: bool = False) -> Path:
    """Raise :class:`OutputExistsError` if ``path`` exists and ``force`` is false."""
    p = Path(path)
    for parent in p.parents:  # a file on the way makes every write fail later, half-way
        if parent.exists():
            if not parent.is_dir():
                raise OutputPathError(
                    f"Output {str(p)!r} cannot be written: {str(parent)!r} is a file, not a "
                    "folder. Choose another output path."
                )
            if not os.access(parent, os.W_OK | os.X_OK):
                raise OutputPathError(
                    f"Output {str(p)!r} cannot be written: the folder {str(parent)!r} is not "
                    "writable for you. Choose an output path in a folder you can write."
                )
            break
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
        if force:
            os.replace(tmp, p)
        else:
            _place_new_file(Path(tmp), p)
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


def write_texts(files: Mapping[str | Path, str], force: bool = False) -> list[Path]:
    """Write several text files all or nothing.

    Every file is staged beside its target first (so an unwritable place fails
    before anything lands); only then are they moved in. If moving one fails,
    those already moved are removed again, so no command leaves half its output.
    """
    targets = [Path(p) for p in files]
    for p in targets:
        check_new(p, force)
    staged: list[tuple[Path, Path]] = []
    try:
        for p, text in zip(targets, files.values(), strict=True):
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
            staged.append((Path(tmp), p))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            os.chmod(tmp, 0o666 & ~_umask())
        placed: list[Path] = []
        try:
            for tmp, p in staged:
                if force:
                    os.replace(tmp, p)
                else:
                    _place_new_file(tmp, p)
                placed.append(p)
        except BaseException:
            for p in placed:
                with contextlib.suppress(OSError):
                    p.unlink()
            raise
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    return targets


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


def _lost_race(p: Path) -> OutputExistsError:
    return OutputExistsError(
        f"Output {str(p)!r} appeared while pvsd was writing it (another process, or another "
        "pvsd command, wrote the same path at the same time); pvsd did not replace it and "
        "this result was not saved. Run again with another output name, or with --force "
        "(force=True) to replace it."
    )


def _place_new_file(tmp: Path, p: Path) -> None:
    """Move ``tmp`` to ``p`` only if ``p`` does not exist, atomically (no check-then-rename race)."""
    try:
        os.link(tmp, p)  # fails if p exists, whoever created it in the meantime
    except FileExistsError:
        raise _lost_race(p) from None
    except OSError:  # file systems without hard links: a no-replace rename, where the OS has it
        if _rename_noreplace(tmp, p):
            return
        # neither: the last check is as close to the rename as it can be (a race remains
        # only on such file systems, where before any write failed outright)
        if p.exists():
            raise _lost_race(p) from None
        os.replace(tmp, p)
        return
    os.unlink(tmp)


def _rename_noreplace(src: Path, dst: Path) -> bool:
    """``renameat2(RENAME_NOREPLACE)`` on Linux; False where unavailable."""
    import ctypes
    import errno

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_noreplace = -100, 1
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), rename_noreplace) == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.EEXIST:
        raise _lost_race(dst)
    if err in (errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err), str(dst))


def replace_dir(tmp_dir: Path, final_dir: Path, force: bool) -> Path:
    """Move a fully written temporary folder into place (replacing only with ``force``).

    Without ``force`` the move itself refuses to replace: the final name is claimed
    with ``mkdir`` (atomic; fails if anything exists there) and the staged folder
    renamed onto that empty claim, so two concurrent commands never both "win".
    """
    check_new(final_dir, force)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    if force and final_dir.exists():
        backup = final_dir.with_name(f".{final_dir.name}.old-{os.getpid()}")
        os.replace(final_dir, backup)
        os.replace(tmp_dir, final_dir)
        shutil.rmtree(backup, ignore_errors=True)
    elif force:
        os.replace(tmp_dir, final_dir)
    else:
        try:
            os.mkdir(final_dir)
        except FileExistsError:
            raise _lost_race(final_dir) from None
        try:
            os.replace(tmp_dir, final_dir)  # onto our own empty claim
        except OSError:
            with contextlib.suppress(OSError):
                os.rmdir(final_dir)
            raise _lost_race(final_dir) from None
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
