"""Index maintenance, in the writer's transaction: a record's keys change with the record."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete

from polex.model.record import Record
from polex.search.keys import entity_keys
from polex.search.tables import record_keys
from polex.store import bulk

KEY_COLUMNS = ("record_id", "kind", "key")


def key_rows(records: Sequence[Record]) -> list[tuple[str, str, str]]:
    """The ``record_keys`` rows of records, in ``KEY_COLUMNS`` order, each once (the primary
    key): two keys alike in their first 255 characters are one row."""
    rows = {
        (r.id, kind, key[:255])
        for r in records
        if not r.deleted
        for kind, key in entity_keys(r.schema, r.properties)
    }
    return list(rows)


def add(conn: Connection, records: Sequence[Record]) -> None:
    """Index records that have no keys yet (new records, bulk import)."""
    rows = key_rows(records)
    if rows:
        bulk.insert_rows(conn, record_keys, KEY_COLUMNS, rows)


def remove(conn: Connection, record_ids: Sequence[str]) -> None:
    if record_ids:
        conn.execute(delete(record_keys).where(record_keys.c.record_id.in_(record_ids)))


def reindex(conn: Connection, records: Sequence[Record]) -> None:
    remove(conn, [r.id for r in records])
    add(conn, records)
