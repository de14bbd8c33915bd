"""Engines for SQLite (WAL, the embedded default) and PostgreSQL, and schema creation."""

from __future__ import annotations

import asyncio
import importlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from polex.store import journal

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
# of a /healthz. The pool hands out the connection used last (LIFO): each connection has its
# own page cache, and taking them in turn (SQLAlchemy's default) left every lookup on a cold
# one, 15-20 % more CPU per identifier lookup on a node of a million persons and documents.
SQLITE_POOL_SIZE = 40

T = TypeVar("T")


def load_tables() -> None:
    for name in TABLE_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


# A read of the main file, which begins a transaction's snapshot of it.
_TAKE_SNAPSHOT = "SELECT 1 FROM main.sqlite_master LIMIT 1"


def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
    """WAL lets readers run beside the single writer; BEGIN is ours (see make_engine). A file
    database's reading transactions append to its journal (an in-memory one has none: its
    reading transactions are writers)."""
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000:.0f}")
    record.info["polex_busy_wait"] = True
    main = next(row[2] for row in cur.execute("PRAGMA database_list") if row[1] == "main")
    record.info["polex_database"] = main or None
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
    _fail_when_busy(conn)
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
        _wait_when_busy(conn)


def _fail_when_busy(conn: Connection) -> None:
    """SQLite's busy handler off on this connection: a lock found held fails at once, and the
    caller tries again after pauses of its own. Left off after a reading transaction, for the
    next one: setting it costs a statement, and reading transactions are most of them."""
    info = conn.connection.info
    if info.get("polex_busy_wait", True):
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("PRAGMA busy_timeout = 0")
        info["polex_busy_wait"] = False


def _wait_when_busy(conn: Connection) -> None:
    """SQLite's busy handler back on, for every transaction but a reading one."""
    info = conn.connection.info
    if not info.get("polex_busy_wait", True):
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT * 1000:.0f}")
        info["polex_busy_wait"] = True


def _begin_reading(conn: Connection) -> None:
    """BEGIN, and the main file's snapshot taken at once, with SQLite's busy handler off
    (``_fail_when_busy``: on the event loop, a search must not sleep inside SQLite). The main
    file may then be found locked, where a reader in WAL mode rarely meets a lock (a crashed
    process's log being recovered, the last connection of a process closing). That is met
    here, and waited for in pauses as
    ``_begin_immediate`` does (on the event loop, WriteLockBusy), not by a search's first
    query half-way through its work."""
    driver = conn.connection.driver_connection
    assert driver is not None
    _fail_when_busy(conn)
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
    pause = LOCK_RETRY_FIRST
    while True:
        driver.execute("BEGIN")
        try:
            driver.execute(_TAKE_SNAPSHOT).fetchall()
            return
        except sqlite3.OperationalError as error:
            driver.execute("ROLLBACK")
            if not _busy(error):
                raise
            if _no_wait.get():
                raise WriteLockBusy("another connection holds the main file") from error
            if time.monotonic() + pause > deadline:
                raise OperationalError("BEGIN", None, error) from error
        time.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(2 * pause, LOCK_RETRY_LONGEST)


def append_at_commit(conn: Connection, data: bytes) -> None:
    """Append ``data`` (whole lines) to the database's journal (``polex.store.journal``) when
    the reading transaction of ``conn`` commits, and not at all if it rolls back."""
    conn.info.setdefault("polex_appends", []).append(data)


def journal_database(conn: Connection) -> str | None:
    """The SQLite database file whose journal the reading transactions of ``conn`` append to;
    None on PostgreSQL and in memory."""
    if conn.dialect.name != "sqlite":
        return None
    database = conn.connection.info.get("polex_database")
    return str(database) if database else None


def in_reading_transaction(conn: Connection) -> bool:
    """Whether ``conn`` is in a transaction begun under ``reading`` on a database file."""
    return bool(conn.info.get("polex_reading"))


# Set while transactions begin as reading ones (see ``reading``).
_reading: ContextVar[bool] = ContextVar("polex_sqlite_reading", default=False)


@contextmanager
def reading() -> Iterator[None]:
    """Transactions begun in this context read the database and write nothing to it: a
    search, whose one write, its audit entry, is appended to the journal at commit
    (``append_at_commit``). They take no write lock and wait for no writer, an import holding
    the write lock for minutes included. A transaction begun here must not write to the
    database: SQLite would commit that write apart from its audit entry. No effect on
    PostgreSQL, nor on an in-memory database, which has no journal."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


class WriteLockBusy(Exception):
    """A transaction begun under ``without_waiting`` found SQLite's write lock held."""


# Set while a transaction must not wait for the write lock (see ``without_waiting``).
_no_wait: ContextVar[bool] = ContextVar("polex_sqlite_no_wait", default=False)


@contextmanager
def without_waiting() -> Iterator[None]:
    """Transactions begun in this context raise WriteLockBusy at once where they would wait
    for SQLite's write lock: for work done on a server's event loop, which must never sleep,
    and which awaits a pause instead (``on_the_loop``). No effect on PostgreSQL."""
    token = _no_wait.set(True)
    try:
        yield
    finally:
        _no_wait.reset(token)


async def on_the_loop(work: Callable[[], T]) -> T:
    """``work``, short transactions of its own, run on the event loop and never waiting there
    for SQLite's write lock: held by another thread or process, the loop serves other requests
    and tries again after a pause (as ``_begin_immediate`` does), until the busy timeout.

    For work of a few hundred microseconds, such as an identifier lookup with its audit entry.
    Such work used to go to a worker thread once it found the lock held; with eight requests
    at once a worker's lookups then nearly all went there, each paying for a thread hop and for
    the GIL passed back and forth: a worker served 630 lookups a second instead of 1,040."""
    pause, deadline = LOCK_RETRY_FIRST, time.monotonic() + SQLITE_BUSY_TIMEOUT
    while True:
        try:
            with without_waiting():
                return work()
        except WriteLockBusy as busy:
            if time.monotonic() + pause > deadline:
                # as a BEGIN that waited in a thread fails
                error = sqlite3.OperationalError("database is locked")
                raise OperationalError("BEGIN IMMEDIATE", None, error) from busy
        await asyncio.sleep(pause * random.uniform(0.5, 1.5))
        pause = min(2 * pause, LOCK_RETRY_LONGEST)


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

    def begin(self, conn: Connection) -> None:
        if _reading.get() and conn.connection.info.get("polex_database"):
            _begin_reading(conn)
            conn.info["polex_reading"] = True
            return
        if _no_wait.get():
            self._begin_now(conn)
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

    def _begin_now(self, conn: Connection) -> None:
        """The lock if it is free in this process and in the database, else WriteLockBusy."""
        if not self._local.acquire(blocking=False):
            raise WriteLockBusy("another transaction of this process holds the write lock")
        try:
            _begin_immediate(conn, deadline=time.monotonic())
        except BaseException as exc:
            self._local.release()
            if isinstance(exc, OperationalError) and _busy(exc.orig):
                raise WriteLockBusy("another process holds the write lock") from exc
            raise
        self._holder = conn

    def commit(self, conn: Connection) -> None:
        """Sent here, not by SQLAlchemy after this event (it then finds no transaction, and
        its commit does nothing): the lock is released once the commit is done, so the next
        in line finds the database's lock free. A commit that fails keeps the lock until the
        rollback that follows. A reading transaction holds no lock: its lines go to the journal
        before it ends, so that a failed append fails the transaction."""
        if self._holder is not conn and not in_reading_transaction(conn):
            return
        driver = conn.connection.driver_connection
        assert driver is not None
        reading = in_reading_transaction(conn)
        if reading and (appends := conn.info.pop("polex_appends", None)):
            journal.append(conn.connection.info["polex_database"], b"".join(appends))
        try:
            driver.execute("COMMIT")
        except sqlite3.Error as error:
            raise OperationalError("COMMIT", None, error) from error
        if reading:
            conn.info.pop("polex_reading")
        else:
            self._release()

    def rollback(self, conn: Connection) -> None:
        reading = False
        if not conn.invalidated:
            conn.info.pop("polex_appends", None)
            reading = conn.info.pop("polex_reading", False)
        try:
            if self._holder is conn or reading:
                driver = None if conn.invalidated else conn.connection.driver_connection
                if driver is not None and driver.in_transaction:
                    driver.execute("ROLLBACK")
        finally:
            if self._holder is conn:
                self._release()

    def _release(self) -> None:
        self._holder = None
        self._local.release()


def make_engine(url: str | URL) -> Engine:
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT},
            pool_size=SQLITE_POOL_SIZE,
            pool_use_lifo=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        lock = _WriteLock()
        event.listen(engine, "begin", lock.begin)
        event.listen(engine, "commit", lock.commit)
        event.listen(engine, "rollback", lock.rollback)
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10, pool_use_lifo=True)


def create_schema(engine: Engine) -> None:
    """Bring the database to the current schema (Alembic migrations)."""
    from polex.store.migrate import upgrade

    upgrade(engine)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"
