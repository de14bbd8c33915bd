"""A list of values as one statement parameter: ``column`` is one of them.

An expanding ``IN`` list binds one parameter per value, and SQLAlchemy renders the statement
again for every execution (it cost more than reading a record by its key). One parameter
instead, an array on PostgreSQL and a JSON array read by ``json_each`` on SQLite, lets a
statement be built once and run as is; both databases search the column's index per value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, bindparam, func, select
from sqlalchemy.dialects import postgresql

from polex.store.bulk import json_text


def one_of(column: ColumnElement[Any], name: str, dialect: str) -> ColumnElement[bool]:
    """``column`` is one of the values of the parameter ``name`` (given by ``value``)."""
    if dialect == "postgresql":
        return column == func.any(bindparam(name, type_=postgresql.ARRAY(column.type)))
    listed = func.json_each(bindparam(name, type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))


def value(dialect: str, values: Sequence[Any]) -> Any:
    """The parameter's value for ``values``."""
    return list(values) if dialect == "postgresql" else json_text(list(values))
