"""Sending: compose messages, sign them, queue one delivery per recipient, in one transaction.

The message id is the sender's, so a retry of the same send (after a timeout, a crash, a lost
answer) finds the message already there and changes nothing. Local recipients are delivered
right after the commit; if the process dies first, the queued deliveries are in the database
and the next delivery worker on any process finishes them. A batch (systems exchanging many
messages at once) goes through the same path, all or nothing, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from polex.access.policy import READING_ROLES, may_pass_on
from polex.access.principal import Principal
from polex.audit import log as audit
from polex.messaging import attachments, delivery, refs, store, workspaces
from polex.messaging.addresses import Address, parse_many
from polex.messaging.errors import Conflict, Denied, Invalid, NotFound, TooLarge
from polex.messaging.mailbox import audited, readable
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import Delivery, DeliveryState, Draft, Message, message_id
from polex.store import agencies
from polex.store.metadata import utcnow

MAX_BATCH = 500


@dataclass
class _Tx:
    """One sending transaction: its connection, its time, and the node's known agencies."""

    conn: Connection
    now: datetime
    known: set[str]

    def check_local(self, node: str, addresses: Sequence[Address], name: str) -> None:
        for a in addresses:
            if a.node != node or a.agency in self.known:
                continue
            if agencies.get(self.conn, a.agency) is None:
                raise Invalid(
                    name,
                    "address.unknown_agency",
                    f"{name}: agency {a.agency} is not registered on node {node}",
                )
            self.known.add(a.agency)


Compose = Callable[[_Tx], Message]


@dataclass(frozen=True)
class Sent:
    message: Message
    deliveries: list[Delivery]
    created: bool  # False: this id had been sent before and nothing changed
    records: list[refs.RecordRef] = field(default_factory=list)  # as the sender sees them


def _require_sender(principal: Principal) -> None:
    if principal.role not in READING_ROLES:
        raise Denied("role", "message.role", f"role: {principal.role.value} does not send messages")


def _compose_draft(room: Mailroom, principal: Principal, draft: Draft, mid: str) -> Compose:
    me = Address(principal.agency, room.node)

    def compose(tx: _Tx) -> Message:
        recipients = parse_many(draft.to, room.node)
        thread_id, case_ref, workspace_id = mid, draft.case_ref, draft.workspace_id
        in_reply_to = message_id(draft.in_reply_to, "in_reply_to") if draft.in_reply_to else None
        if in_reply_to:
            original = readable(tx.conn, room, principal, in_reply_to)
            thread_id = original.thread_id
            case_ref = case_ref or original.case_ref
            workspace_id = workspace_id or original.workspace_id
            if not recipients:
                others = {original.sender, *original.recipients} - {me}
                recipients = sorted(others) or [original.sender]
        if workspace_id:
            ws = workspaces.get(tx.conn, room.node, principal, workspace_id)
            case_ref = case_ref or ws.case_ref
            if not recipients:
                recipients = [a for a in ws.members if a != me]
        if not recipients:
            raise Invalid("to", "to.required", "to: at least one recipient agency")
        tx.check_local(room.node, recipients, "to")
        records = tuple(dict.fromkeys(draft.records))
        refs.require_full(tx.conn, principal, list(records), "records")
        permitted = parse_many(draft.passing_permitted, room.node, "passing_permitted")
        return Message(
            id=mid,
            thread_id=thread_id,
            in_reply_to=in_reply_to,
            workspace_id=workspace_id,
            sender=me,
            sender_user=principal.username,
            recipients=tuple(recipients),
            case_ref=case_ref,
            handling=draft.handling,
            priority=draft.priority,
            subject=draft.subject,
            body=draft.body,
            records=records,
            attachments=tuple(attachments.staged(tx.conn, principal.agency, draft.attachments)),
            passing_permitted=tuple(str(a) for a in permitted),
            created_at=tx.now,
        )

    return compose


def _same(a: Message, b: Message) -> bool:
    first, second = a.document(), b.document()
    first.pop("created_at")
    second.pop("created_at")
    return first == second


@contextmanager
def _item(index: int | None) -> Iterator[None]:
    """In a batch, name the failing message in the error's field: ``messages[3].to``."""
    try:
        yield
    except (Invalid, NotFound, Denied, Conflict, TooLarge) as exc:
        if index is None:
            raise
        where = f"messages[{index}]"
        raise type(exc)(f"{where}.{exc.field}", exc.rule, f"{where}: {exc.message}") from exc


def _audit_entry(principal: Principal, action: str, message: Message) -> dict[str, Any]:
    details: dict[str, Any] = {
        "to": [str(a) for a in message.recipients],
        "handling": message.handling.value,
        "priority": message.priority.value,
        "thread_id": message.thread_id,
        "records": list(message.records),
        "attachments": [a.sha256 for a in message.attachments],
    }
    for key in ("in_reply_to", "forwarded_from", "workspace_id"):
        if getattr(message, key):
            details[key] = getattr(message, key)
    return {
        "actor": principal.actor,
        "agency": principal.agency,
        "action": action,
        "target": message.id,
        "case_ref": message.case_ref,
        "details": details,
    }


def _commit(
    room: Mailroom, principal: Principal, items: Sequence[tuple[str, Compose]], action: str
) -> tuple[list[tuple[Message, bool]], dict[str, list[Delivery]]]:
    """Store the new messages of ``items`` with their queued deliveries and audit entries;
    ids stored before (or twice in the batch) must carry the same content. Returns each
    message (and whether it is new) and the deliveries of all of them, unless new ones are
    delivered right away (which reads them afresh)."""
    batch = len(items) > 1
    with room.engine.begin() as conn:
        tx = _Tx(conn, utcnow(), room.known_agencies)
        stored = store.get_rows(conn, [mid for mid, _ in items])
        seen: dict[str, Message] = {}
        results: list[tuple[Message, bool]] = []
        for i, (mid, compose) in enumerate(items):
            with _item(i if batch else None):
                before = seen.get(mid)
                if before is None and mid in stored:
                    before = store.decode(room.crypto, stored[mid])
                if before is None:
                    seen[mid] = compose(tx)
                    results.append((seen[mid], True))
                    continue
                if not _same(before, compose(replace(tx, now=before.created_at))):
                    raise Conflict(
                        "id", "message.id_reused", f"id: message {mid} was sent with other content"
                    )
                results.append((before, False))
        new = [m for m, created in results if created]
        signatures = [room.crypto.sign(m.document()) for m in new]
        signed = [(m, sig, sig) for m, sig in zip(new, signatures, strict=True)]
        store.insert_messages(conn, room.crypto, signed, tx.now)
        queued = [(m.id, a) for m in new for a in m.recipients]
        store.insert_deliveries(conn, queued, DeliveryState.queued, tx.now)
        audit.append_many(conn, [_audit_entry(principal, action, m) for m in new])
        if new and room.settings.delivery_delay == 0:
            return results, {}  # delivered right after the commit, which reads them then
        return results, store.deliveries(conn, [m.id for m, _ in results])


def _send(
    room: Mailroom, principal: Principal, items: Sequence[tuple[str, Compose]], action: str
) -> list[Sent]:
    _require_sender(principal)

    def run() -> list[Sent]:
        try:
            results, states = _commit(room, principal, items, action)
        except IntegrityError:
            # a concurrent send of the same id committed first: answer as for a retry
            results, states = _commit(room, principal, items, action)
        if any(created for _, created in results):
            if room.settings.delivery_delay == 0:
                states = delivery.deliver_now(room, [m.id for m, _ in results])
            room.wake.ring()  # later local deliveries, and the relay to partner nodes
        views: dict[str, refs.RecordRef] = {}
        if cited := sorted({r for m, _ in results for r in m.records}):
            with room.engine.begin() as conn:
                views = {v.record_id: v for v in refs.visible(conn, principal, cited)}
        return [
            Sent(m, states[m.id], created, [views[r] for r in m.records]) for m, created in results
        ]

    return audited(room, principal, run)


def send(room: Mailroom, principal: Principal, draft: Draft) -> Sent:
    """Send a message from the principal's agency; resending the same id is a no-op."""
    mid = message_id(draft.id)
    (sent,) = _send(
        room, principal, [(mid, _compose_draft(room, principal, draft, mid))], "message.send"
    )
    return sent


def send_many(room: Mailroom, principal: Principal, drafts: Sequence[Draft]) -> list[Sent]:
    """Send a batch in one transaction, all or nothing (an error names ``messages[i]``)."""
    if not 1 <= len(drafts) <= MAX_BATCH:
        raise Invalid("messages", "batch.size", f"messages: 1 to {MAX_BATCH} per batch")
    items = []
    for i, draft in enumerate(drafts):
        with _item(i):
            mid = message_id(draft.id)
        items.append((mid, _compose_draft(room, principal, draft, mid)))
    return _send(room, principal, items, "message.send")


def forward(
    room: Mailroom,
    principal: Principal,
    original_id: str,
    to: list[str],
    note: str = "",
    new_id: str | None = None,
) -> Sent:
    """Pass a message on to other agencies, with its records and attachments.

    The handling code is the original's and travels with it; H2 is refused unless the
    principal's agency sent the original or its sender permitted this agency to pass it on."""
    mid = message_id(new_id)
    me = Address(principal.agency, room.node)

    def compose(tx: _Tx) -> Message:
        original = readable(tx.conn, room, principal, message_id(original_id, "message_id"))
        owner = (
            original.sender.agency if original.sender.node == room.node else str(original.sender)
        )
        permitted = {
            a.agency
            for a in parse_many(list(original.passing_permitted), room.node, "passing_permitted")
            if a.node == room.node
        }
        if not may_pass_on(principal, owner, original.handling, permitted):
            raise Denied(
                "handling",
                "handling.no_pass_on",
                f"handling: message {original.id} is {original.handling.value} and may not be"
                f" passed on without the permission of {original.sender}",
            )
        recipients = parse_many(to, room.node)
        if not recipients:
            raise Invalid("to", "to.required", "to: at least one recipient agency")
        tx.check_local(room.node, recipients, "to")
        quoted = "\n".join(f"> {line}" for line in original.body.splitlines())
        header = f"Forwarded message {original.id} from {original.sender}:"
        return Message(
            id=mid,
            thread_id=mid,
            forwarded_from=original.id,
            sender=me,
            sender_user=principal.username,
            recipients=tuple(recipients),
            case_ref=original.case_ref,
            handling=original.handling,
            priority=original.priority,
            subject=f"Fwd: {original.subject}"[:300],
            body=f"{note}\n\n{header}\n\n{quoted}".strip(),
            records=original.records,
            attachments=original.attachments,
            passing_permitted=original.passing_permitted,
            created_at=tx.now,
        )

    try:
        (sent,) = _send(room, principal, [(mid, compose)], "message.forward")
    except Denied as refused:
        if refused.rule == "handling.no_pass_on":
            with room.engine.begin() as conn:
                audit.append(
                    conn,
                    actor=principal.actor,
                    agency=principal.agency,
                    action="message.forward_refused",
                    target=original_id,
                    details={"to": to, "rule": refused.rule},
                )
        raise
    return sent
