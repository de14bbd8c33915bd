"""Reading the audit trail: entries by who, what, when — for the DPO's API and CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, select

from polex.audit import log
from polex.audit.tables import audit_log


@dataclass(frozen=True)
class Entry:
    seq: int
    ts: datetime
    actor: str
    agency: str | None
    action: str
    target: str | None
    purpose: str | None
    case_ref: str | None
    details: dict[str, Any]
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts.isoformat(),
            "actor": self.actor,
            "agency": self.agency,
            "action": self.action,
            "target": self.target,
            "purpose": self.purpose,
            "case_ref": self.case_ref,
            "details": self.details,
            "hash": self.hash,
        }


def entry(row: Row[Any]) -> Entry:
    return Entry(
        seq=row.seq,
        ts=row.ts,
        actor=row.actor,
        agency=row.agency,
        action=row.action,
        target=row.target,
        purpose=row.purpose,
        case_ref=row.case_ref,
        details=row.details,
        hash=row.hash,
    )


def utc(ts: datetime) -> datetime:
    """A bound for the ts column: SQLite compares stored UTC text, so bounds must be UTC too."""
    return ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)


def query(
    conn: Connection,
    *,
    actor: str | None = None,
    agency: str | None = None,
    action: str | None = None,
    target: str | None = None,
    case_ref: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> list[Entry]:
    """Entries in sequence order after ``after_seq`` (the cursor of the next page).

    ``action`` ending in "." selects a family ("message." for every message action)."""
    log.chain(conn)
    q = select(audit_log).where(audit_log.c.seq > after_seq)
    if actor:
        q = q.where(audit_log.c.actor == actor)
    if agency:
        q = q.where(audit_log.c.agency == agency.upper())
    if action:
        if action.endswith("."):
            q = q.where(audit_log.c.action.startswith(action, autoescape=True))
        else:
            q = q.where(audit_log.c.action == action)
    if target:
        q = q.where(audit_log.c.target == target)
    if case_ref:
        q = q.where(audit_log.c.case_ref == case_ref)
    if since:
        q = q.where(audit_log.c.ts >= utc(since))
    if until:
        q = q.where(audit_log.c.ts < utc(until))
    rows = conn.execute(q.order_by(audit_log.c.seq).limit(limit)).all()
    return [entry(r) for r in rows]
