"""Many rows into one table at the cost of the database's own loader, not of one statement each.

A bulk import writes millions of rows (records, versions, index keys, queue entries); built as
SQLAlchemy statements each row costs more Python than the database spends storing it. So rows
come as plain tuples in a fixed column order: PostgreSQL loads them with COPY, SQLite with one
prepared INSERT run over all of them. Values are converted by the columns' own SQLAlchemy types
(timestamps, dates), so what is stored is exactly what an ORM-style insert would store; JSON is
written by orjson, six times faster than the json module, and reads back as the same value
(only whitespace and escaping of the text differ).
Converting needs only the dialect, not a connection, so it can happen in another process than
the writing one (the importer's workers convert, the importer writes). Writing runs on the
caller's connection, inside its transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Connection, Date, DateTime, Dialect, Table
from sqlalchemy.engine import URL

from polex.store.cursor import driver_cursor

Processor = Callable[[Any], Any]
Row = Sequence[Any]
# Up to this many rows go to PostgreSQL as an INSERT: a COPY costs a round trip more (the server
# answers its start before the rows go), and every search writes one audit row.
FEW_ROWS = 4


def json_text(value: Any) -> str:
    """A JSON column's text. orjson refuses some values the json module writes (lone surrogates,
    which a source file may hold, and integers beyond 64 bits): those go through the json module.
    (Records hold no floats, where the two would differ on NaN.)"""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value)


class BulkInsert:
    """An insert of ``columns`` of ``table``, prepared once for one dialect."""

    def __init__(
        self,
        dialect: Dialect,
        table: Table,
        columns: Sequence[str],
    ) -> None:
        quote = dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        target = quote(table.name)
        self.copy = dialect.name == "postgresql"
        self.processors: list[tuple[int, Processor]] = []
        marks = ", ".join("%s" if self.copy else "?" for _ in columns)
        self.insert_sql = f"INSERT INTO {target} ({names}) VALUES ({marks})"
        self.copy_sql = f"COPY {target} ({names}) FROM STDIN"
        for i, name in enumerate(columns):
            impl = table.c[name].type.dialect_impl(dialect)
            if isinstance(impl, JSON):
                self.processors.append((i, json_text))
            elif not self.copy:  # psycopg adapts dates, timestamps and booleans itself
                processor = impl.bind_processor(dialect)
                if processor is not None:
                    self.processors.append((i, processor))
        # the previous value and its conversion, for columns of immutable values
        self._last: dict[int, tuple[Any, Any]] = {
            i: (None, None)
            for i, _ in self.processors
            if isinstance(table.c[columns[i]].type, (Boolean, Date, DateTime))
        }

    def convert(self, row: Row) -> Row:
        """The row as the database driver takes it. A timestamp or date that is the very
        object of the previous row's (a batch's one time) is converted once."""
        if not self.processors:
            return row
        values = list(row)
        last = self._last
        for i, processor in self.processors:
            value = values[i]
            if value is None:
                continue
            if i in last:
                seen, converted = last[i]
                if value is not seen:
                    converted = processor(value)
                    last[i] = (value, converted)
                values[i] = converted
            else:
                values[i] = processor(value)
        return values

    def convert_all(self, rows: Iterable[Row]) -> list[Row]:
        """Many rows converted, without a call per row when no column needs converting (an
        index's keys, several per record of a bulk import, are text only)."""
        if not self.processors:
            return list(rows)
        return [self.convert(row) for row in rows]

    def write(self, conn: Connection, rows: Sequence[Row]) -> None:
        """Insert rows that ``convert`` made."""
        if not rows:
            return
        with driver_cursor(conn) as cursor:
            if self.copy and len(rows) > FEW_ROWS:
                with cursor.copy(self.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            elif len(rows) == 1:  # psycopg's executemany enters pipeline mode: dearer for one
                cursor.execute(self.insert_sql, rows[0])
            else:
                cursor.executemany(self.insert_sql, rows)


@cache
def dialect_for(drivername: str) -> Dialect:
    """A dialect of this driver, for converting rows away from any connection."""
    return URL.create(drivername).get_dialect()()


@cache
def _inserts(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    drivername: str,
) -> BulkInsert:
    return BulkInsert(dialect_for(drivername), table, columns)


def inserter(drivername: str, table: Table, columns: Sequence[str]) -> BulkInsert:
    """The insert of ``columns`` of ``table`` for the driver of an engine's URL."""
    return _inserts(dialect_for(drivername).name, table, tuple(columns), drivername)


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Row]
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``table`` in one pass."""
    insert = inserter(conn.engine.url.drivername, table, columns)
    insert.write(conn, insert.convert_all(rows))
