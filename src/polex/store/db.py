"""Engines for SQLite (WAL, the embedded default) and PostgreSQL, and schema creation."""

from __future__ import annotations

import importlib
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

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
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _begin_immediate(conn: Connection) -> None:
    """Nearly every transaction writes (at least its audit entry): take the write lock at
    BEGIN so a read-then-write transaction never fails on a lock upgrade. Sent on the driver's
    connection: every transaction pays for it, and a statement through SQLAlchemy costs several
    times what SQLite spends on it."""
    driver = conn.connection.driver_connection
    assert driver is not None  # a connection that begins is checked out of the pool
    driver.execute("BEGIN IMMEDIATE")


def make_engine(url: str | URL) -> Engine:
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
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
