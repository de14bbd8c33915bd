"""Index maintenance, in the writer's transaction: a record's keys change with the record."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter

from sqlalchemy import Connection, bindparam, delete

from polex.model.record import Record
from polex.search.keys import entity_keys
from polex.search.tables import record_keys
from polex.store import bulk
from polex.store import records as store

KEY_COLUMNS = ("record_id", "kind", "key")
# A row's place in the primary key (kind, key, record id): rows written in that order write
# each page of the table once.
key_order = itemgetter(1, 2, 0)
_DELETE_KEY = delete(record_keys).where(
    record_keys.c.kind == bindparam("kind"),
    record_keys.c.key == bindparam("k"),
    record_keys.c.record_id == bindparam("rid"),
)


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


def _delete(conn: Connection, rows: Iterable[tuple[str, str, str]]) -> None:
    """Delete key rows by the primary key, the table's only index: a record's keys are found
    by computing them from the record, as they were computed when it was indexed."""
    params = [{"rid": rid, "kind": kind, "k": key} for rid, kind, key in rows]
    if params:
        conn.execute(_DELETE_KEY, params)


def replace(conn: Connection, changes: Sequence[tuple[Record, Record]]) -> None:
    """Each changed record indexed as its new version, given as (current, new): the keys only
    the current version has are deleted, the keys only the new one has are added."""
    old = set(key_rows([current for current, _ in changes]))
    new = set(key_rows([changed for _, changed in changes]))
    _delete(conn, old - new)
    gained = sorted(new - old, key=key_order)
    if gained:
        bulk.insert_rows(conn, record_keys, KEY_COLUMNS, gained)


def remove(conn: Connection, records: Sequence[Record]) -> None:
    """Records leaving the index (deleted, purged), given as they were indexed."""
    _delete(conn, key_rows(records))


def rebuild(conn: Connection, batch: int = 5000) -> int:
    """Every live record's keys computed again, a batch of records at a time, in the caller's
    transaction, after every key is deleted; returns how many records. For a change in how
    keys are made: the keys a record is found by must be the ones a query looks up today, and
    ``replace`` and ``remove`` find a record's keys by computing them today."""
    conn.execute(delete(record_keys))
    done = 0
    pending: list[tuple[str, str, dict[str, list[str]]]] = []

    def flush() -> None:
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
