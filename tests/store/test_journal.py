"""The journal beside a SQLite database: one segment per process, whole lines only, and a
segment is deleted only once nobody writes to it and all of it was read."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polex.store import journal


@pytest.fixture
def database(tmp_path: Path) -> str:
    return str(tmp_path / "polex.db")


def _write_in_child(database: str, data: bytes) -> None:
    code = f"from polex.store import journal; journal.append({database!r}, {data!r})"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_process_appends_to_one_segment_it_holds_open(database: str) -> None:
    journal.append(database, b"one\n")
    journal.append(database, b"two\n")
    [name] = journal.segments(database)
    assert str(os.getpid()) in name
    assert journal.read(database, name, 0, 100) == b"one\ntwo\n"
    assert journal.sizes(database) == {name: 8}
    assert not journal.closed(database, name)
    assert not journal.remove(database, name, 8)
    assert journal.segments(database) == [name]


def test_a_segment_is_closed_when_its_process_is_gone_and_removed_at_its_size_only(
    database: str,
) -> None:
    _write_in_child(database, b"line\n")
    [name] = journal.segments(database)
    assert journal.closed(database, name)
    assert not journal.remove(database, name, 4)
    assert journal.segments(database) == [name]
    assert journal.remove(database, name, 5)
    assert journal.segments(database) == []
    assert journal.remove(database, name, 5)


def test_segments_are_in_the_order_their_processes_opened_them(database: str) -> None:
    for n in range(3):
        _write_in_child(database, f"{n}\n".encode())
    names = journal.segments(database)
    assert [journal.read(database, n, 0, 10) for n in names] == [b"0\n", b"1\n", b"2\n"]


def test_a_full_segment_is_closed_and_the_next_write_opens_another(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "SEGMENT_BYTES", 10)
    journal.append(database, b"0123456789\n")
    journal.append(database, b"next\n")
    first, second = journal.segments(database)
    assert journal.closed(database, first)
    assert not journal.closed(database, second)
    assert journal.read(database, second, 0, 100) == b"next\n"


def test_a_short_write_is_cut_off_and_fails(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    journal.append(database, b"whole\n")
    real_write = os.write

    def short(fd: int, data: bytes) -> int:
        return real_write(fd, data[:3])

    monkeypatch.setattr(os, "write", short)
    with pytest.raises(OSError, match="short write"):
        journal.append(database, b"cut short\n")
    monkeypatch.setattr(os, "write", real_write)
    journal.append(database, b"after\n")
    [name] = journal.segments(database)
    assert journal.read(database, name, 0, 100) == b"whole\nafter\n"


def test_a_failed_write_leaves_the_segment_as_it_was(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal.append(database, b"whole\n")

    def failing(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", failing)
    with pytest.raises(OSError, match="No space"):
        journal.append(database, b"lost\n")
    monkeypatch.undo()
    journal.append(database, b"after\n")
    [name] = journal.segments(database)
    assert journal.read(database, name, 0, 100) == b"whole\nafter\n"


def test_a_forked_child_writes_to_a_segment_of_its_own(database: str) -> None:
    journal.append(database, b"parent\n")
    pid = os.fork()
    if pid == 0:
        try:
            journal.append(database, b"child\n")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    contents = {journal.read(database, n, 0, 100) for n in journal.segments(database)}
    assert contents == {b"parent\n", b"child\n"}


def test_hidden_segments_of_processes_that_died_creating_them_are_removed_when_old(
    database: str,
) -> None:
    journal.append(database, b"visible\n")
    where = journal.directory(database)
    old, young = where / ".0-1-dead.log", where / ".1-1-dead.log"
    old.write_bytes(b"")
    young.write_bytes(b"")
    past = time.time() - journal.HIDDEN_AGE - 1
    os.utime(old, (past, past))
    journal.remove_abandoned(database)
    assert not old.exists()
    assert young.exists()
    assert len(journal.segments(database)) == 1


def test_reading_a_database_without_a_journal_finds_nothing(database: str) -> None:
    assert journal.segments(database) == []
    assert journal.sizes(database) == {}
    assert journal.read(database, "gone.log", 0, 10) == b""
    assert journal.closed(database, "gone.log")
    journal.remove_abandoned(database)
