"""Real-time cross-matching: a written record is matched against every other owner's records
with the search engine's keys and scorer (one engine), and hits go to both owners.

Bulk imports queue their records instead (one insert per row, in the import's transaction); the
queue is drained by `polex crossmatch run` and by each server worker, claimed row by row so
several workers never match the same record twice."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, delete, select

from polex.match.hits import record_hit
from polex.match.tables import match_queue
from polex.model.record import Record
from polex.search.engine import rank
from polex.store import bulk
from polex.store import records as store
from polex.store.metadata import utcnow

# Candidates scoring at or above this become hits for review.
REVIEW_THRESHOLD = 0.8
CANDIDATES = 20


def crossmatch(conn: Connection, record: Record, node: str) -> list[int]:
    """Hits for one record against other owners' records; returns the new hits' ids."""
    if record.deleted:
        return []
    created = []
    for other, score, features in rank(
        conn, record.schema, record.properties, limit=CANDIDATES, exclude=[record.id]
    ):
        if other.owner == record.owner or score < REVIEW_THRESHOLD:
            continue
        hit = record_hit(conn, record, other, score, features, "realtime", node)
        if hit.created:
            created.append(hit.id)
    return created


def enqueue(conn: Connection, record_ids: Sequence[str]) -> None:
    if not record_ids:
        return
    conn.execute(delete(match_queue).where(match_queue.c.record_id.in_(record_ids)))
    now = utcnow()
    bulk.insert_rows(
        conn, match_queue, ("record_id", "queued_at"), [(rid, now) for rid in record_ids]
    )


def drain(engine: Engine, node: str, batch: int = 200, stop: threading.Event | None = None) -> int:
    """Match queued records until the queue is empty, or until ``stop`` is set (checked between
    batches: a server shutting down must not wait for a million imported records); returns
    how many were matched."""
    done = 0
    while stop is None or not stop.is_set():
        with engine.begin() as conn:
            query = select(match_queue.c.record_id).order_by(match_queue.c.queued_at).limit(batch)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = [rid for (rid,) in conn.execute(query)]
            if not ids:
                return done
            for record in store.get_many(conn, ids).values():
                crossmatch(conn, record, node)
            conn.execute(delete(match_queue).where(match_queue.c.record_id.in_(ids)))
            done += len(ids)
    return done
