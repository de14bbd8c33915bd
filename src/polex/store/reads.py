"""Hot reads run on the database driver's cursor, at a fraction of SQLAlchemy's cost per statement.

Every search makes three reads: the token's principal, the identifier keys and the records
found. Through ``Connection.execute`` each cost about 34 µs of Python, where SQLite spent 6 µs
on it (2026-12-01, the token's query on a 2-core machine). A ``Read`` compiles its statement
once per dialect, as SQLAlchemy would, and runs it on the caller's connection inside its
transaction. Parameters go through the binds' types, and values through the result columns'
types (JSON, timestamps, booleans), so the rows hold what ``conn.execute`` would give, as named
tuples. A driver error is raised as SQLAlchemy raises it (``sqlalchemy.exc.DBAPIError``).
Only for statements run so often that this matters; the rest use SQLAlchemy as usual."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import Select

from polex.store.cursor import driver_cursor

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # the parameters' names in their order for a positional driver (SQLite), else None
    positions: tuple[str, ...] | None
    binds: dict[str, Processor]
    results: tuple[tuple[int, Processor], ...]
    row: Any  # the named tuple of the result columns; None for text, named by the cursor


class Read:
    """One statement, compiled once per dialect, run on the driver's cursor."""

    def __init__(self, statement: Select[Any] | TextClause) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._described: dict[tuple[str, ...], Any] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        sql = str(compiled)
        if "POSTCOMPILE" in sql:
            raise ValueError("an expanding IN list renders per execution: use store.listed")
        binds: dict[str, Processor] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds[name] = processor
        results = []
        names = []
        for i, column in enumerate(compiled._result_columns):
            names.append(column.keyname)
            processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if processor is not None:
                results.append((i, processor))
        positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        row = _row_type(tuple(names)) if names else None
        return _Compiled(sql, positions, binds, tuple(results), row)

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[Any]:
        """Every row of the statement with ``params``, in the caller's transaction."""
        dialect = conn.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            compiled = self._compiled[dialect.name] = self._compile(dialect)
        values = {
            name: compiled.binds[name](value) if name in compiled.binds else value
            for name, value in params.items()
        }
        bound: Sequence[Any] | Mapping[str, Any] = (
            values if compiled.positions is None else [values[n] for n in compiled.positions]
        )
        with driver_cursor(conn) as cursor:
            try:
                cursor.execute(compiled.sql, bound)
                fetched = cursor.fetchall()
            except dialect.loaded_dbapi.Error as error:
                raise DBAPIError.instance(
                    compiled.sql, bound, error, dialect.loaded_dbapi.Error
                ) from error
            # read only for text, whose columns only the cursor knows: psycopg builds the
            # description anew on every read (a third of reading a record's 22 columns)
            row = compiled.row or self._named(cursor.description)
        make = row._make
        if not compiled.results:
            return [make(r) for r in fetched]
        out = []
        for r in fetched:
            converted = list(r)
            for i, processor in compiled.results:
                converted[i] = processor(converted[i])
            out.append(make(converted))
        return out

    def _named(self, description: Any) -> Any:
        names = tuple(d[0] for d in description or ())
        row = self._described.get(names)
        if row is None:
            row = self._described[names] = _row_type(names)
        return row


def _row_type(names: tuple[str, ...]) -> Any:
    return namedtuple("Row", names, rename=True)
