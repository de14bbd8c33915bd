"""On SQLite, the entries of reading transactions (searches) wait in the reads file beside the
database, and chaining moves them into the one chain with the database's own entries: in the
order of time, each once, whatever a crash between the two files' commits leaves behind."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from polex.audit import log
from polex.audit.tables import audit_head, audit_log, audit_pending
from polex.audit.verify import verify
from polex.node.background import chain_audit
from polex.node.home import Node
from polex.store import db


@pytest.fixture
def sqlite_node(node: Node) -> Node:
    if node.engine.dialect.name != "sqlite":
        pytest.skip("the reads file is SQLite's")
    return node


def _append(node: Node, n: int, *, reading: bool) -> None:
    with db.reading() if reading else nullcontext(), node.engine.begin() as conn:
        log.append(
            conn,
            actor=f"user{n}@DE-BKA",
            action="search" if reading else "record.update",
            purpose="border check",
            details={"n": n},
        )


def _waiting(node: Node) -> tuple[int, int]:
    """Entries waiting in the database's queue and in the reads file's."""
    with node.engine.begin() as conn:
        main = conn.execute(select(func.count()).select_from(audit_pending)).scalar_one()
        reads = conn.execute(text("SELECT count(*) FROM reads.audit_pending")).scalar_one()
    return main, reads


def _chain(node: Node) -> int:
    """What a server worker does every half second: chain, then prune the reads file."""
    return chain_audit(node.engine)


def _chained(node: Node) -> list[int]:
    with node.engine.begin() as conn:
        rows = conn.execute(select(audit_log.c.details).order_by(audit_log.c.seq)).scalars()
        return [d["n"] for d in rows if "n" in d]


def _verified(node: Node) -> bool:
    with node.engine.begin() as conn:
        return verify(conn, node.name, node.keys.verify_key()).ok


def test_a_search_entry_waits_in_the_reads_file_and_is_chained(sqlite_node: Node) -> None:
    before = _waiting(sqlite_node)
    _append(sqlite_node, 1, reading=True)
    assert _waiting(sqlite_node) == (before[0], before[1] + 1)
    assert _chain(sqlite_node) >= 1
    assert _chained(sqlite_node) == [1]
    assert _verified(sqlite_node)
    path = Path(str(sqlite_node.engine.url.database))
    assert Path(db.reads_file(str(path))).exists()


def test_entries_of_both_files_are_chained_in_the_order_they_were_written(
    sqlite_node: Node,
) -> None:
    for n in range(12):
        _append(sqlite_node, n, reading=n % 3 != 0)
    _chain(sqlite_node)
    assert _chained(sqlite_node) == list(range(12))
    assert _verified(sqlite_node)


def test_chained_reads_entries_are_deleted_by_the_next_run_and_never_chained_twice(
    sqlite_node: Node,
) -> None:
    """Chaining never deletes from the reads file what it chains (the two files commit apart):
    pruning does, in a transaction of its own, once the head has recorded them as chained,
    all but the last, whose id a new entry must not take again. What a crash between the
    commits would leave, the reads file still holding chained entries, is what every chaining
    run leaves until the pruning."""
    for n in range(3):
        _append(sqlite_node, n, reading=True)
    with sqlite_node.engine.begin() as conn:
        assert log.chain(conn) >= 3
    assert _waiting(sqlite_node)[1] == 3, "deleted in the transaction that chained them"
    with sqlite_node.engine.begin() as conn:
        head = conn.execute(select(audit_head)).one()
        last = conn.execute(text("SELECT max(id) FROM reads.audit_pending")).scalar_one()
    assert head.reads_chained == last
    assert head.reads_file == _identity(sqlite_node)
    assert _chain(sqlite_node) == 0  # and pruned
    assert _waiting(sqlite_node)[1] == 1, "the last one chained stays, its id taken"
    assert _chained(sqlite_node) == [0, 1, 2]
    _append(sqlite_node, 3, reading=True)
    with sqlite_node.engine.begin() as conn:
        ids = conn.execute(text("SELECT id FROM reads.audit_pending ORDER BY id")).scalars()
        assert list(ids) == [last, last + 1]
    _chain(sqlite_node)
    assert _chained(sqlite_node) == [0, 1, 2, 3]
    assert _verified(sqlite_node)


def test_a_chaining_run_that_never_commits_leaves_its_entries_for_the_next(
    sqlite_node: Node,
) -> None:
    for n in range(3):
        _append(sqlite_node, n, reading=True)
    with sqlite_node.engine.connect() as conn, conn.begin() as transaction:
        assert log.chain(conn) >= 3
        transaction.rollback()
    assert _waiting(sqlite_node)[1] == 3
    _chain(sqlite_node)
    assert _chained(sqlite_node) == [0, 1, 2]
    assert _verified(sqlite_node)


def test_a_reading_transaction_that_rolls_back_leaves_no_entry(sqlite_node: Node) -> None:
    before = _waiting(sqlite_node)
    with pytest.raises(RuntimeError), db.reading(), sqlite_node.engine.begin() as conn:
        log.append(conn, actor="anna@DE-BKA", action="search", purpose="border check")
        raise RuntimeError("the search failed after its entry")
    assert _waiting(sqlite_node) == before


def test_a_new_reads_file_starts_with_nothing_chained(sqlite_node: Node) -> None:
    """Its ids start again from one: had the head's last id chained been taken for the new
    file's, its first entries would have been deleted unchained."""
    for n in range(5):
        _append(sqlite_node, n, reading=True)
    _chain(sqlite_node)
    _chain(sqlite_node)
    old = _identity(sqlite_node)
    sqlite_node.engine.dispose()
    reads = db.reads_file(str(sqlite_node.engine.url.database))
    for suffix in ("", "-wal", "-shm"):
        Path(reads + suffix).unlink(missing_ok=True)
    for n in range(5, 8):
        _append(sqlite_node, n, reading=True)
    assert _identity(sqlite_node) != old
    assert _chain(sqlite_node) == 3
    assert _chained(sqlite_node) == list(range(8))
    assert _verified(sqlite_node)


def test_reads_entries_keep_the_timestamps_an_insert_through_sqlalchemy_would_store(
    sqlite_node: Node,
) -> None:
    _append(sqlite_node, 1, reading=True)
    _append(sqlite_node, 2, reading=False)
    with sqlite_node.engine.begin() as conn:
        reads = conn.execute(text("SELECT ts FROM reads.audit_pending")).scalar_one()
        main = conn.execute(text("SELECT ts FROM audit_pending")).scalar_one()
    assert len(reads) == len(main) == len("2026-12-02 15:33:22.274901")
    assert reads <= main
    _chain(sqlite_node)
    with sqlite_node.engine.begin() as conn:
        stamps = conn.execute(select(audit_log.c.ts).order_by(audit_log.c.seq)).scalars().all()
    now = datetime.now(UTC)
    assert all(now - timedelta(minutes=5) < ts.replace(tzinfo=UTC) <= now for ts in stamps)


def _identity(node: Node) -> str | None:
    with node.engine.begin() as conn:
        return db.reads_identity(conn)


def test_searches_committing_while_a_worker_chains_are_each_chained_once(
    sqlite_node: Node,
) -> None:
    """Searches commit to the reads file all the time while a worker chains: a chaining run
    must neither fail on a reads file changed under it nor keep an entry from the chain."""
    import threading

    searches, errors = 300, []
    done = threading.Event()

    def search() -> None:
        try:
            for n in range(searches):
                _append(sqlite_node, n, reading=True)
        except Exception as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)
        finally:
            done.set()

    searching = threading.Thread(target=search)
    searching.start()
    runs = 0
    while not done.is_set() or _waiting(sqlite_node)[1] > 1:
        _chain(sqlite_node)
        runs += 1
    searching.join()
    assert not errors
    assert runs > 2
    assert _chained(sqlite_node) == list(range(searches))
    assert _verified(sqlite_node)
