"""Output is never silently replaced, even by a concurrent writer, and multi-file output is all or nothing.

Regression tests for issue 12 items 10 and 11: existence used to be checked at the
start of a command and the file renamed over the target at the end, so two
concurrent ``pvsd run -o same.csv`` could both report success while one result
was lost.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from pvsd.errors import OutputExistsError, PvsdError
from pvsd.io import atomic_write, replace_dir, write_csv, write_texts


def test_file_created_while_writing_is_not_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(OutputExistsError, match="appeared while pvsd was writing"):
        with atomic_write(target, force=False) as fh:
            fh.write("ours\n")
            target.write_text("theirs\n")  # the other process finishes first
    assert target.read_text() == "theirs\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temporary left behind


def test_concurrent_writers_exactly_one_wins(tmp_path: Path) -> None:
    target = tmp_path / "same.csv"
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def writer(i: int) -> None:
        frame = pd.DataFrame({"writer": [i] * 1000})
        barrier.wait()
        try:
            write_csv(target, frame, {"writer": str(i)}, force=False)
            result = f"wrote {i}"
        except OutputExistsError:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [o for o in outcomes if o.startswith("wrote")]
    assert len(winners) == 1 and outcomes.count("refused") == n - 1
    winner = int(winners[0].split()[1])
    data = pd.read_csv(target, comment="#")
    assert (data["writer"] == winner).all() and len(data) == 1000  # the winner's whole file


def test_folder_claimed_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    staged = tmp_path / ".staged"
    staged.mkdir()
    (staged / "report.html").write_text("ours")
    final = tmp_path / "report"
    final.mkdir()
    (final / "report.html").write_text("theirs")
    # check_new at the start passes only when the folder is absent; emulate the race
    # by calling the final step directly after the other writer created it
    with pytest.raises(OutputExistsError):
        replace_dir(staged, final, force=False)
    assert (final / "report.html").read_text() == "theirs"


def test_empty_folder_is_not_silently_replaced(tmp_path: Path) -> None:
    staged = tmp_path / ".staged"
    staged.mkdir()
    (staged / "a.txt").write_text("x")
    final = tmp_path / "out"
    final.mkdir()  # rename(2) would replace an empty folder without a word
    with pytest.raises(OutputExistsError):
        replace_dir(staged, final, force=False)
    assert list(final.iterdir()) == []


def test_multi_file_output_is_all_or_nothing(tmp_path: Path) -> None:
    good = tmp_path / "card.html"
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder")  # unwritable for root too
    with pytest.raises((OSError, PvsdError)):
        write_texts({good: "<html>", blocker / "card.md": "# card"}, force=False)
    assert not good.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_multi_file_output_written_when_all_writable(tmp_path: Path) -> None:
    a, b = tmp_path / "a.html", tmp_path / "sub" / "b.md"
    write_texts({a: "A", b: "B"})
    assert a.read_text() == "A" and b.read_text() == "B"
    with pytest.raises(OutputExistsError):
        write_texts({tmp_path / "c.html": "C", a: "A2"})
    assert not (tmp_path / "c.html").exists() and a.read_text() == "A"


def test_file_systems_without_hard_links_still_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pvsd.io as pio

    def no_link(src, dst):
        raise PermissionError(1, "Operation not permitted")  # e.g. some network file systems

    monkeypatch.setattr(pio.os, "link", no_link)
    monkeypatch.setattr(pio, "_rename_noreplace", lambda src, dst: False)
    target = tmp_path / "out.csv"
    write_csv(target, pd.DataFrame({"a": [1]}), force=False)
    assert pd.read_csv(target)["a"].tolist() == [1]
    with pytest.raises(OutputExistsError):
        write_csv(target, pd.DataFrame({"a": [2]}), force=False)
    assert pd.read_csv(target)["a"].tolist() == [1]
