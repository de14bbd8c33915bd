"""SQLite's write lock. Transactions of one engine (one process) queue for it on a lock of the
process, asleep; a transaction that finds it held by another engine (another process) tries
again in pauses of its own, not SQLite's busy handler, and gets it once it is released. Either
way a BEGIN gives up with SQLite's own error, wrapped as SQLAlchemy wraps it, once the busy
timeout has passed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, exc, text

from polex.store import db


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "lock.db"


@pytest.fixture(params=["migrated", "new"])
def engine(path: Path, request: pytest.FixtureRequest) -> Engine:
    """A database with the chain head, whose write lock writers take alone (a change to
    nothing in the head), and one without (before the first migration: BEGIN IMMEDIATE)."""
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        if request.param == "migrated":
            conn.execute(text("CREATE TABLE audit_head (id INTEGER PRIMARY KEY)"))
    engine.dispose()  # its connections see the head when they connect
    return engine


def _lock_statement(engine: Engine) -> str:
    with engine.connect() as conn:
        migrated = conn.connection.info["polex_main_lock"]
    return db.TAKE_MAIN_LOCK if migrated else "BEGIN IMMEDIATE"


@pytest.fixture
def other_process(path: Path, engine: Engine) -> Engine:
    """A second engine on the same file: what another worker process would hold."""
    return db.make_engine(f"sqlite:///{path}")


def _hold_lock(engine: Engine, seconds: float, taken: threading.Event) -> None:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        taken.set()
        time.sleep(seconds)


def _holding(engine: Engine, seconds: float) -> threading.Thread:
    taken = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(engine, seconds, taken))
    holder.start()
    assert taken.wait(5)
    return holder


def _begins(engine: Engine) -> list[str]:
    """Every statement taking the lock the engine's connections send from now on, tried or
    done."""
    return _sent(engine, _lock_statement(engine))


def _sent(engine: Engine, statement: str) -> list[str]:
    """Every ``statement`` the engine's connections send from now on, tried or done (traced
    with its parameters' values in place of its ``?``)."""
    sent: list[str] = []
    start = statement.split("?")[0]

    def trace(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(
            lambda sql: sent.append(sql) if sql.startswith(start) else None
        )

    event.listen(engine, "connect", trace)
    engine.dispose()  # the pooled connections reconnect, traced
    return sent


def _numbers(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT n FROM t ORDER BY n")).scalars())


@pytest.mark.parametrize("holder_engine", ["same", "other"])
def test_a_begin_gets_the_lock_soon_after_another_transaction_commits(
    engine: Engine, other_process: Engine, holder_engine: str
) -> None:
    holder = _holding(engine if holder_engine == "same" else other_process, 0.3)
    start = time.monotonic()
    with engine.begin() as conn:
        waited = time.monotonic() - start
        conn.execute(text("INSERT INTO t VALUES (2)"))
    holder.join()
    assert _numbers(engine) == [1, 2]
    assert 0.2 < waited < 0.6  # it waited for the holder, and not much longer


def test_threads_of_one_process_wait_asleep_instead_of_trying_the_lock(engine: Engine) -> None:
    sent = _begins(engine)
    holder = _holding(engine, 0.3)
    waiters = [
        threading.Thread(target=_hold_lock, args=(engine, 0, threading.Event())) for _ in range(2)
    ]
    for waiter in waiters:
        waiter.start()
    for thread in (holder, *waiters):
        thread.join()
    # one BEGIN each: the holder's and the two waiters', none tried while the lock was held
    assert len(sent) == 3
    assert _numbers(engine) == [1, 1, 1]


def test_a_lock_held_by_another_process_is_tried_again_until_it_is_free(
    engine: Engine, other_process: Engine
) -> None:
    sent = _begins(engine)
    holder = _holding(other_process, 0.3)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    holder.join()
    assert _numbers(engine) == [1, 2]
    # pauses of 50 us doubling to 1 ms: a few hundred tries in 0.3 s, not SQLite's few dozen
    assert len(sent) > 100


@pytest.mark.parametrize("holder_engine", ["same", "other"])
def test_a_begin_gives_up_once_the_busy_timeout_has_passed(
    engine: Engine, other_process: Engine, holder_engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT", 0.2)
    holder = _holding(engine if holder_engine == "same" else other_process, 1.0)
    start = time.monotonic()
    with pytest.raises(exc.OperationalError) as raised, engine.begin():
        pass
    waited = time.monotonic() - start
    holder.join()
    assert isinstance(raised.value.orig, sqlite3.OperationalError)
    assert "locked" in str(raised.value.orig)
    assert 0.15 < waited < 0.6
    with engine.connect() as conn:  # the connection's own busy timeout is back
        timeout = conn.execute(text("PRAGMA busy_timeout")).scalar_one()
    assert timeout == 200
    with engine.begin() as conn:  # and the lock of the process is free again
        conn.execute(text("INSERT INTO t VALUES (3)"))
    assert _numbers(engine) == [1, 3]


@pytest.mark.parametrize("holder_engine", ["same", "other"])
def test_without_waiting_a_held_lock_is_refused_at_once(
    engine: Engine, other_process: Engine, holder_engine: str
) -> None:
    holder = _holding(engine if holder_engine == "same" else other_process, 0.5)
    start = time.monotonic()
    with pytest.raises(db.WriteLockBusy), db.without_waiting(), engine.begin():
        pass
    refused = time.monotonic() - start
    holder.join()
    assert refused < 0.1  # no pause, no retry
    with engine.begin() as conn:  # neither lock is left taken by the refused begin
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert _numbers(engine) == [1, 2]


def test_without_waiting_a_free_lock_is_taken_and_the_context_ends_with_the_block(
    engine: Engine, other_process: Engine
) -> None:
    with db.without_waiting(), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    holder = _holding(other_process, 0.3)
    with engine.begin() as conn:  # waits again, as a begin outside the context does
        conn.execute(text("INSERT INTO t VALUES (2)"))
    holder.join()
    assert _numbers(engine) == [1, 1, 2]


def _insert(engine: Engine, n: int) -> int:
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
    return n


@pytest.mark.parametrize("holder_engine", ["same", "other"])
def test_on_the_loop_a_held_lock_is_awaited_while_the_loop_runs_on(
    engine: Engine, other_process: Engine, holder_engine: str
) -> None:
    holder = _holding(engine if holder_engine == "same" else other_process, 0.3)
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    async def main() -> int:
        clock = asyncio.create_task(ticking())
        try:
            return await db.on_the_loop(lambda: _insert(engine, 2))
        finally:
            clock.cancel()

    start = time.monotonic()
    assert asyncio.run(main()) == 2
    waited = time.monotonic() - start
    holder.join()
    assert waited > 0.2
    assert ticks > 10  # the loop ran other tasks the whole time
    assert _numbers(engine) == [1, 2]


def test_on_the_loop_gives_up_once_the_busy_timeout_has_passed(
    engine: Engine, other_process: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT", 0.2)
    holder = _holding(other_process, 1.0)
    start = time.monotonic()
    with pytest.raises(exc.OperationalError) as raised:
        asyncio.run(db.on_the_loop(lambda: _insert(engine, 2)))
    waited = time.monotonic() - start
    holder.join()
    assert "locked" in str(raised.value.orig)
    assert 0.15 < waited < 0.6
    assert _numbers(engine) == [1]


def _hold_reads(path: Path, seconds: float) -> threading.Thread:
    """The reads file's write lock held by another connection for ``seconds``."""
    taken = threading.Event()

    def hold() -> None:
        other = sqlite3.connect(db.reads_file(str(path)), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        other.execute("ROLLBACK")
        other.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(5)
    return holder


_IDENTIFY = f"INSERT INTO {db.READS_SCHEMA}.identity (id) VALUES (?)"


def _identities(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM reads.identity")).scalar_one())


def test_a_reading_transaction_writes_its_file_while_a_writer_holds_the_lock(
    engine: Engine, other_process: Engine
) -> None:
    if _lock_statement(engine) == "BEGIN IMMEDIATE":
        pytest.skip("before the first migration, writers take the reads file's lock too")
    holder = _holding(other_process, 0.5)
    start = time.monotonic()
    with db.reading(), engine.begin() as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar_one()
        db.write_reads(conn, _IDENTIFY, [("x",)])
    took = time.monotonic() - start
    holder.join()
    assert took < 0.3
    assert _identities(engine) == 2


def test_a_reading_transaction_waits_for_the_reads_file_in_short_pauses(
    engine: Engine, path: Path
) -> None:
    holder = _hold_reads(path, 0.3)
    start = time.monotonic()
    with db.reading(), engine.begin() as conn:
        db.write_reads(conn, _IDENTIFY, [("x",)])
    waited = time.monotonic() - start
    holder.join()
    assert 0.2 < waited < 0.5
    assert _identities(engine) == 2
    with engine.connect() as conn:  # a transaction other than a reading one waits in SQLite
        timeout = conn.execute(text("PRAGMA busy_timeout")).scalar_one()
    assert timeout == db.SQLITE_BUSY_TIMEOUT * 1000


def test_reading_transactions_leave_the_busy_handler_off_for_the_next(engine: Engine) -> None:
    pragmas = _sent(engine, "PRAGMA busy_timeout")
    for n in range(3):
        with db.reading(), engine.begin() as conn:
            db.write_reads(conn, _IDENTIFY, [(f"r{n}",)])
    assert pragmas == ["PRAGMA busy_timeout = 0"]  # once, not twice a search
    with engine.begin() as conn:
        timeout = conn.execute(text("PRAGMA busy_timeout")).scalar_one()
    assert timeout == db.SQLITE_BUSY_TIMEOUT * 1000
    # the writer turned it off to take its lock, and on again
    assert pragmas[1:] == [
        f"PRAGMA busy_timeout = {db.SQLITE_BUSY_TIMEOUT * 1000:.0f}",
        "PRAGMA busy_timeout",
    ]


def test_a_reading_transaction_that_meets_a_lock_at_its_start_waits_in_pauses(
    engine: Engine, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start of a reading transaction, on a connection whose busy handler is off, meets a
    held lock: here the reads file's, taken by the snapshot's statement in this test alone (a
    reader of the main file in WAL mode meets one only while a log is recovered)."""
    with db.reading(), engine.begin() as conn:  # the busy handler off
        db.write_reads(conn, _IDENTIFY, [("x",)])
    monkeypatch.setattr(db, "_TAKE_SNAPSHOT", f"DELETE FROM {db.READS_SCHEMA}.identity WHERE 0")
    holder = _hold_reads(path, 0.3)
    with pytest.raises(db.WriteLockBusy), db.without_waiting(), db.reading(), engine.begin():
        pass
    start = time.monotonic()
    with db.reading(), engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    waited = time.monotonic() - start
    holder.join()
    assert 0.2 < waited < 0.5


def test_without_waiting_a_held_reads_file_is_refused_at_once(engine: Engine, path: Path) -> None:
    holder = _hold_reads(path, 0.5)
    start = time.monotonic()
    with (
        pytest.raises(db.WriteLockBusy),
        db.without_waiting(),
        db.reading(),
        engine.begin() as conn,
    ):
        db.write_reads(conn, _IDENTIFY, [("x",)])
    refused = time.monotonic() - start
    holder.join()
    assert refused < 0.1
    assert _identities(engine) == 1  # the refused transaction was rolled back


def test_reading_transactions_of_one_process_queue_for_the_reads_file(engine: Engine) -> None:
    """Asleep on a lock of the process, not trying the file's lock in pauses: each thread's
    tries took the GIL from the thread holding it."""
    sent = _sent(engine, _IDENTIFY)
    taken = threading.Event()

    def hold() -> None:
        with db.reading(), engine.begin() as conn:
            db.write_reads(conn, _IDENTIFY, [("a",)])
            taken.set()
            time.sleep(0.3)

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(5)
    start = time.monotonic()
    with db.reading(), engine.begin() as conn:
        db.write_reads(conn, _IDENTIFY, [("b",)])
    waited = time.monotonic() - start
    holder.join()
    assert waited > 0.2
    assert len(sent) == 2  # one try each
    assert _identities(engine) == 3


def test_a_reading_transaction_that_fails_frees_the_reads_file_for_the_next(
    engine: Engine,
) -> None:
    with pytest.raises(RuntimeError), db.reading(), engine.begin() as conn:
        db.write_reads(conn, _IDENTIFY, [("a",)])
        raise RuntimeError("the search failed after its entry")
    finished = threading.Event()

    def write() -> None:
        with db.reading(), engine.begin() as conn:
            db.write_reads(conn, _IDENTIFY, [("b",)])
        finished.set()

    other = threading.Thread(target=write)
    other.start()
    assert finished.wait(2), "the failed transaction kept the process's lock"
    other.join()
    assert _identities(engine) == 2
