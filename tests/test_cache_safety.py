"""The translation cache never mixes up models' data files, and heals damaged entries.

Regression tests for issue 12 items 1 and 13: the cache used to be keyed on the
model file's hash alone, so the same model text in two folders shared one
translation, linked to the data files of whichever folder was loaded first.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

import pvsd
from pvsd.loading import cache_dir, translate

MODEL = textwrap.dedent("""\
    {UTF-8}
    Policy Level = GET DIRECT CONSTANTS('policy.csv', ',', 'B2')
    \t~\tDmnl
    \t~\tRead from the folder's own policy file.
    \t|
    Stock = INTEG(Policy Level, 0)
    \t~\tDmnl
    \t~\t|
    INITIAL TIME = 0 ~ Year ~ |
    FINAL TIME = 2 ~ Year ~ |
    TIME STEP = 1 ~ Year ~ |
    SAVEPER = TIME STEP ~ Year ~ |
    """)


def _folder(root: Path, name: str, level: float) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "policy.mdl").write_text(MODEL)
    (folder / "policy.csv").write_text(f"name,value\nlevel,{level}\n")
    return folder / "policy.mdl"


def _final(path: Path) -> float:
    return float(pvsd.load(path).run(outputs=["Stock"]).to_dataframe()["Stock"].iloc[-1])


@pytest.fixture()
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PVSD_CACHE_DIR", str(cache))
    return cache


def test_same_model_in_two_folders_reads_each_folders_data(tmp_path: Path, own_cache: Path) -> None:
    a = _folder(tmp_path, "A", 4.5)
    b = _folder(tmp_path, "B", 9.0)
    # Stock integrates the constant for two years: 2 * level (what plain PySD gives in each folder)
    assert _final(a) == pytest.approx(9.0, rel=1e-12)
    assert _final(b) == pytest.approx(18.0, rel=1e-12)


def test_moving_the_first_folder_does_not_break_the_second(tmp_path: Path, own_cache: Path) -> None:
    a = _folder(tmp_path, "A", 4.5)
    b = _folder(tmp_path, "B", 9.0)
    _final(a)
    shutil.move(str(a.parent), str(tmp_path / "A-moved"))
    assert _final(b) == pytest.approx(18.0, rel=1e-12)


def test_changed_data_file_is_read_again(tmp_path: Path, own_cache: Path) -> None:
    a = _folder(tmp_path, "A", 4.5)
    assert _final(a) == pytest.approx(9.0, rel=1e-12)
    (a.parent / "policy.csv").write_text("name,value\nlevel,1.25\n")
    assert _final(a) == pytest.approx(2.5, rel=1e-12)


def test_damaged_cache_entry_is_rebuilt(tmp_path: Path, own_cache: Path) -> None:
    a = _folder(tmp_path, "A", 4.5)
    src = translate(a)
    src.py_path.write_text("def broken(:\n")  # a crash mid-write leaves such a file
    assert _final(a) == pytest.approx(9.0, rel=1e-12)


def test_cache_entry_pysd_cannot_load_is_rebuilt(tmp_path: Path, own_cache: Path) -> None:
    a = _folder(tmp_path, "A", 4.5)
    src = translate(a)
    src.py_path.write_text("x = 1\n")  # valid Python, but no PySD model
    assert _final(a) == pytest.approx(9.0, rel=1e-12)
    assert cache_dir() == own_cache
