"""Shared fixtures: locations of the shared conformance suite and a per-session cache."""

from __future__ import annotations

from pathlib import Path

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
    """Every .mdl/.xmile file of the SDXorg suite (tests/ and samples/); empty if absent."""
    files: list[Path] = []
    if not TEST_MODELS.exists():
        return files
    for group in ("tests", "samples"):
        for folder in sorted((TEST_MODELS / group).iterdir()):
            if folder.is_dir():
                files += sorted(p for p in folder.iterdir() if p.suffix in (".mdl", ".xmile"))
    return files
