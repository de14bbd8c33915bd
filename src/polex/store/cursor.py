"""The database driver's own cursor, inside the connection's transaction: for the statements
whose cost through SQLAlchemy matters (bulk inserts, hot reads)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection


@contextmanager
def driver_cursor(conn: Connection) -> Iterator[Any]:
    """A cursor of ``conn``'s driver connection, closed afterwards. The transaction is begun
    first if it is not yet: the driver's cursor would not begin one (on SQLite, BEGIN is ours)."""
    if not conn.in_transaction():
        conn.begin()
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a connection in use is checked out of the pool
    cursor = dbapi.cursor()
    try:
        yield cursor
    finally:
        cursor.close()
