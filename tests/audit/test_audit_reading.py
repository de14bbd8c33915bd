"""On SQLite, the entries of reading transactions (searches) wait as lines of the journal beside
the database, one segment per process, and chaining moves them into the one chain with the
database's own entries: in the order of time, each once, whatever a crash either side of the
chaining commit or of a process leaves behind."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from polex.audit import log, reading
from polex.audit.tables import audit_journal, audit_log, audit_pending
from polex.audit.verify import verify
from polex.node.background import chain_audit
from polex.node.home import Node
from polex.store import journal


@pytest.fixture
def sqlite_node(node: Node) -> Node:
    if node.engine.dialect.name != "sqlite":
        pytest.skip("the journal is SQLite's")
    return node


def _database(node: Node) -> str:
    return str(node.engine.url.database)


def _append(node: Node, n: int, *, reading: bool) -> None:
    from polex.store import db

    with db.reading() if reading else nullcontext(), node.engine.begin() as conn:
        log.append(
            conn,
            actor=f"user{n}@DE-BKA",
            action="search" if reading else "record.update",
            purpose="border check",
            details={"n": n},
        )


def _journal_lines(node: Node) -> list[bytes]:
    where = journal.directory(_database(node))
    names = journal.segments(_database(node))
    return [line for name in names for line in (where / name).read_bytes().splitlines()]


def _pending(node: Node) -> int:
    with node.engine.begin() as conn:
        return conn.execute(select(func.count()).select_from(audit_pending)).scalar_one()


def _chained_bytes(node: Node) -> dict[str, int]:
    with node.engine.begin() as conn:
        rows = conn.execute(select(audit_journal.c.segment, audit_journal.c.chained))
        return {r.segment: r.chained for r in rows}


def _chain(node: Node) -> int:
    return chain_audit(node.engine)


def _chained(node: Node) -> list[int]:
    with node.engine.begin() as conn:
        rows = conn.execute(select(audit_log.c.details).order_by(audit_log.c.seq)).scalars()
        return [d["n"] for d in rows if "n" in d]


def _actions(node: Node) -> list[str]:
    with node.engine.begin() as conn:
        return list(conn.execute(select(audit_log.c.action).order_by(audit_log.c.seq)).scalars())


def _verified(node: Node) -> bool:
    with node.engine.begin() as conn:
        return verify(conn, node.name, node.keys.verify_key()).ok


def test_a_search_entry_is_a_line_of_the_journal_until_it_is_chained(sqlite_node: Node) -> None:
    before, pending = len(_journal_lines(sqlite_node)), _pending(sqlite_node)
    _append(sqlite_node, 1, reading=True)
    assert len(_journal_lines(sqlite_node)) == before + 1
    assert _pending(sqlite_node) == pending, "written to the database"
    assert _chain(sqlite_node) >= 1
    assert _chained(sqlite_node) == [1]
    assert _verified(sqlite_node)
    (segment,) = journal.segments(_database(sqlite_node))
    size = (journal.directory(_database(sqlite_node)) / segment).stat().st_size
    assert _chained_bytes(sqlite_node) == {segment: size}
    assert _chain(sqlite_node) == 0, "chained twice"


def test_entries_of_the_database_and_the_journal_are_chained_in_the_order_they_were_written(
    sqlite_node: Node,
) -> None:
    for n in range(12):
        _append(sqlite_node, n, reading=n % 3 != 0)
    _chain(sqlite_node)
    assert _chained(sqlite_node) == list(range(12))
    assert _verified(sqlite_node)


def test_a_chaining_run_that_never_commits_leaves_its_entries_for_the_next(
    sqlite_node: Node,
) -> None:
    for n in range(3):
        _append(sqlite_node, n, reading=True)
    with sqlite_node.engine.connect() as conn, conn.begin() as transaction:
        assert log.chain(conn) >= 3
        transaction.rollback()
    assert _chained(sqlite_node) == []
    _chain(sqlite_node)
    assert _chained(sqlite_node) == [0, 1, 2]
    assert _verified(sqlite_node)


def test_a_reading_transaction_that_rolls_back_leaves_no_entry(sqlite_node: Node) -> None:
    from polex.store import db

    before = _journal_lines(sqlite_node)
    with pytest.raises(RuntimeError), db.reading(), sqlite_node.engine.begin() as conn:
        log.append(conn, actor="anna@DE-BKA", action="search", purpose="border check")
        raise RuntimeError("the search failed after its entry")
    assert _journal_lines(sqlite_node) == before


def test_journal_entries_keep_the_timestamps_an_insert_through_sqlalchemy_would_store(
    sqlite_node: Node,
) -> None:
    _append(sqlite_node, 1, reading=True)
    _append(sqlite_node, 2, reading=False)
    (line,) = _journal_lines(sqlite_node)
    with sqlite_node.engine.begin() as conn:
        main = conn.execute(text("SELECT ts FROM audit_pending")).scalar_one()
    stamp = line.split(b"\t")[0][2:28].decode()
    assert len(stamp) == len(main) == len("2026-12-02 15:33:22.274901")
    assert stamp <= main
    _chain(sqlite_node)
    with sqlite_node.engine.begin() as conn:
        stamps = conn.execute(select(audit_log.c.ts).order_by(audit_log.c.seq)).scalars().all()
    now = datetime.now(UTC)
    assert all(now - timedelta(minutes=5) < ts.replace(tzinfo=UTC) <= now for ts in stamps)


_SEARCHES_THEN_KILLED = """
import os, signal, sys
from polex.audit import log
from polex.node.home import open_node
from polex.store import db
node = open_node(sys.argv[1])
for n in range(int(sys.argv[2]), int(sys.argv[3])):
    with db.reading(), node.engine.begin() as conn:
        log.append(conn, actor="killed@DE-BKA", action="search", purpose="p", details={"n": n})
os.kill(os.getpid(), signal.SIGKILL)
"""


def _searches_in_a_process_killed_after(node: Node, first: int, last: int) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SEARCHES_THEN_KILLED, str(node.home), str(first), str(last)],
        env={**os.environ, "POLEX_HOME": str(node.home)},
        timeout=60,
    )
    assert done.returncode == -9


def test_the_entries_of_a_killed_process_are_chained_and_its_segment_then_deleted(
    sqlite_node: Node,
) -> None:
    _append(sqlite_node, 0, reading=True)  # this process's segment, open
    _searches_in_a_process_killed_after(sqlite_node, 1, 6)
    assert len(journal.segments(_database(sqlite_node))) == 2
    _chain(sqlite_node)
    assert sorted(_chained(sqlite_node)) == list(range(6))
    assert len(_chained_bytes(sqlite_node)) == 2
    _chain(sqlite_node)  # the next run deletes what the last chained whole, if closed
    (left,) = journal.segments(_database(sqlite_node))
    assert set(_chained_bytes(sqlite_node)) == {left}, "the killed process's row stays"
    _append(sqlite_node, 6, reading=True)
    _chain(sqlite_node)
    assert sorted(_chained(sqlite_node)) == list(range(7))
    assert _verified(sqlite_node)


def test_a_closed_segment_is_kept_until_every_line_of_it_is_chained(sqlite_node: Node) -> None:
    _searches_in_a_process_killed_after(sqlite_node, 0, 5)
    with sqlite_node.engine.begin() as conn:
        assert log.chain(conn, batch=2) == 5  # in batches, all in one run
    _searches_in_a_process_killed_after(sqlite_node, 5, 9)
    _chain(sqlite_node)  # deletes the first, chains the second
    assert len(journal.segments(_database(sqlite_node))) == 1
    _chain(sqlite_node)
    assert journal.segments(_database(sqlite_node)) == []
    assert _chained_bytes(sqlite_node) == {}
    assert _chained(sqlite_node) == list(range(9))
    assert _verified(sqlite_node)


def _damage(node: Node, line_number: int) -> tuple[str, int, int]:
    """Change one byte of one line of the (only) segment; its name, the line's offset and
    length."""
    (segment,) = journal.segments(_database(node))
    path = journal.directory(_database(node)) / segment
    data = bytearray(path.read_bytes())
    lines = bytes(data).splitlines(keepends=True)
    offset = sum(len(line) for line in lines[:line_number])
    data[offset + 40] ^= 0x01
    path.write_bytes(bytes(data))
    return segment, offset, len(lines[line_number])


def test_a_damaged_line_of_a_closed_segment_is_chained_as_an_entry_saying_so(
    sqlite_node: Node,
) -> None:
    _searches_in_a_process_killed_after(sqlite_node, 0, 4)
    segment, offset, length = _damage(sqlite_node, 1)
    _chain(sqlite_node)
    assert _chained(sqlite_node) == [0, 2, 3]
    assert _actions(sqlite_node)[-4:] == ["search", reading.DAMAGED, "search", "search"]
    with sqlite_node.engine.begin() as conn:
        row = conn.execute(select(audit_log).where(audit_log.c.action == reading.DAMAGED)).one()
    assert row.target == segment
    assert row.details["offset"] == offset and row.details["bytes"] == length
    assert _verified(sqlite_node)


def test_a_damaged_line_of_a_segment_still_written_stops_its_chaining_there(
    sqlite_node: Node,
) -> None:
    """Its writer may still be writing it (or a hand changing it): the lines before are
    chained, the rest wait, and nothing is recorded as damaged while the segment is open."""
    for n in range(3):
        _append(sqlite_node, n, reading=True)
    _damage(sqlite_node, 1)
    _chain(sqlite_node)
    assert _chained(sqlite_node) == [0]
    assert reading.DAMAGED not in _actions(sqlite_node)


def test_a_line_cut_short_at_the_end_of_a_closed_segment_is_recorded(sqlite_node: Node) -> None:
    _searches_in_a_process_killed_after(sqlite_node, 0, 2)
    (segment,) = journal.segments(_database(sqlite_node))
    path = journal.directory(_database(sqlite_node)) / segment
    with path.open("ab") as file:
        file.write(b'["2026-12-03 ')  # what a power loss mid-write could leave
    _chain(sqlite_node)
    assert _chained(sqlite_node) == [0, 1]
    assert _actions(sqlite_node)[-1] == reading.DAMAGED
    _chain(sqlite_node)
    assert journal.segments(_database(sqlite_node)) == [], "chained whole, so deleted"
    assert _verified(sqlite_node)


def test_searches_appending_while_a_worker_chains_are_each_chained_once(
    sqlite_node: Node,
) -> None:
    searches, errors = 2000, []
    done = threading.Event()

    def search() -> None:
        try:
            for n in range(searches):
                _append(sqlite_node, n, reading=True)
                if n % 50 == 0:
                    time.sleep(0.001)  # as requests come: the chainer gets the GIL too
        except Exception as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)
        finally:
            done.set()

    searching = threading.Thread(target=search)
    searching.start()
    while not _journal_lines(sqlite_node):
        pass
    amid = 0  # runs that chained part of the searches while they went on
    while not done.is_set() or len(_chained(sqlite_node)) < searches:
        if _chain(sqlite_node) and not done.is_set():
            amid += 1
    searching.join()
    assert not errors
    assert amid >= 1
    assert _chained(sqlite_node) == list(range(searches))
    assert _verified(sqlite_node)


def test_the_migration_moves_the_entries_waiting_in_a_reads_file(tmp_path: Path) -> None:
    """Revision 0012: a node upgraded from the reads file (revision 0011) keeps the entries
    its searches wrote there and chaining had not taken yet, and chains them once."""
    import sqlite3

    from polex.store import db
    from polex.store.migrate import upgrade

    database = tmp_path / "polex.db"
    engine = db.make_engine(f"sqlite:///{database}")
    upgrade(engine, "0011")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_head (id, seq, hash, reads_file, reads_chained)"
                " VALUES (1, 0, :genesis, 'abc', 2)"
            ),
            {"genesis": log.GENESIS},
        )
    reads = sqlite3.connect(f"{database}-reads")
    reads.execute("CREATE TABLE identity (id TEXT NOT NULL)")
    reads.execute("INSERT INTO identity VALUES ('abc')")
    reads.execute(
        "CREATE TABLE audit_pending (id INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT"
        " NULL, agency TEXT, action TEXT NOT NULL, target TEXT, purpose TEXT, case_ref TEXT,"
        " details TEXT NOT NULL)"
    )
    for n in range(1, 5):  # 1 and 2 chained already
        reads.execute(
            "INSERT INTO audit_pending VALUES (?, ?, 'anna@DE-BKA', NULL, 'search', NULL, 'p',"
            " NULL, ?)",
            (n, f"2026-12-02 10:00:0{n}.000000", log.canonical({"n": n})),
        )
    reads.commit()
    reads.close()
    upgrade(engine)
    with engine.begin() as conn:
        assert log.chain(conn) == 2
        details = conn.execute(select(audit_log.c.details).order_by(audit_log.c.seq)).scalars()
        assert [d["n"] for d in details] == [3, 4]
    engine.dispose()
