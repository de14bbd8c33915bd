"""Reading messages: inbox, outbox, threads and workspaces, a message itself, its attachments,
and acknowledging it.

Every message shown has passed its integrity check on this read. Who may read is asked of the
policy decision point; what a referenced record shows is asked of it per record. A tampered
message is refused (in a listing: shown as tampered, without content) and audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Row, Select, exists, func, select, update

from polex.access.policy import may_read_message
from polex.access.principal import Principal
from polex.audit import log as audit
from polex.messaging import exchange, refs, store, workspaces
from polex.messaging.addresses import Address
from polex.messaging.crypto import CryptoError
from polex.messaging.errors import Conflict, IntegrityFailure, Invalid, NotFound
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import (
    IN_INBOX,
    AttachmentMeta,
    Delivery,
    DeliveryState,
    Message,
    aware,
    overall_state,
)
from polex.messaging.tables import message_deliveries, messages
from polex.store.metadata import utcnow

Box = Literal["inbox", "outbox"]
T = TypeVar("T")
d = message_deliveries.c
m = messages.c


@dataclass(frozen=True)
class Filters:
    case_ref: str | None = None
    priority: str | None = None
    handling: str | None = None
    state: DeliveryState | None = None
    thread_id: str | None = None
    workspace_id: str | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class Summary:
    """One line of a listing. ``integrity_error`` set means the content was withheld."""

    id: str
    thread_id: str
    sender: Address
    recipients: tuple[Address, ...]
    handling: str
    priority: str
    case_ref: str | None
    created_at: datetime
    state: DeliveryState
    workspace_id: str | None
    subject: str | None
    attachments: int
    integrity_error: str | None = None


@dataclass(frozen=True)
class Reading:
    """A message as one reader gets it."""

    message: Message
    state: DeliveryState
    deliveries: list[Delivery]  # the sender sees every recipient's; a recipient its own
    records: list[refs.RecordRef] = field(default_factory=list)


def audited(room: Mailroom, principal: Principal, action: Callable[[], T]) -> T:
    """Run a use case; if it meets a tampered message, record that in the audit trail in a
    transaction of its own (the use case's own transaction has been rolled back) and re-raise."""
    try:
        return action()
    except IntegrityFailure as failure:
        with room.engine.begin() as conn:
            _audit_failure(conn, principal, failure)
        raise


def _audit_failure(conn: Connection, principal: Principal, failure: IntegrityFailure) -> None:
    audit.append(
        conn,
        actor=principal.actor,
        agency=principal.agency,
        action="message.integrity_failure",
        target=failure.message_id,
        details={"reason": failure.reason},
    )


def _parties(conn: Connection, room: Mailroom, row: Row[Any]) -> tuple[set[str], set[str]]:
    """Agency codes of this node that may read the message: its sender and the recipients whose
    copy reached their inbox; and the members of the workspace it was posted in (a workspace
    of this node: a partner's message cannot name its way into one of ours)."""
    local_origin = row.origin_node == room.node
    direct = {row.sender_agency} if local_origin else set()
    direct |= set(
        conn.execute(
            select(d.agency).where(
                d.message_id == row.id,
                d.node == room.node,
                d.state.in_([s.value for s in IN_INBOX]),
            )
        ).scalars()
    )
    members = workspaces.local_members(conn, room.node, row.workspace_id) if local_origin else set()
    return direct, members


def readable(conn: Connection, room: Mailroom, principal: Principal, message_id: str) -> Message:
    """The verified message if the principal may read it; otherwise not found.

    Access is decided before the integrity check, so a stranger cannot probe for tampered
    messages; the check then proves the header it was decided on. Delivery rows are not
    signed, so a direct reader must also be named in the signed message."""
    row = store.get_row(conn, message_id)
    if row is None:
        raise store.not_found(message_id)
    direct, members = _parties(conn, room, row)
    if not may_read_message(principal, direct | members):
        raise store.not_found(message_id)
    message = store.decode(room.crypto, row)
    named = {a.agency for a in (message.sender, *message.recipients) if a.node == room.node}
    if not may_read_message(principal, (direct & named) | members):
        raise store.not_found(message_id)
    return message


def _visible_deliveries(
    room: Mailroom, principal: Principal, message: Message, all_: list[Delivery]
) -> list[Delivery]:
    if message.sender == Address(principal.agency, room.node):
        return all_
    return [x for x in all_ if x.recipient == Address(principal.agency, room.node)]


def _state_for(
    room: Mailroom, principal: Principal, sender: Address, all_: list[Delivery]
) -> DeliveryState:
    """A recipient sees its own delivery's state; the sender (and a workspace member) the
    summary over all recipients."""
    me = Address(principal.agency, room.node)
    own = [x for x in all_ if x.recipient == me]
    if sender != me and own:
        return own[0].state
    return overall_state([x.state for x in all_])


def read(
    room: Mailroom, principal: Principal, message_id: str, purpose: str | None = None
) -> Reading:
    def run() -> Reading:
        with room.engine.begin() as conn:
            message = readable(conn, room, principal, message_id)
            all_ = store.deliveries(conn, [message.id])[message.id]
            records = refs.visible(conn, principal, list(message.records))
            audit.append(
                conn,
                actor=principal.actor,
                agency=principal.agency,
                action="message.read",
                target=message.id,
                purpose=purpose,
                case_ref=message.case_ref,
                details={"records": {r.record_id: r.view.value for r in records}},
            )
            return Reading(
                message=message,
                state=_state_for(room, principal, message.sender, all_),
                deliveries=_visible_deliveries(room, principal, message, all_),
                records=records,
            )

    return audited(room, principal, run)


def acknowledge(room: Mailroom, principal: Principal, message_id: str) -> Delivery:
    """The recipient agency confirms it has the message; the sender gets the receipt."""
    me = Address(principal.agency, room.node)

    def run() -> Delivery:
        with room.engine.begin() as conn:
            message = readable(conn, room, principal, message_id)
            mine = [
                x for x in store.deliveries(conn, [message.id])[message.id] if x.recipient == me
            ]
            if not mine or mine[0].state not in IN_INBOX:
                raise Conflict(
                    "message_id",
                    "message.not_delivered",
                    f"message_id: message {message.id} is not in the inbox of {principal.agency}",
                )
            if mine[0].state == DeliveryState.acknowledged:
                return mine[0]
            now = utcnow()
            conn.execute(
                update(message_deliveries)
                .where(
                    d.message_id == message.id,
                    d.recipient == str(me),
                    d.state == DeliveryState.delivered.value,
                )
                .values(
                    state=DeliveryState.acknowledged.value,
                    acknowledged_at=now,
                    acknowledged_by=principal.actor,
                )
            )
            if message.origin_node != room.node:
                exchange.queue_receipt(
                    conn, room, message, me, DeliveryState.acknowledged, now, principal.actor
                )
                room.wake.ring()
            audit.append(
                conn,
                actor=principal.actor,
                agency=principal.agency,
                action="message.acknowledge",
                target=message.id,
                case_ref=message.case_ref,
                details={"from": str(message.sender)},
            )
            return next(
                x for x in store.deliveries(conn, [message.id])[message.id] if x.recipient == me
            )

    return audited(room, principal, run)


def download(
    room: Mailroom, principal: Principal, message_id: str, sha256: str
) -> tuple[AttachmentMeta, bytes]:
    """An attachment's bytes, checked against the hash the message's signature covers."""

    def run() -> tuple[AttachmentMeta, bytes]:
        with room.engine.begin() as conn:
            message = readable(conn, room, principal, message_id)
            meta = next((a for a in message.attachments if a.sha256 == sha256), None)
            if meta is None:
                raise NotFound(
                    "sha256",
                    "attachment.not_found",
                    f"sha256: no attachment {sha256} in {message_id}",
                )
            try:
                data = room.blobs.get(sha256)
            except CryptoError as exc:
                raise IntegrityFailure(message.id, str(exc)) from exc
            audit.append(
                conn,
                actor=principal.actor,
                agency=principal.agency,
                action="message.download",
                target=message.id,
                case_ref=message.case_ref,
                details={"sha256": sha256, "filename": meta.filename, "size": meta.size},
            )
            return meta, data

    return audited(room, principal, run)


def _summary(
    row: Row[Any], state: DeliveryState, failure: IntegrityFailure | None, message: Message | None
) -> Summary:
    if message is not None:
        return Summary(
            id=message.id,
            thread_id=message.thread_id,
            sender=message.sender,
            recipients=message.recipients,
            handling=message.handling.value,
            priority=message.priority.value,
            case_ref=message.case_ref,
            created_at=message.created_at,
            state=state,
            workspace_id=message.workspace_id,
            subject=message.subject,
            attachments=len(message.attachments),
        )
    return Summary(
        id=row.id,
        thread_id=row.thread_id,
        sender=Address(row.sender_agency, row.origin_node),
        recipients=(),
        handling=row.handling,
        priority=row.priority,
        case_ref=row.case_ref,
        created_at=aware(row.created_at),
        state=state,
        workspace_id=row.workspace_id,
        subject=None,
        attachments=0,
        integrity_error=str(failure),
    )


def _filtered(query: Select[Any], f: Filters) -> Select[Any]:
    if f.case_ref:
        query = query.where(m.case_ref == f.case_ref)
    if f.priority:
        query = query.where(m.priority == f.priority)
    if f.handling:
        query = query.where(m.handling == f.handling)
    if f.thread_id:
        query = query.where(m.thread_id == f.thread_id)
    if f.workspace_id:
        query = query.where(m.workspace_id == f.workspace_id)
    if f.since:
        query = query.where(m.created_at >= aware(f.since).astimezone(UTC))
    return query


def _box_query(room: Mailroom, principal: Principal, box: Box | None, f: Filters) -> Select[Any]:
    if box == "inbox":
        states = [f.state.value] if f.state else [s.value for s in IN_INBOX]
        query = select(messages).where(
            exists().where(
                d.message_id == m.id,
                d.agency == principal.agency,
                d.node == room.node,
                d.state.in_(states),
            )
        )
    elif box == "outbox":
        query = select(messages).where(
            m.origin_node == room.node, m.sender_agency == principal.agency
        )
        if f.state:
            query = query.where(exists().where(d.message_id == m.id, d.state == f.state.value))
    else:  # a workspace's messages: membership was checked by the caller
        query = select(messages).where(m.origin_node == room.node)
        if f.state:
            query = query.where(exists().where(d.message_id == m.id, d.state == f.state.value))
    return _filtered(query, f)


def list_messages(
    room: Mailroom,
    principal: Principal,
    box: Box | None = "inbox",
    filters: Filters | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Summary], int]:
    """A page of the principal's inbox or outbox (or, with no box, of a workspace), newest
    first, and the total count."""
    f = filters or Filters()
    with room.engine.begin() as conn:
        if box is None:
            if not f.workspace_id:
                raise Invalid("box", "message.box", "box: inbox, outbox or a workspace_id")
            workspaces.get(conn, room.node, principal, f.workspace_id)
        elif f.workspace_id:
            workspaces.get(conn, room.node, principal, f.workspace_id)
        query = _box_query(room, principal, box, f)
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(
            query.order_by(m.created_at.desc(), m.id).offset(offset).limit(limit)
        ).all()
        all_ = store.deliveries(conn, [r.id for r in rows])
        me = Address(principal.agency, room.node)
        page = []
        for row in rows:
            message: Message | None = None
            failure: IntegrityFailure | None = None
            try:
                message = store.decode(room.crypto, row)
                if box == "inbox" and me not in message.recipients:
                    raise IntegrityFailure(row.id, "the message was not sent to this agency")
            except IntegrityFailure as exc:
                message, failure = None, exc
                _audit_failure(conn, principal, exc)
            sender = Address(row.sender_agency, row.origin_node)
            state = _state_for(room, principal, sender, all_[row.id])
            page.append(_summary(row, state, failure, message))
        audit.append(
            conn,
            actor=principal.actor,
            agency=principal.agency,
            action="message.list",
            details={
                "box": box,
                "workspace_id": f.workspace_id,
                "case_ref": f.case_ref,
                "count": len(page),
            },
        )
        return page, total


def thread(room: Mailroom, principal: Principal, thread_id: str) -> list[Reading]:
    """The messages of a thread the principal may read, oldest first (others are left out)."""

    def run() -> list[Reading]:
        with room.engine.begin() as conn:
            ids = conn.execute(
                select(m.id).where(m.thread_id == thread_id).order_by(m.created_at, m.id)
            ).scalars()
            readings = []
            for mid in list(ids):
                try:
                    message = readable(conn, room, principal, mid)
                except NotFound:
                    continue
                all_ = store.deliveries(conn, [mid])[mid]
                readings.append(
                    Reading(
                        message=message,
                        state=_state_for(room, principal, message.sender, all_),
                        deliveries=_visible_deliveries(room, principal, message, all_),
                        records=refs.visible(conn, principal, list(message.records)),
                    )
                )
            if not readings:
                raise NotFound(
                    "thread_id", "thread.not_found", f"thread_id: thread {thread_id} not found"
                )
            audit.append(
                conn,
                actor=principal.actor,
                agency=principal.agency,
                action="message.read_thread",
                target=thread_id,
                details={"messages": [r.message.id for r in readings]},
            )
            return readings

    return audited(room, principal, run)
