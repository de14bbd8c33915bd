"""Link status for operators: is the partner reachable, how much waits for it, since when, and
when the certificates run out.

Up and down come from the last exchanges the relay, the searches and the partner's own calls
recorded (the relay pings idle partners, so a quiet link stays known); a link not heard of for
``STALE_AFTER`` is reported ``unknown`` (e.g. while this node's federation port is not served)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from polex.federation import links
from polex.messaging.model import DeliveryState, aware
from polex.messaging.tables import message_deliveries, message_receipts
from polex.store.metadata import utcnow

STALE_AFTER = timedelta(minutes=2)


@dataclass(frozen=True)
class LinkStatus:
    node: str
    endpoint: str
    state: str  # up | down | unknown
    queued_messages: int
    queued_receipts: int
    last_contact_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    certificate_expires: datetime
    fingerprint: str
    ours: dict[str, Any]
    theirs: dict[str, Any]

    @property
    def queue_depth(self) -> int:
        return self.queued_messages + self.queued_receipts

    def to_json(self) -> dict[str, Any]:
        def iso(ts: datetime | None) -> str | None:
            return ts.isoformat() if ts else None

        return {
            "node": self.node,
            "endpoint": self.endpoint,
            "state": self.state,
            "queue_depth": self.queue_depth,
            "queued_messages": self.queued_messages,
            "queued_receipts": self.queued_receipts,
            "last_contact_at": iso(self.last_contact_at),
            "last_failure_at": iso(self.last_failure_at),
            "last_error": self.last_error,
            "certificate_expires": iso(self.certificate_expires),
            "fingerprint": self.fingerprint,
            "ours": self.ours,
            "theirs": self.theirs,
        }


def _state(contact: datetime | None, failure: datetime | None, now: datetime) -> str:
    latest = max((t for t in (contact, failure) if t is not None), default=None)
    if latest is None or now - latest > STALE_AFTER:
        return "unknown"
    return "up" if latest == contact else "down"


def _queued(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
    d, r = message_deliveries.c, message_receipts.c
    messages = conn.execute(
        select(d.node, func.count()).where(d.state == DeliveryState.queued.value).group_by(d.node)
    ).all()
    receipts = conn.execute(
        select(r.node, func.count()).where(r.outbox_state == "queued").group_by(r.node)
    ).all()
    return {n: c for n, c in messages}, {n: c for n, c in receipts}


def link_status(conn: Connection, now: datetime | None = None) -> list[LinkStatus]:
    now = now or utcnow()
    messages, receipts = _queued(conn)
    out = []
    for link in links.all_links(conn):
        contact = aware(link.last_contact_at) if link.last_contact_at else None
        failure = aware(link.last_failure_at) if link.last_failure_at else None
        out.append(
            LinkStatus(
                node=link.node,
                endpoint=link.endpoint,
                state=_state(contact, failure, now),
                queued_messages=messages.get(link.node, 0),
                queued_receipts=receipts.get(link.node, 0),
                last_contact_at=contact,
                last_failure_at=failure,
                last_error=link.last_error
                if failure and (not contact or failure > contact)
                else None,
                certificate_expires=link.certificate_expires,
                fingerprint=link.fingerprint,
                ours=link.ours.to_json(),
                theirs=link.theirs.to_json(),
            )
        )
    return out
