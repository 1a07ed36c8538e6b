"""Translate model files with PySD and cache the result outside the model's folder."""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pvsd.errors import ModelLoadError
from pvsd.provenance import file_sha256, versions
from pvsd.resources import bundled_model_path, bundled_models

__all__ = [
    "ModelSource",
    "cache_dir",
    "cache_key",
    "parse_model_file",
    "resolve_model_path",
    "translate",
]

_CACHE_FORMAT = "3"  # 3: keyed on the model folder too; 2: macro modules kept in the cache
VENSIM_SUFFIXES = (".mdl",)
XMILE_SUFFIXES = (".xmile", ".stmx", ".xml")
PY_SUFFIXES = (".py",)


def cache_dir() -> Path:
    """Root folder of translated models (``$PVSD_CACHE_DIR`` or the user cache)."""
    env = os.environ.get("PVSD_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "pvsd"


@dataclass(frozen=True)
class ModelSource:
    """A model file and its translation.

    Attributes
    ----------
    path
        The user's model file (``.mdl``, ``.xmile``/``.stmx`` or translated ``.py``).
    sha256
        SHA-256 of that file.
    py_path
        The PySD-translated Python module, in the cache (or ``path`` for ``.py``).
    abstract_path
        Pickled PySD abstract model in the cache, or None for ``.py`` input.
    """

    path: Path
    sha256: str
    py_path: Path
    abstract_path: Path | None

    @property
    def name(self) -> str:
        return self.path.stem

    def abstract_model(self) -> Any:
        """PySD's abstract model of the file, or None when loaded from ``.py``."""
        if self.abstract_path is None:
            return None
        with contextlib.suppress(Exception), open(self.abstract_path, "rb") as fh:
            return pickle.load(fh)
        return parse_model_file(self.path)


def resolve_model_path(model: str | os.PathLike[str]) -> Path:
    """Turn a path or a bundled model name into an existing model file path."""
    text = os.fspath(model)
    path = Path(text).expanduser()
    if path.is_file():
        return path.resolve()
    if path.is_dir():
        raise ModelLoadError(
            f"{text!r} is a folder, not a model file; give the path of a .mdl, "
            ".xmile/.stmx or translated .py file."
        )
    bundled = bundled_model_path(text)
    if bundled is not None and os.sep not in text:
        return bundled.resolve()
    names = ", ".join(sorted(bundled_models())) or "(none)"
    raise ModelLoadError(
        f"Model file {text!r} does not exist (looked in {Path.cwd()}), and it is "
        f"not the name of a bundled model. Bundled models: {names}. Check the path, "
        "or pass one of those names."
    )


def parse_model_file(path: Path) -> Any:
    """PySD's abstract model of a Vensim ``.mdl`` or XMILE file (raises :class:`ModelLoadError`)."""
    from pvsd.modelcheck import explain_parse_error, precheck

    suffix = path.suffix.lower()
    from pvsd.numerics.limits import check_model_file

    check_model_file(path)  # huge or junk files never reach PySD's parser
    precheck(path)  # also in translate(), cheap: a cached entry may predate the check
    try:
        with warnings.catch_warnings():
            # PySD warns that it assumes UTF-8 when a file has no {UTF-8} marker: so does Vensim.
            warnings.filterwarnings("ignore", message="No encoding specified")
            return _parse_with_pysd(path, suffix)
    except ModelLoadError:
        raise
    except RecursionError:
        raise ModelLoadError(
            f"Could not parse model file {str(path)!r}: an equation is nested too deeply for "
            "PySD's parser. Split very long equations into intermediate variables."
        ) from None
    except Exception as exc:  # PySD's parser errors are of many types
        explained = explain_parse_error(path, exc)
        if explained:
            raise ModelLoadError(explained) from None
        if suffix not in VENSIM_SUFFIXES:
            raise ModelLoadError(
                f"Could not parse XMILE file {str(path)!r}: {type(exc).__name__}: {exc}. Check "
                "that it is well-formed XMILE exported by Stella, iThink or Vensim."
            ) from None
        raise ModelLoadError(
            f"Could not parse model file {str(path)!r}: {type(exc).__name__}: {exc}. "
            "Check that it is a valid Vensim .mdl or XMILE file (it must open in "
            "Vensim or Stella), and that every equation ends with '|'."
        ) from None


def _parse_with_pysd(path: Path, suffix: str) -> Any:
    if suffix in VENSIM_SUFFIXES:
        from pysd.translators.vensim.vensim_file import VensimFile

        vf = VensimFile(path)
        vf.parse()
        return vf.get_abstract_model()
    from pysd.translators.xmile.xmile_file import XmileFile

    xf = XmileFile(path)
    xf.parse()
    return xf.get_abstract_model()


def cache_key(path: Path, sha: str) -> str:
    """Name of the cache entry of a model file.

    A translation depends on the model text (its SHA-256), the PySD version, the
    cache format and the folder the model lives in: the generated code reads
    external data files (GET XLS, DIRECT DATA, lookups, constants) relative to
    itself through links to the model's own folder, so the same model text in
    two folders must never share an entry.
    """
    import hashlib

    folder = hashlib.sha256(str(path.resolve().parent).encode("utf-8", "surrogateescape"))
    return (f"{path.stem}-{sha[:16]}-d{folder.hexdigest()[:12]}"
            f"-pysd{versions()['pysd']}-c{_CACHE_FORMAT}")


def _link_data_files(path: Path, target: Path) -> None:
    """Link the model folder's other files into a cache entry (refreshing stale links)."""
    src = path.resolve().parent
    for sibling in src.iterdir():
        if not sibling.is_file() or sibling.name == path.name:
            continue
        link = target / sibling.name
        with contextlib.suppress(OSError):
            if link.is_symlink():
                if Path(os.readlink(link)) == sibling:
                    continue
                link.unlink()
            elif link.exists():
                continue  # a file the translation wrote itself
            link.symlink_to(sibling)
    # links to files that have gone from the model folder would read stale data
    for link in target.iterdir():
        with contextlib.suppress(OSError):
            if link.is_symlink() and not link.exists():
                link.unlink()


def _entry_ok(py_path: Path) -> bool:
    """Whether a cached translation is readable Python (a crash can leave it truncated)."""
    try:
        compile(py_path.read_bytes(), str(py_path), "exec")
    except (OSError, SyntaxError, ValueError):
        return False
    return True


def _discard(target: Path) -> None:
    trash = target.with_name(f".trash-{target.name}-{os.getpid()}")
    with contextlib.suppress(OSError):
        os.replace(target, trash)
    shutil.rmtree(trash, ignore_errors=True)


def translate(path: Path, rebuild: bool = False) -> ModelSource:
    """Translate a model file with PySD, reusing the cached translation when present.

    ``rebuild=True`` discards the cached entry first (used when PySD cannot load it).
    """
    suffix = path.suffix.lower()
    try:
        sha = file_sha256(path)
    except OSError as exc:
        raise ModelLoadError(f"Cannot read model file {str(path)!r}: {exc}") from None
    if suffix in PY_SUFFIXES:
        return ModelSource(path, sha, path, None)
    if suffix not in VENSIM_SUFFIXES + XMILE_SUFFIXES:
        raise ModelLoadError(
            f"{str(path)!r} has suffix {suffix!r}; pvsd reads Vensim .mdl, XMILE "
            ".xmile/.stmx/.xml and PySD-translated .py files."
        )
    from pvsd.modelcheck import precheck
    from pvsd.numerics.limits import check_model_file

    check_model_file(path)  # before reading it as text: huge or junk files stop here
    precheck(path)  # mistakes PySD would translate into a broken module
    key = cache_key(path, sha)
    target = cache_dir() / key
    py_path = target / (path.stem + ".py")
    abstract_path = target / "abstract_model.pickle"
    if rebuild and target.exists():
        _discard(target)
    if py_path.is_file():
        if _entry_ok(py_path):
            _link_data_files(path, target)
            return ModelSource(path, sha, py_path, abstract_path)
        _discard(target)  # a damaged entry is rebuilt, never trusted

    abstract = parse_model_file(path)
    cache_dir().mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=cache_dir()))
    try:
        _link_data_files(path, work)
        copy = work / path.name
        shutil.copyfile(path, copy)
        abstract.original_path = copy
        # PySD writes each section (main model and every macro) to a path fixed at
        # parse time beside the source file; keep them all in the cache instead,
        # so a read-only model folder works and the user's folder stays untouched.
        for section in abstract.sections:
            section.path = work / section.path.name
        from pysd.builders.python.python_model_builder import ModelBuilder

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built = Path(ModelBuilder(abstract).build_model())
        if built != work / py_path.name:
            os.replace(built, work / py_path.name)
        abstract.original_path = path
        for section in abstract.sections:
            section.path = target / section.path.name
        with contextlib.suppress(Exception), open(work / abstract_path.name, "wb") as fh:
            pickle.dump(abstract, fh)
        try:
            os.replace(work, target)
        except OSError:  # another process translated it first
            shutil.rmtree(work, ignore_errors=True)
    except ModelLoadError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        from pvsd.modelcheck import explain_translate_error

        explained = explain_translate_error(path, exc)
        if explained:
            raise ModelLoadError(explained) from None
        raise ModelLoadError(
            f"PySD could not translate {str(path)!r}: {type(exc).__name__}: {exc}. "
            "The model may use a Vensim/XMILE feature PySD does not support."
        ) from None
    return ModelSource(path, sha, py_path, abstract_path)
