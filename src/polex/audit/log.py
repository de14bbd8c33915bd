"""Appending to the audit chain, inside the caller's transaction.

Each entry's hash covers its content and the previous entry's hash, so any changed, removed
or reordered entry breaks the chain from that point on (``verify`` finds it). The entry is
written in the transaction of the action it describes: both happen, or neither.

Every search and read writes an entry, so appending is kept to three prepared statements:
advance the head (which locks it on PostgreSQL and serialises appenders across workers),
insert the entry, store the new head hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from polex.audit.tables import audit_head, audit_log
from polex.store.metadata import utcnow

GENESIS = "0" * 64


def _utc_naive(ts: datetime) -> datetime:
    """The timestamp as hashed: UTC without zone (PostgreSQL returns it in the session's zone,
    SQLite without any)."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def entry_hash(
    seq: int,
    ts: datetime,
    actor: str,
    agency: str | None,
    action: str,
    target: str | None,
    purpose: str | None,
    case_ref: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    body = json.dumps(
        [
            seq,
            _utc_naive(ts).isoformat(timespec="microseconds"),
            actor,
            agency,
            action,
            target,
            purpose,
            case_ref,
            details,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def normalise(details: dict[str, Any] | None) -> dict[str, Any]:
    """Details as the database will hand them back (JSON types only), so the hash computed
    now is the hash recomputed by ``verify``."""
    if not details:
        return {}
    result: dict[str, Any] = json.loads(json.dumps(details, default=str))
    return result


# Built once: building and caching statements would cost more than running them.
_ADVANCE = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=audit_head.c.seq + bindparam("count"))
    .returning(audit_head.c.seq, audit_head.c.hash)
)
_START = {
    "postgresql": pg_insert(audit_head)
    .values(id=1, seq=0, hash=GENESIS)
    .on_conflict_do_nothing(index_elements=["id"]),
    "sqlite": sqlite_insert(audit_head)
    .values(id=1, seq=0, hash=GENESIS)
    .on_conflict_do_nothing(index_elements=["id"]),
}
_INSERT_ENTRIES = insert(audit_log)
_STORE_HEAD = update(audit_head).where(audit_head.c.id == 1).values(hash=bindparam("new_hash"))


def _reserve(conn: Connection, count: int) -> tuple[int, str]:
    """Take ``count`` sequence numbers: the last one taken and the hash before the first."""
    row = conn.execute(_ADVANCE, {"count": count}).first()
    if row is None:  # the very first entry of the node (several workers may race to it)
        conn.execute(_START[conn.dialect.name])
        row = conn.execute(_ADVANCE, {"count": count}).first()
        assert row is not None
    return row.seq, row.hash


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    agency: str | None = None,
    target: str | None = None,
    purpose: str | None = None,
    case_ref: str | None = None,
    details: dict[str, Any] | None = None,
) -> int:
    """Write one entry in the caller's transaction; returns its sequence number."""
    return append_many(
        conn,
        [
            {
                "actor": actor,
                "action": action,
                "agency": agency,
                "target": target,
                "purpose": purpose,
                "case_ref": case_ref,
                "details": details,
            }
        ],
    )[0]


def append_many(conn: Connection, entries: Sequence[dict[str, Any]]) -> list[int]:
    """Write several entries (each with ``append``'s keyword arguments) in the caller's
    transaction, taking the chain head once and inserting in one round trip: a bulk action
    (a batch of messages) pays for its audit once, not per entry. Returns the sequence numbers."""
    if not entries:
        return []
    last, prev = _reserve(conn, len(entries))
    seq = last - len(entries)
    rows = []
    for e in entries:
        seq += 1
        ts = utcnow()
        details = normalise(e.get("details"))
        actor, action = e["actor"], e["action"]
        agency, target, purpose, case_ref = (
            e.get(name) for name in ("agency", "target", "purpose", "case_ref")
        )
        digest = entry_hash(
            seq, ts, actor, agency, action, target, purpose, case_ref, details, prev
        )
        rows.append(
            {
                "seq": seq,
                "ts": ts,
                "actor": actor,
                "agency": agency,
                "action": action,
                "target": target,
                "purpose": purpose,
                "case_ref": case_ref,
                "details": details,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    conn.execute(_INSERT_ENTRIES, rows[0] if len(rows) == 1 else rows)
    conn.execute(_STORE_HEAD, {"new_hash": prev})
    return list(range(last - len(entries) + 1, last + 1))
