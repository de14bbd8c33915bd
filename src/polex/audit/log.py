"""Appending to the audit chain, inside the caller's transaction.

Each entry's hash covers its content and the previous entry's hash, so any changed, removed
or reordered entry breaks the chain from that point on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from polex.audit.tables import audit_head, audit_log
from polex.store.metadata import utcnow

GENESIS = "0" * 64


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
            ts.replace(tzinfo=None).isoformat(timespec="microseconds"),
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


def _head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(select(audit_head).where(audit_head.c.id == 1).with_for_update()).first()
    if row is None:
        conn.execute(insert(audit_head).values(id=1, seq=0, hash=GENESIS))
        return 0, GENESIS
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
    seq, prev = _head(conn)
    seq += 1
    ts = utcnow()
    details = json.loads(json.dumps(details or {}, default=str))
    digest = entry_hash(seq, ts, actor, agency, action, target, purpose, case_ref, details, prev)
    conn.execute(
        insert(audit_log).values(
            seq=seq,
            ts=ts,
            actor=actor,
            agency=agency,
            action=action,
            target=target,
            purpose=purpose,
            case_ref=case_ref,
            details=details,
            prev_hash=prev,
            hash=digest,
        )
    )
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
    return seq


# Built once: for a batch writer, building statements would cost more than running them.
_INSERT_ENTRIES = insert(audit_log)
_ADVANCE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


def append_many(conn: Connection, entries: Sequence[dict[str, Any]]) -> list[int]:
    """Write several entries (each with ``append``'s keyword arguments) in the caller's
    transaction, taking the chain head once and inserting in one round trip: a bulk action
    (a batch of messages) pays for its audit once, not per entry. Returns the sequence numbers."""
    if not entries:
        return []
    seq, prev = _head(conn)
    rows = []
    for e in entries:
        seq += 1
        ts = utcnow()
        details = json.loads(json.dumps(e.get("details") or {}, default=str))
        fields = (e["actor"], e.get("agency"), e["action"], e.get("target"), e.get("purpose"))
        digest = entry_hash(seq, ts, *fields, e.get("case_ref"), details, prev)
        rows.append(
            {
                "seq": seq,
                "ts": ts,
                "actor": e["actor"],
                "agency": e.get("agency"),
                "action": e["action"],
                "target": e.get("target"),
                "purpose": e.get("purpose"),
                "case_ref": e.get("case_ref"),
                "details": details,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    conn.execute(_INSERT_ENTRIES, rows)
    conn.execute(_ADVANCE_HEAD, {"new_seq": seq, "new_hash": prev})
    return [r["seq"] for r in rows]
