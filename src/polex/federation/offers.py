"""Which records each partner is still to be offered for cross-node matching.

Every write path queues its records here in its own transaction, one row per partner that
takes part in cross-node matching; the relay offers them once the write has committed and
takes them off the queue with the hits it brought back. A cursor over write times would pass
the records of a long transaction (a bulk import) before they commit and never offer them; a
queue row is seen exactly when its record is."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select

from polex.federation.links import all_links
from polex.federation.tables import federation_offer_queue
from polex.store import bulk
from polex.store.metadata import utcnow

_CHUNK = 10_000  # ids per statement: under SQLite's limit on parameters
_COLUMNS = ("node", "record_id", "queued_at")


def matching_partners(conn: Connection) -> list[str]:
    """Partners with which both sides grant cross-node matching."""
    return [
        link.node for link in all_links(conn) if link.ours.crossmatch and link.theirs.crossmatch
    ]


def enqueue(conn: Connection, record_ids: Sequence[str]) -> None:
    """Queue written records for every matching partner (again, if they were queued)."""
    partners = matching_partners(conn) if record_ids else []
    if not partners:
        return
    q = federation_offer_queue.c
    now = utcnow()
    for start in range(0, len(record_ids), _CHUNK):
        chunk = record_ids[start : start + _CHUNK]
        # by the primary key (node, record id): by record id alone it scanned the queue
        conn.execute(
            delete(federation_offer_queue).where(q.node.in_(partners), q.record_id.in_(chunk))
        )
        rows = [(node, rid, now) for rid in dict.fromkeys(chunk) for node in partners]
        bulk.insert_rows(conn, federation_offer_queue, _COLUMNS, rows)


def pending(conn: Connection, node: str, limit: int) -> list[str]:
    """The partner's oldest queued records."""
    q = federation_offer_queue.c
    rows = conn.execute(
        select(q.record_id).where(q.node == node).order_by(q.queued_at, q.record_id).limit(limit)
    )
    return [rid for (rid,) in rows]


def offered(conn: Connection, node: str, record_ids: Sequence[str]) -> None:
    q = federation_offer_queue.c
    if record_ids:
        conn.execute(
            delete(federation_offer_queue).where(q.node == node, q.record_id.in_(record_ids))
        )
