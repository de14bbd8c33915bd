"""Appending to the audit trail inside the caller's transaction, and chaining what was appended.

An entry is written in the transaction of the action it describes, so both happen or neither,
as one insert into ``audit_pending``: every search and read writes one, and taking the chain
head there would serialise every action of every worker on one row until its commit.
``chain`` then moves committed entries, oldest first, into the hash chain in batches: each
entry's hash covers its content and the previous entry's hash, so any changed, removed or
reordered entry breaks the chain from that point on (``verify`` finds it). Every server worker
chains in the background (``polex.node.background``) and every reader of the trail (entries,
reports, verify, checkpoints) chains first, so it reads everything committed before it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from polex.audit.tables import audit_head, audit_log, audit_pending
from polex.store import bulk, listed
from polex.store.metadata import utcnow

GENESIS = "0" * 64


def _utc_naive(ts: datetime) -> datetime:
    """The timestamp as hashed: UTC without zone (PostgreSQL returns it in the session's zone,
    SQLite without any)."""
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts


def canonical(value: Any) -> str:
    """JSON as hashed: sorted keys, no spaces, non-ASCII as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


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
    """SHA-256 of the canonical JSON array of the entry's fields and the previous hash."""
    return _hash(
        seq, ts, actor, agency, action, target, purpose, case_ref, canonical(details), prev_hash
    )


def _hash(
    seq: int,
    ts: datetime,
    actor: str,
    agency: str | None,
    action: str,
    target: str | None,
    purpose: str | None,
    case_ref: str | None,
    details_json: str,
    prev_hash: str,
) -> str:
    """``entry_hash`` with the details already canonical JSON, as the action stored them:
    chaining hashes that text without parsing and re-encoding it (the array's elements are
    encoded one by one, so the text is the same as the whole array's encoding)."""
    iso = _utc_naive(ts).isoformat(timespec="microseconds")
    fields = canonical([seq, iso, actor, agency, action, target, purpose, case_ref])
    body = f"{fields[:-1]},{details_json},{canonical(prev_hash)}]"
    return hashlib.sha256(body.encode()).hexdigest()


# Built once: building and caching statements would cost more than running them.
_LOCK_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
_START = {
    "postgresql": pg_insert(audit_head)
    .values(id=1, seq=0, hash=GENESIS)
    .on_conflict_do_nothing(index_elements=["id"]),
    "sqlite": sqlite_insert(audit_head)
    .values(id=1, seq=0, hash=GENESIS)
    .on_conflict_do_nothing(index_elements=["id"]),
}
# In the order ``append_many`` builds its rows.
_PENDING_COLUMNS = ("ts", "actor", "action", "agency", "target", "purpose", "case_ref", "details")
_OLDEST_PENDING = select(audit_pending).order_by(audit_pending.c.id).limit(bindparam("batch"))
# Every column of the chain, in the table's order, which ``chain`` builds its rows in; the
# details go in as the text that was hashed.
_LOG_COLUMNS = tuple(c.name for c in audit_log.c)
_DELETE_CHAINED = {
    dialect: delete(audit_pending).where(listed.one_of(audit_pending.c.id, "ids", dialect))
    for dialect in ("postgresql", "sqlite")
}
_STORE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_FIELDS = ("agency", "target", "purpose", "case_ref")
BATCH = 2000


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
) -> None:
    """Write one entry in the caller's transaction."""
    append_many(
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
    )


def append_many(conn: Connection, entries: Sequence[dict[str, Any]]) -> None:
    """Write several entries (each with ``append``'s keyword arguments) in the caller's
    transaction, in one round trip: a bulk action (a batch of messages) pays once. They share
    one timestamp, the action's."""
    if not entries:
        return
    now = utcnow()
    rows = [
        (
            now,
            e["actor"],
            e["action"],
            *(e.get(name) for name in _FIELDS),
            canonical(e.get("details") or {}),
        )
        for e in entries
    ]
    # The database driver's own insert (COPY on PostgreSQL): every search and read pays for
    # this one, and a built SQLAlchemy insert costs more than SQLite spends storing the row.
    bulk.insert_rows(conn, audit_pending, _PENDING_COLUMNS, rows)


def _lock_head(conn: Connection) -> tuple[int, str]:
    """The last chained sequence number and hash, the head row locked till commit on
    PostgreSQL (SQLite's write lock serialises chainers already)."""
    row = conn.execute(_LOCK_HEAD.with_for_update()).first()
    if row is None:  # the very first entry of the node (several workers may race to it)
        conn.execute(_START[conn.dialect.name])
        row = conn.execute(_LOCK_HEAD.with_for_update()).first()
        assert row is not None
    return row.seq, row.hash


def chain(conn: Connection, batch: int = BATCH) -> int:
    """Chain the committed entries waiting in ``audit_pending``, oldest first, in the caller's
    transaction; returns how many.

    The head is locked before the pending rows are read, so a second chainer waits and then
    sees them gone; rows are removed by id, never by range, because a row with a lower id may
    commit later (it is chained by the next run)."""
    done = 0
    seq, prev = _lock_head(conn)
    dialect = conn.dialect.name
    entries = bulk.inserter(conn.engine.url.drivername, audit_log, _LOG_COLUMNS, ("details",))
    while True:
        pending = conn.execute(_OLDEST_PENDING, {"batch": batch}).all()
        if not pending:
            break
        rows = []
        for p in pending:
            seq += 1
            digest = _hash(
                seq,
                p.ts,
                p.actor,
                p.agency,
                p.action,
                p.target,
                p.purpose,
                p.case_ref,
                p.details,
                prev,
            )
            entry = (seq, p.ts, p.actor, p.agency, p.action, p.target, p.purpose, p.case_ref)
            rows.append(entries.convert((*entry, p.details, prev, digest)))
            prev = digest
        entries.write(conn, rows)
        ids = listed.value(dialect, [p.id for p in pending])
        conn.execute(_DELETE_CHAINED[dialect], {"ids": ids})
        done += len(pending)
    if done:
        conn.execute(_STORE_HEAD, {"new_seq": seq, "new_hash": prev})
    return done
