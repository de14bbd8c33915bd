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

from polex.store import db, journal


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "lock.db"


@pytest.fixture
def engine(path: Path) -> Engine:
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


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
    return _sent(engine, "BEGIN IMMEDIATE")


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


def _lines(path: Path) -> list[bytes]:
    """The lines of the database's journal, all segments."""
    where = journal.directory(str(path))
    return [
        line
        for name in journal.segments(str(path))
        for line in (where / name).read_bytes().splitlines()
    ]


def test_a_reading_transaction_appends_at_commit_while_a_writer_holds_the_lock(
    engine: Engine, other_process: Engine
) -> None:
    holder = _holding(other_process, 0.5)
    start = time.monotonic()
    with db.reading(), engine.begin() as conn:
        conn.execute(text("SELECT count(*) FROM t")).scalar_one()
        db.append_at_commit(conn, b"one\n")
        assert _lines(engine_path(engine)) == [], "appended before the commit"
    took = time.monotonic() - start
    holder.join()
    assert took < 0.3
    assert _lines(engine_path(engine)) == [b"one"]


def engine_path(engine: Engine) -> Path:
    return Path(str(engine.url.database))


def test_a_reading_transaction_that_rolls_back_appends_nothing(engine: Engine) -> None:
    with pytest.raises(RuntimeError), db.reading(), engine.begin() as conn:
        db.append_at_commit(conn, b"one\n")
        raise RuntimeError("the search failed after its entry")
    with db.reading(), engine.begin() as conn:
        db.append_at_commit(conn, b"two\n")
    assert _lines(engine_path(engine)) == [b"two"]


def test_a_reading_transaction_whose_append_fails_fails(engine: Engine, path: Path) -> None:
    """Its caller gets the error, not an answer without its entry; the next one appends."""
    blocked = journal.directory(str(path))
    blocked.write_text("a file where the journal's directory should be")
    with pytest.raises(OSError), db.reading(), engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        db.append_at_commit(conn, b"lost\n")
    blocked.unlink()
    with db.reading(), engine.begin() as conn:
        db.append_at_commit(conn, b"kept\n")
    assert _lines(path) == [b"kept"]
    with engine.begin() as conn:  # the failed transaction left the connection usable
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert _numbers(engine) == [1]


def test_reading_transactions_leave_the_busy_handler_off_for_the_next(engine: Engine) -> None:
    pragmas = _sent(engine, "PRAGMA busy_timeout")
    for n in range(3):
        with db.reading(), engine.begin() as conn:
            db.append_at_commit(conn, b"%d\n" % n)
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
    engine: Engine, other_process: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start of a reading transaction, on a connection whose busy handler is off, meets a
    held lock: here the write lock, which the snapshot's statement takes in this test alone (a
    reader in WAL mode meets a lock only while a log is recovered)."""
    with db.reading(), engine.begin():  # the busy handler off
        pass
    monkeypatch.setattr(db, "_TAKE_SNAPSHOT", "DELETE FROM main.t WHERE 0")
    holder = _holding(other_process, 0.3)
    with pytest.raises(db.WriteLockBusy), db.without_waiting(), db.reading(), engine.begin():
        pass
    start = time.monotonic()
    with db.reading(), engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    waited = time.monotonic() - start
    holder.join()
    assert 0.1 < waited < 0.5
