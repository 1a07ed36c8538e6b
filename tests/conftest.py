"""Shared fixtures: locations of the shared conformance suite and a per-session cache."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TEST_MODELS = SHARED / "test-models"
INDICATORS = SHARED / "data" / "indicators"


def require(path: Path) -> Path:
    """Skip the test with a clear reason when shared material is absent."""
    if not path.exists():
        pytest.skip(f"{path} is absent: the SDXorg test-models / shared data are read from "
                    "../shared next to the repository and are not shipped with pvsd")
    return path


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Translate models into a temporary cache so tests never touch the user's."""
    import os

    os.environ.setdefault("PVSD_CACHE_DIR", str(tmp_path_factory.mktemp("pvsd-cache")))


@pytest.fixture(scope="session")
def teacup_path() -> Path:
    return require(TEST_MODELS / "samples" / "teacup" / "teacup.mdl")


@pytest.fixture(scope="session")
def teacup(teacup_path: Path):
    import pvsd

    return pvsd.load(teacup_path)


def conformance_files() -> list[Path]:
    """Every .mdl/.xmile/.stmx file of the SDXorg suite (tests/ and samples/); empty if absent."""
    files: list[Path] = []
    if not TEST_MODELS.exists():
        return files
    for group in ("tests", "samples"):
        for folder in sorted((TEST_MODELS / group).iterdir()):
            if folder.is_dir():
                files += sorted(p for p in folder.iterdir() if p.suffix in (".mdl", ".xmile", ".stmx"))
    return files


# -- shared by the conformance files (collected together, so each model is parsed once) ----

@functools.cache
def abstract_model(path: Path) -> Any:
    """PySD's abstract model of ``path`` (None when PySD cannot parse it), once per process.

    Several test files classify every SDXorg model at collection; they read this one copy
    and must not modify it.
    """
    from pvsd.loading import parse_model_file

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return parse_model_file(path)
    except Exception:
        return None


@functools.cache
def model_ir(path: Path) -> tuple[Any, list]:
    """(IR, unsupported constructs) of a parsable model file, once per process.

    Raises what ``build_ir`` raises (callers classify that as a PySD fallback).
    """
    from pvsd.engine.ir import build_ir
    from pvsd.engine.support import inspect_ir

    am = abstract_model(path)
    if am is None:
        raise ValueError(f"PySD cannot parse {path}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ir = build_ir(am, path)
    return ir, inspect_ir(ir)


_TRANSLATIONS = Path(tempfile.mkdtemp(prefix="pvsd-test-translations-"))
atexit.register(shutil.rmtree, _TRANSLATIONS, ignore_errors=True)


@functools.cache
def pysd_translation(path: Path) -> tuple[Path | None, str]:
    """Plain PySD's own translation of ``path`` in a private copy of its folder, once per process.

    Returns (path of the generated ``.py``, "") or (None, why PySD could not translate it).
    Only translated, not run: whether PySD runs it is the caller's first reference run.
    """
    import hashlib

    import pysd

    work = _TRANSLATIONS / hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    if not work.exists():
        # copyfile, not copy: the shared suite may be read-only, and PySD writes beside the model
        shutil.copytree(path.parent, work, copy_function=shutil.copyfile)
        work.chmod(0o755)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pysd.read_vensim if path.suffix == ".mdl" else pysd.read_xmile
            reader(str(work / path.name))
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return work / (path.stem + ".py"), ""
