"""Many rows into one table at the cost of the database's own loader, not of one statement each.

A bulk import writes millions of rows (records, versions, index keys, queue entries); built as
SQLAlchemy statements each row costs more Python than the database spends storing it. So rows
come as plain tuples in a fixed column order: PostgreSQL loads them with COPY, SQLite with one
prepared INSERT run over all of them. Values are converted by the columns' own SQLAlchemy types
(timestamps, dates, JSON), so what is stored is exactly what an ORM-style insert would store.
Both run on the caller's connection, inside its transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Table

Processor = Callable[[Any], Any]


class BulkInsert:
    """An insert of ``columns`` of ``table``, prepared once for one connection's dialect."""

    def __init__(self, conn: Connection, table: Table, columns: Sequence[str]) -> None:
        dialect = conn.dialect
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        target = quote(table.name)
        self.copy = dialect.name == "postgresql"
        self.processors: list[tuple[int, Processor]] = []
        if self.copy:
            self.sql = f"COPY {target} ({names}) FROM STDIN"
            # psycopg adapts dates, timestamps and booleans itself; JSON goes as its text
            self.processors = [
                (i, json.dumps)
                for i, name in enumerate(columns)
                if isinstance(table.c[name].type.dialect_impl(dialect), JSON)
            ]
        else:
            marks = ", ".join("?" for _ in columns)
            self.sql = f"INSERT INTO {target} ({names}) VALUES ({marks})"
            for i, name in enumerate(columns):
                impl = table.c[name].type.dialect_impl(dialect)
                processor = impl.bind_processor(dialect)
                if processor is not None:
                    self.processors.append((i, processor))

    def _converted(self, rows: Iterable[Sequence[Any]]) -> Iterable[Sequence[Any]]:
        if not self.processors:
            return rows
        processors = self.processors

        def convert(row: Sequence[Any]) -> list[Any]:
            values = list(row)
            for i, processor in processors:
                if values[i] is not None:
                    values[i] = processor(values[i])
            return values

        return map(convert, rows)

    def __call__(self, conn: Connection, rows: Iterable[Sequence[Any]]) -> None:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None  # a connection in use is checked out of the pool
        cursor = dbapi.cursor()
        try:
            if self.copy:
                with cursor.copy(self.sql) as copy:
                    for row in self._converted(rows):
                        copy.write_row(row)
            else:
                cursor.executemany(self.sql, list(self._converted(rows)))
        finally:
            cursor.close()


_CACHE: dict[tuple[str, str, tuple[str, ...]], BulkInsert] = {}


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table`` in one pass."""
    key = (conn.dialect.name, table.name, tuple(columns))
    insert = _CACHE.get(key)
    if insert is None:
        insert = _CACHE[key] = BulkInsert(conn, table, columns)
    insert(conn, rows)
