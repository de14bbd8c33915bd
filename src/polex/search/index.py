"""Index maintenance, in the writer's transaction: a record's keys change with the record."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete

from polex.model.record import Record
from polex.search.keys import entity_keys
from polex.search.tables import record_keys
from polex.store import bulk
from polex.store import records as store

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


def rebuild(conn: Connection, batch: int = 5000) -> int:
    """Every live record's keys computed again, a batch of records at a time, in the caller's
    transaction; returns how many records. For a change in how keys are made: the keys a
    record is found by must be the ones a query looks up today."""
    done = 0
    pending: list[tuple[str, str, dict[str, list[str]]]] = []

    def flush() -> None:
        remove(conn, [rid for rid, _, _ in pending])
        rows = {
            (rid, kind, key[:255])
            for rid, schema, properties in pending
            for kind, key in entity_keys(schema, properties)
        }
        bulk.insert_rows(conn, record_keys, KEY_COLUMNS, list(rows))
        pending.clear()

    for rid, _owner, schema, properties in store.scan_properties(conn, batch=batch):
        pending.append((rid, schema, properties))
        done += 1
        if len(pending) == batch:
            flush()
    if pending:
        flush()
    return done
