"""Messages and receipts between nodes: the signed wire forms and what a node does with them.

The federation relay carries bytes; this module decides what they mean. A partner's message is
checked against that partner's public key before anything is stored, then sealed with this
node's key like any local message. Receipts are signed by the recipient's node and only ever
move a delivery forward."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, insert, select, update

from polex.audit import log as audit
from polex.messaging import store
from polex.messaging.addresses import Address, parse
from polex.messaging.crypto import CryptoError
from polex.messaging.errors import (
    Conflict,
    Denied,
    IntegrityFailure,
    Invalid,
    MessagingError,
    NotFound,
)
from polex.messaging.mailroom import Mailroom
from polex.messaging.model import (
    PROGRESS,
    Delivery,
    DeliveryState,
    Message,
    iso,
    parse_iso,
)
from polex.messaging.tables import message_deliveries, message_receipts, messages
from polex.store import agencies
from polex.store.metadata import utcnow

RECEIPT_VERSION = 1
RECEIPT_STATES = (DeliveryState.delivered, DeliveryState.acknowledged, DeliveryState.failed)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any, field: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except ValueError as exc:
        raise Invalid(field, "envelope.base64", f"{field}: not base64") from exc


def _parse(data: bytes, kind: str) -> dict[str, Any]:
    try:
        wire = json.loads(data)
    except ValueError as exc:
        raise Invalid("envelope", "envelope.json", "envelope: not JSON") from exc
    if not isinstance(wire, dict) or wire.get("polex") != kind:
        raise Invalid("envelope", "envelope.kind", f"envelope: not a polex {kind}")
    if not isinstance(wire.get("document"), dict):
        raise Invalid("envelope", "envelope.format", "envelope: no document")
    return wire


def export_envelope(conn: Connection, room: Mailroom, message_id: str) -> bytes:
    """A stored message, as its origin signed it, with its attachments, for a partner node."""
    message = store.load(conn, room.crypto, message_id)
    try:
        blobs = {a.sha256: _b64(room.blobs.get(a.sha256)) for a in message.attachments}
    except CryptoError as exc:
        raise IntegrityFailure(message_id, str(exc)) from exc
    return json.dumps(
        {
            "polex": "message",
            "document": message.document(),
            "signature": _b64(store.origin_signature(conn, message_id)),
            "attachments": blobs,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def receipt_bytes(document: dict[str, Any], signature: bytes) -> bytes:
    wire = {"polex": "receipt", "document": document, "signature": _b64(signature)}
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode()


def _receipt(room: Mailroom, document: dict[str, Any]) -> bytes:
    return receipt_bytes(document, room.crypto.sign(document))


def receipt_document(
    room: Mailroom,
    message_id: str,
    recipient: Address,
    state: DeliveryState,
    at: datetime,
    by: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    return {
        "v": RECEIPT_VERSION,
        "node": room.node,
        "message_id": message_id,
        "recipient": str(recipient),
        "state": state.value,
        "at": iso(at),
        "by": by,
        "reason": reason,
    }


def _receipts_for(conn: Connection, room: Mailroom, message_id: str) -> list[bytes]:
    """Receipts for this node's recipients of a message, as their deliveries stand now."""
    return [
        _receipt(
            room,
            receipt_document(
                room,
                message_id,
                d.recipient,
                d.state,
                d.acknowledged_at or d.delivered_at or d.queued_at,
                d.acknowledged_by,
                d.reason,
            ),
        )
        for d in store.deliveries(conn, [message_id])[message_id]
        if d.recipient.node == room.node
    ]


@dataclass(frozen=True)
class _Incoming:
    """A partner's message that checked out, ready to store."""

    message: Message
    document: dict[str, Any]
    signature: bytes
    local: list[Address]


def _check_incoming(
    room: Mailroom, wire: dict[str, Any], partner_node: str, partner_key: Ed25519PublicKey
) -> _Incoming:
    """Everything about a partner's message that needs no database: its signature, its form,
    that the partner may send for its sender, and its attachments (stored by hash)."""
    document = wire["document"]
    signature = _unb64(wire.get("signature"), "signature")
    claimed_id = str(document.get("id"))
    try:
        room.crypto.verify(document, signature, partner_key)
    except CryptoError as exc:
        raise IntegrityFailure(claimed_id, f"{exc} for node {partner_node}") from exc
    message = Message.from_document(document, room.node)
    if message.document() != document:
        raise Invalid("envelope", "envelope.canonical", "envelope: document is not canonical")
    if not message.sender.is_on(partner_node):
        raise Denied(
            "from",
            "envelope.origin",
            f"from: node {partner_node} may not send for {message.sender}",
        )
    local = [a for a in message.recipients if a.node == room.node]
    if not local:
        raise Invalid("to", "envelope.no_local_recipient", f"to: no recipient on node {room.node}")
    blobs = wire.get("attachments") or {}
    for meta in message.attachments:
        data = _unb64(blobs.get(meta.sha256), f"attachments.{meta.sha256}")
        if hashlib.sha256(data).hexdigest() != meta.sha256 or len(data) != meta.size:
            raise IntegrityFailure(message.id, f"attachment {meta.sha256} does not match its hash")
        room.blobs.put(meta.sha256, data)
    return _Incoming(message, document, signature, local)


def _store_incoming(
    conn: Connection, room: Mailroom, incoming: _Incoming, partner_node: str
) -> list[bytes]:
    message, local = incoming.message, incoming.local
    existing = store.get_row(conn, message.id)
    if existing is not None:
        if bytes(existing.signature) != incoming.signature:
            raise Conflict("id", "message.id_reused", f"id: message {message.id} exists")
        return _receipts_for(conn, room, message.id)
    now = utcnow()
    known = {a for a in local if agencies.get(conn, a.agency) is not None}
    store.insert_messages(
        conn,
        room.crypto,
        [(message, incoming.signature, room.crypto.sign(incoming.document))],
        now,
    )
    store.insert_deliveries(
        conn, [(message.id, a) for a in sorted(known)], DeliveryState.delivered, now
    )
    store.insert_deliveries(
        conn,
        [(message.id, a) for a in sorted(set(local) - known)],
        DeliveryState.failed,
        now,
        reason=f"no such agency on node {room.node}",
    )
    audit.append(
        conn,
        actor=f"node:{partner_node}",
        action="message.receive",
        target=message.id,
        case_ref=message.case_ref,
        details={
            "from": str(message.sender),
            "to": [str(a) for a in local],
            "handling": message.handling.value,
            "priority": message.priority.value,
        },
    )
    return _receipts_for(conn, room, message.id)


def accept_incoming(
    room: Mailroom, envelope: bytes, partner_node: str, partner_key: Ed25519PublicKey
) -> list[bytes]:
    """Store a message a partner node sent and deliver it to this node's recipients.

    Returns this node's signed receipts (delivered, or failed for an unknown agency). Accepting
    the same message again stores nothing and returns the receipts as they stand, so the
    partner's relay may retry freely."""
    incoming = _check_incoming(room, _parse(envelope, "message"), partner_node, partner_key)
    with room.engine.begin() as conn:
        return _store_incoming(conn, room, incoming, partner_node)


def accept_incoming_many(
    room: Mailroom, envelopes: Sequence[bytes], partner_node: str, partner_key: Ed25519PublicKey
) -> list[list[bytes] | MessagingError]:
    """``accept_incoming`` for a partner's batch, in one transaction: per envelope, its
    receipts or the error that refused it (the others are stored all the same)."""
    checked: list[_Incoming | MessagingError] = []
    for envelope in envelopes:
        try:
            checked.append(
                _check_incoming(room, _parse(envelope, "message"), partner_node, partner_key)
            )
        except MessagingError as exc:
            checked.append(exc)
    out: list[list[bytes] | MessagingError] = []
    with room.engine.begin() as conn:
        for item in checked:
            if isinstance(item, MessagingError):
                out.append(item)
                continue
            try:
                out.append(_store_incoming(conn, room, item, partner_node))
            except MessagingError as exc:
                out.append(exc)
    return out


def queue_receipt(
    conn: Connection,
    room: Mailroom,
    message: Message,
    recipient: Address,
    state: DeliveryState,
    at: datetime,
    by: str | None = None,
) -> None:
    """Owe the message's origin node a receipt (sent by the relay); once per state."""
    document = receipt_document(room, message.id, recipient, state, at, by)
    key = (
        message_receipts.c.message_id == message.id,
        message_receipts.c.recipient == str(recipient),
        message_receipts.c.state == state.value,
    )
    if conn.execute(select(message_receipts.c.message_id).where(*key)).first():
        return
    conn.execute(
        insert(message_receipts).values(
            message_id=message.id,
            recipient=str(recipient),
            state=state.value,
            node=message.sender.node,
            document=document,
            signature=room.crypto.sign(document),
            outbox_state="queued",
            attempts=0,
            created_at=utcnow(),
        )
    )


@dataclass(frozen=True)
class _Receipt:
    message_id: str
    recipient: Address
    state: DeliveryState
    at: datetime
    document: dict[str, Any]


def _check_receipt(
    room: Mailroom, receipt: bytes, partner_node: str, partner_key: Ed25519PublicKey
) -> _Receipt:
    wire = _parse(receipt, "receipt")
    doc = wire["document"]
    signature = _unb64(wire.get("signature"), "signature")
    try:
        room.crypto.verify(doc, signature, partner_key)
        recipient = parse(str(doc["recipient"]), room.node, "recipient")
        state = DeliveryState(doc["state"])
        at = parse_iso(str(doc["at"]))
        mid = str(doc["message_id"])
    except CryptoError as exc:
        raise IntegrityFailure(str(doc.get("message_id")), f"receipt {exc}") from exc
    except (KeyError, ValueError) as exc:
        raise Invalid("receipt", "receipt.format", f"receipt: malformed ({exc})") from exc
    if state not in RECEIPT_STATES:
        raise Invalid("receipt", "receipt.state", f"receipt: a receipt does not say {state.value}")
    if doc.get("node") != partner_node or not recipient.is_on(partner_node):
        raise Denied(
            "recipient",
            "receipt.origin",
            f"recipient: node {partner_node} may not sign receipts for {recipient}",
        )
    return _Receipt(mid, recipient, state, at, doc)


def _apply(conn: Connection, room: Mailroom, receipt: _Receipt) -> Delivery:
    mid, recipient, state, at, doc = (
        receipt.message_id,
        receipt.recipient,
        receipt.state,
        receipt.at,
        receipt.document,
    )
    d = message_deliveries.c
    key = (d.message_id == mid, d.recipient == str(recipient))
    origin = conn.execute(select(messages.c.origin_node).where(messages.c.id == mid)).first()
    row = conn.execute(select(message_deliveries).where(*key)).first()
    if origin is None or origin.origin_node != room.node or row is None:
        raise NotFound("message_id", "receipt.unknown", f"message_id: no delivery {mid}")
    current = DeliveryState(row.state)
    values: dict[str, Any] = {}
    if state == DeliveryState.failed:
        if PROGRESS.get(current, -1) < PROGRESS[DeliveryState.delivered]:
            values = {"state": state.value, "reason": doc.get("reason")}
    elif current == DeliveryState.failed or PROGRESS[state] > PROGRESS[current]:
        values = {"state": state.value, "reason": None, "lease_until": None}
        values["sent_at"] = row.sent_at or at
        values["delivered_at"] = row.delivered_at or at
        if state == DeliveryState.acknowledged:
            values["acknowledged_at"] = at
            values["acknowledged_by"] = doc.get("by")
    if values:
        conn.execute(update(message_deliveries).where(*key).values(**values))
    return next(x for x in store.deliveries(conn, [mid])[mid] if str(x.recipient) == str(recipient))


def apply_receipt(
    room: Mailroom, receipt: bytes, partner_node: str, partner_key: Ed25519PublicKey
) -> Delivery:
    """Move one of our deliveries forward on a partner's signed receipt (never backwards)."""
    checked = _check_receipt(room, receipt, partner_node, partner_key)
    with room.engine.begin() as conn:
        return _apply(conn, room, checked)


def apply_receipts(
    room: Mailroom, receipts: Sequence[bytes], partner_node: str, partner_key: Ed25519PublicKey
) -> list[Delivery | MessagingError]:
    """``apply_receipt`` for many receipts in one transaction; per receipt, the delivery as it
    now stands or the error that refused the receipt."""
    checked: list[_Receipt | MessagingError] = []
    for receipt in receipts:
        try:
            checked.append(_check_receipt(room, receipt, partner_node, partner_key))
        except MessagingError as exc:
            checked.append(exc)
    out: list[Delivery | MessagingError] = []
    with room.engine.begin() as conn:
        for item in checked:
            if isinstance(item, MessagingError):
                out.append(item)
                continue
            try:
                out.append(_apply(conn, room, item))
            except MessagingError as exc:
                out.append(exc)
    return out
