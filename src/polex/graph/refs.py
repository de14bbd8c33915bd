"""Reference maintenance, in the writer's transaction, like the search keys."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from followthemoney.types import registry
from sqlalchemy import Connection, delete

from polex.graph.tables import record_refs
from polex.model.ftm import model
from polex.model.record import Record
from polex.store import bulk


@lru_cache(maxsize=256)
def entity_properties(schema: str) -> frozenset[str]:
    """The properties of a schema whose values are other entities' ids."""
    found = model.get(schema)
    if found is None:
        return frozenset()
    return frozenset(n for n, p in found.properties.items() if p.type == registry.entity)


REF_COLUMNS = ("record_id", "property", "ref", "owner")


def ref_rows(records: Sequence[Record]) -> list[tuple[str, str, str, str]]:
    """The ``record_refs`` rows of records, in ``REF_COLUMNS`` order, each reference once."""
    rows: dict[tuple[str, str, str], tuple[str, str, str, str]] = {}
    for record in records:
        if record.deleted:
            continue
        for prop in entity_properties(record.schema) & record.properties.keys():
            for ref in record.properties[prop]:
                if ref and ref != record.source_id:
                    key = (record.id, prop, ref[:255])
                    rows[key] = (*key, record.owner)
    return list(rows.values())


def add(conn: Connection, records: Sequence[Record]) -> None:
    """References of records that have none yet (new records, bulk import)."""
    rows = ref_rows(records)
    if rows:
        bulk.insert_rows(conn, record_refs, REF_COLUMNS, rows)


def remove(conn: Connection, record_ids: Sequence[str]) -> None:
    if record_ids:
        conn.execute(delete(record_refs).where(record_refs.c.record_id.in_(record_ids)))


def rewrite(conn: Connection, records: Sequence[Record]) -> None:
    remove(conn, [r.id for r in records])
    add(conn, records)
