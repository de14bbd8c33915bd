"""Engines for SQLite (WAL, the embedded default) and PostgreSQL, and schema creation."""

from __future__ import annotations

import importlib
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

# Every module that registers tables on the shared MetaData; imported before create/migrate.
TABLE_MODULES = (
    "polex.store.tables",
    "polex.search.tables",
    "polex.audit.tables",
    "polex.access.tables",
    "polex.match.tables",
    "polex.messaging.tables",
    "polex.federation.tables",
    "polex.graph.tables",
)


# How long a statement waits for a lock before it fails, in seconds.
SQLITE_BUSY_TIMEOUT = 30.0
# Pauses between tries of a BEGIN that found the write lock taken, in seconds.
LOCK_RETRY_FIRST = 50e-6
LOCK_RETRY_LONGEST = 1e-3
# SQLite connections a process keeps open: one per request thread of a server worker (AnyIO
# runs at most 40 at once). With SQLAlchemy's default of 5, eight concurrent requests closed
# and opened connections all the time, each open paying for its pragmas: a third of the CPU
# of a /healthz.
SQLITE_POOL_SIZE = 40


def load_tables() -> None:
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL lets readers run beside the single writer; BEGIN is ours (see make_engine)."""
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000:.0f}")
    cur.close()


def _busy(error: BaseException | None) -> bool:
    return isinstance(error, sqlite3.Error) and error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


def _begin_immediate(conn: Connection, deadline: float) -> None:
    """Nearly every transaction writes (at least its audit entry): take the write lock at
    BEGIN so a read-then-write transaction never fails on a lock upgrade.

    While another process holds the lock, SQLite's own busy handler sleeps 1, 2, 5, 10 ...
    up to 100 ms between tries, and a lock that changes hands every few hundred microseconds
    (searches, each writing its audit entry) is then nearly always taken by someone else
    first: requests waited hundreds of milliseconds behind a lock held for a fraction of one.
    So BEGIN tries again itself, after pauses from 50 us up to 1 ms, until ``deadline``. Sent
    on the driver's connection: every transaction pays for it, and a statement through
    SQLAlchemy costs several times what SQLite spends on it."""
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection that begins is checked out of the pool
    driver.execute("PRAGMA busy_timeout = 0")
    try:
        pause = LOCK_RETRY_FIRST
        while True:
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if not _busy(error) or time.monotonic() + pause > deadline:
                    # as SQLAlchemy raises what a statement sent through it met
                    raise OperationalError("BEGIN IMMEDIATE", None, error) from error
            time.sleep(pause * random.uniform(0.5, 1.5))  # apart, not in step with others
            pause = min(2 * pause, LOCK_RETRY_LONGEST)
    finally:
        driver.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT * 1000:.0f}")


class WriteLockBusy(Exception):
    """A transaction begun under ``reading_first`` could not take SQLite's write lock at once."""


# Set while transactions read before they take the write lock (see ``reading_first``).
_read_first: ContextVar[bool] = ContextVar("polex_sqlite_read_first", default=False)


@contextmanager
def reading_first() -> Iterator[None]:
    """Transactions begun in this context read before they take SQLite's write lock, and take
    it at their first write, without waiting: for a lookup that reads for a few hundred
    microseconds and then writes its audit row, the lock is held for that row and the commit
    alone, and the lookups of other workers read meanwhile. The write fails at once if another
    transaction holds the lock, or if one committed since this one began to read (its snapshot
    could not become a write); that is raised as WriteLockBusy after the transaction is rolled
    back, and the caller does its work again the usual way. Statements do not wait for a lock
    either (no busy timeout): the caller may be an event loop, which must never sleep. No
    effect on PostgreSQL."""
    token = _read_first.set(True)
    try:
        yield
    except (sqlite3.OperationalError, OperationalError) as exc:
        error = exc.orig if isinstance(exc, OperationalError) else exc
        if _busy(error):
            raise WriteLockBusy(str(error)) from exc
        raise
    finally:
        _read_first.reset(token)


class _WriteLock:
    """SQLite's write lock, taken by one transaction of this process at a time.

    A worker's request threads would otherwise all try BEGIN in turns, each try taking the
    GIL from the thread that holds the lock and wants it to finish: with eight requests at
    once, one worker served a quarter of what it serves when they queue. Here they wait on a
    lock of this process (asleep, not trying), and only the first in line tries the database's
    lock, which other processes may hold."""

    def __init__(self) -> None:
        self._local = threading.Lock()
        self._holder: Connection | None = None
        # transactions begun under ``reading_first``: they take the lock when they write
        self._reading: set[Connection] = set()

    def begin(self, conn: Connection) -> None:
        if _read_first.get():
            driver = conn.connection.driver_connection
            assert driver is not None  # a connection that begins is checked out of the pool
            driver.execute("PRAGMA busy_timeout = 0")
            driver.execute("BEGIN")
            self._reading.add(conn)
            return
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
        if not self._local.acquire(timeout=SQLITE_BUSY_TIMEOUT):
            error = sqlite3.OperationalError("database is locked")
            raise OperationalError("BEGIN IMMEDIATE", None, error) from error
        try:
            _begin_immediate(conn, deadline)
        except BaseException:
            self._local.release()
            raise
        self._holder = conn

    def commit(self, conn: Connection) -> None:
        """Sent here, not by SQLAlchemy after this event (it then finds no transaction, and
        its commit does nothing): the lock is released once the commit is done, so the next
        in line finds the database's lock free. A commit that fails keeps the lock until the
        rollback that follows."""
        if conn in self._reading:
            self._end_reading(conn, "COMMIT")
            return
        if self._holder is not conn:
            return
        driver = conn.connection.driver_connection
        assert driver is not None
        try:
            driver.execute("COMMIT")
        except sqlite3.Error as error:
            raise OperationalError("COMMIT", None, error) from error
        self._release()

    def rollback(self, conn: Connection) -> None:
        if conn in self._reading:
            self._end_reading(conn, "ROLLBACK")
            return
        if self._holder is not conn:
            return
        try:
            driver = None if conn.invalidated else conn.connection.driver_connection
            if driver is not None and driver.in_transaction:
                driver.execute("ROLLBACK")
        finally:
            self._release()

    def _end_reading(self, conn: Connection, statement: str) -> None:
        """COMMIT or ROLLBACK of a transaction begun under ``reading_first``, and the usual
        busy timeout again for the connection's next transaction. A commit that fails leaves
        the transaction to the rollback that follows."""
        self._reading.discard(conn)
        driver = None if conn.invalidated else conn.connection.driver_connection
        if driver is None:
            return
        try:
            if driver.in_transaction:
                driver.execute(statement)
        except sqlite3.Error as error:
            raise OperationalError(statement, None, error) from error
        finally:
            driver.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT * 1000:.0f}")

    def _release(self) -> None:
        self._holder = None
        self._local.release()


def make_engine(url: str | URL) -> Engine:
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT}, pool_size=SQLITE_POOL_SIZE
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        lock = _WriteLock()
        event.listen(engine, "begin", lock.begin)
        event.listen(engine, "commit", lock.commit)
        event.listen(engine, "rollback", lock.rollback)
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def create_schema(engine: Engine) -> None:
    """Bring the database to the current schema (Alembic migrations)."""
    from polex.store.migrate import upgrade

    upgrade(engine)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
