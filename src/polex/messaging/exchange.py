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
from sqlalchemy import Connection, bindparam, insert, select, update

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


def _parse(data: bytes | dict[str, Any], kind: str) -> dict[str, Any]:
    """A wire form as bytes, or as the JSON value a batch request held it in already."""
    try:
        wire = json.loads(data) if isinstance(data, bytes) else data
    except ValueError as exc:
        raise Invalid("envelope", "envelope.json", "envelope: not JSON") from exc
    if not isinstance(wire, dict) or wire.get("polex") != kind:
        raise Invalid("envelope", "envelope.kind", f"envelope: not a polex {kind}")
    if not isinstance(wire.get("document"), dict):
        raise Invalid("envelope", "envelope.format", "envelope: no document")
    return wire


def _envelope(room: Mailroom, row: Any) -> bytes:
    # this node's own message goes out under its signature, which is also its seal and which
    # the partner checks before storing: checking it here as well would only do it twice
    own = row.origin_node == room.node and bytes(row.seal) == bytes(row.signature)
    message = (store.unsealed if own else store.decode)(room.crypto, row)
    try:
        blobs = {a.sha256: _b64(room.blobs.get(a.sha256)) for a in message.attachments}
    except CryptoError as exc:
        raise IntegrityFailure(message.id, str(exc)) from exc
    return json.dumps(
        {
            "polex": "message",
            "document": message.document(),
            "signature": _b64(bytes(row.signature)),
            "attachments": blobs,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def export_envelope(conn: Connection, room: Mailroom, message_id: str) -> bytes:
    """A stored message, as its origin signed it, with its attachments, for a partner node."""
    row = store.get_row(conn, message_id)
    if row is None:
        raise store.not_found(message_id)
    return _envelope(room, row)


def export_envelopes(
    conn: Connection, room: Mailroom, message_ids: Sequence[str]
) -> dict[str, bytes | MessagingError]:
    """``export_envelope`` for many messages, read in one query."""
    rows = store.get_rows(conn, message_ids)
    out: dict[str, bytes | MessagingError] = {}
    for mid in message_ids:
        try:
            if mid not in rows:
                raise store.not_found(mid)
            out[mid] = _envelope(room, rows[mid])
        except MessagingError as exc:
            out[mid] = exc
    return out


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


def _receipts(
    room: Mailroom, message_id: str, deliveries: Sequence[Delivery]
) -> list[dict[str, Any]]:
    """Receipt documents for this node's recipients of a message, as their deliveries stand."""
    return [
        receipt_document(
            room,
            message_id,
            d.recipient,
            d.state,
            d.acknowledged_at or d.delivered_at or d.queued_at,
            d.acknowledged_by,
            d.reason,
        )
        for d in deliveries
        if d.recipient.node == room.node
    ]


def receipt_list_bytes(room: Mailroom, documents: Sequence[dict[str, Any]]) -> bytes:
    """Many receipts under one signature (the answer to a partner's batch): the same proof as
    one signature each, for a fraction of the signing and checking."""
    document = {"v": RECEIPT_VERSION, "node": room.node, "receipts": list(documents)}
    wire = {
        "polex": "receipts",
        "document": document,
        "signature": _b64(room.crypto.sign(document)),
    }
    return json.dumps(wire, separators=(",", ":"), ensure_ascii=False).encode()


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


def _known(conn: Connection, room: Mailroom, addresses: Sequence[Address]) -> set[Address]:
    """Those of ``addresses`` whose agency is registered here (agencies are never removed, so
    what was found once is remembered for the process)."""
    for a in {a.agency for a in addresses} - room.known_agencies:
        if agencies.get(conn, a) is not None:
            room.known_agencies.add(a)
    return {a for a in addresses if a.agency in room.known_agencies}


def _store_incoming(
    conn: Connection, room: Mailroom, batch: Sequence[_Incoming | MessagingError], partner_node: str
) -> list[list[dict[str, Any]] | MessagingError]:
    """Store the new messages of a batch with a few statements for all of them; a message
    stored before (a relay retrying) is answered with its receipts as they stand."""
    ids = [i.message.id for i in batch if isinstance(i, _Incoming)]
    existing = store.get_rows(conn, ids)
    now = utcnow()
    new: list[_Incoming] = []
    taken: dict[str, bytes] = {mid: bytes(row.signature) for mid, row in existing.items()}
    for item in batch:
        if isinstance(item, _Incoming) and item.message.id not in taken:
            new.append(item)
            taken[item.message.id] = item.signature
    known = _known(conn, room, [a for i in new for a in i.local])
    store.insert_messages(
        conn,
        room.crypto,
        [(i.message, i.signature, room.crypto.sign(i.document)) for i in new],
        now,
    )
    store.insert_deliveries(
        conn,
        [(i.message.id, a) for i in new for a in sorted(set(i.local) & known)],
        DeliveryState.delivered,
        now,
    )
    store.insert_deliveries(
        conn,
        [(i.message.id, a) for i in new for a in sorted(set(i.local) - known)],
        DeliveryState.failed,
        now,
        reason=f"no such agency on node {room.node}",
    )
    audit.append_many(
        conn,
        [
            {
                "actor": f"node:{partner_node}",
                "action": "message.receive",
                "target": i.message.id,
                "case_ref": i.message.case_ref,
                "details": {
                    "from": str(i.message.sender),
                    "to": [str(a) for a in i.local],
                    "handling": i.message.handling.value,
                    "priority": i.message.priority.value,
                },
            }
            for i in new
        ],
    )
    standing = store.deliveries(conn, ids)
    out: list[list[dict[str, Any]] | MessagingError] = []
    for item in batch:
        if isinstance(item, MessagingError):
            out.append(item)
        elif taken[item.message.id] != item.signature:
            out.append(Conflict("id", "message.id_reused", f"id: message {item.message.id} exists"))
        else:
            out.append(_receipts(room, item.message.id, standing[item.message.id]))
    return out


def accept_incoming(
    room: Mailroom, envelope: bytes, partner_node: str, partner_key: Ed25519PublicKey
) -> list[bytes]:
    """Store a message a partner node sent and deliver it to this node's recipients.

    Returns this node's signed receipts (delivered, or failed for an unknown agency). Accepting
    the same message again stores nothing and returns the receipts as they stand, so the
    partner's relay may retry freely."""
    incoming = _check_incoming(room, _parse(envelope, "message"), partner_node, partner_key)
    with room.engine.begin() as conn:
        (outcome,) = _store_incoming(conn, room, [incoming], partner_node)
    if isinstance(outcome, MessagingError):
        raise outcome
    return [_receipt(room, document) for document in outcome]


@dataclass(frozen=True)
class BatchAccepted:
    """A partner's batch as taken: per envelope, None or the error that refused it (the others
    are stored all the same), and the receipts for all of them under one signature."""

    refused: list[MessagingError | None]
    receipts: bytes


def accept_incoming_many(
    room: Mailroom,
    envelopes: Sequence[bytes | dict[str, Any]],
    partner_node: str,
    partner_key: Ed25519PublicKey,
) -> BatchAccepted:
    """``accept_incoming`` for a partner's batch, in one transaction."""
    checked: list[_Incoming | MessagingError] = []
    for envelope in envelopes:
        try:
            checked.append(
                _check_incoming(room, _parse(envelope, "message"), partner_node, partner_key)
            )
        except MessagingError as exc:
            checked.append(exc)
    with room.engine.begin() as conn:
        outcomes = _store_incoming(conn, room, checked, partner_node)
    documents = [d for o in outcomes if not isinstance(o, MessagingError) for d in o]
    return BatchAccepted(
        refused=[o if isinstance(o, MessagingError) else None for o in outcomes],
        receipts=receipt_list_bytes(room, documents),
    )


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
    except CryptoError as exc:
        raise IntegrityFailure(str(doc.get("message_id")), f"receipt {exc}") from exc
    return _receipt_of(room, doc, partner_node)


def _check_receipt_list(
    room: Mailroom, data: bytes, partner_node: str, partner_key: Ed25519PublicKey
) -> list[_Receipt | MessagingError]:
    """The receipts of a signed list, each checked as a single receipt is; the list is refused
    as a whole when its signature does not hold."""
    wire = _parse(data, "receipts")
    doc = wire["document"]
    signature = _unb64(wire.get("signature"), "signature")
    try:
        room.crypto.verify(doc, signature, partner_key)
    except CryptoError as exc:
        raise IntegrityFailure("receipts", f"receipt list {exc}") from exc
    items = doc.get("receipts")
    if doc.get("node") != partner_node or not isinstance(items, list):
        raise Invalid(
            "receipts", "receipt.format", f"receipts: not a list signed by {partner_node}"
        )
    out: list[_Receipt | MessagingError] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise Invalid("receipt", "receipt.format", "receipt: not an object")
            out.append(_receipt_of(room, item, partner_node))
        except MessagingError as exc:
            out.append(exc)
    return out


def _receipt_of(room: Mailroom, doc: dict[str, Any], partner_node: str) -> _Receipt:
    """A receipt document whose signature holds, checked for what it may say."""
    try:
        recipient = parse(str(doc["recipient"]), room.node, "recipient")
        state = DeliveryState(doc["state"])
        at = parse_iso(str(doc["at"]))
        mid = str(doc["message_id"])
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


def _transition(state: DeliveryState, row: Any, receipt: _Receipt) -> dict[str, Any]:
    """How a receipt moves a delivery now in ``state`` (nothing: it would move it backwards)."""
    if receipt.state == DeliveryState.failed:
        if PROGRESS.get(state, -1) < PROGRESS[DeliveryState.delivered]:
            return {"state": receipt.state.value, "reason": receipt.document.get("reason")}
        return {}
    if state != DeliveryState.failed and PROGRESS[receipt.state] <= PROGRESS[state]:
        return {}
    values: dict[str, Any] = {"state": receipt.state.value, "reason": None, "lease_until": None}
    values["sent_at"] = row.sent_at or receipt.at
    values["delivered_at"] = row.delivered_at or receipt.at
    if receipt.state == DeliveryState.acknowledged:
        values["acknowledged_at"] = receipt.at
        values["acknowledged_by"] = receipt.document.get("by")
    return values


def _unknown(mid: str) -> NotFound:
    return NotFound("message_id", "receipt.unknown", f"message_id: no delivery {mid}")


def apply_receipt(
    room: Mailroom, receipt: bytes, partner_node: str, partner_key: Ed25519PublicKey
) -> Delivery:
    """Move one of our deliveries forward on a partner's signed receipt (never backwards)."""
    checked = _check_receipt(room, receipt, partner_node, partner_key)
    (outcome,) = _apply(room, [checked])
    if outcome is not None:
        raise outcome
    with room.engine.connect() as conn:
        return next(
            x
            for x in store.deliveries(conn, [checked.message_id])[checked.message_id]
            if str(x.recipient) == str(checked.recipient)
        )


def apply_receipts(
    room: Mailroom, receipts: Sequence[bytes], partner_node: str, partner_key: Ed25519PublicKey
) -> list[MessagingError | None]:
    """``apply_receipt`` for many receipts in one transaction; per receipt, None when it was
    applied or the error that refused it."""
    checked: list[_Receipt | MessagingError] = []
    for receipt in receipts:
        try:
            checked.append(_check_receipt(room, receipt, partner_node, partner_key))
        except MessagingError as exc:
            checked.append(exc)
    return _apply(room, checked)


def apply_receipt_list(
    room: Mailroom, data: bytes, partner_node: str, partner_key: Ed25519PublicKey
) -> list[MessagingError | None]:
    """``apply_receipts`` for a signed list of receipts (``receipt_list_bytes``)."""
    return _apply(room, _check_receipt_list(room, data, partner_node, partner_key))


def _apply(
    room: Mailroom, checked: Sequence[_Receipt | MessagingError]
) -> list[MessagingError | None]:
    good = [c for c in checked if isinstance(c, _Receipt)]
    mids = sorted({c.message_id for c in good})
    d = message_deliveries.c
    out: list[MessagingError | None] = []
    with room.engine.begin() as conn:
        ours = set(
            conn.execute(
                select(messages.c.id).where(
                    messages.c.id.in_(mids), messages.c.origin_node == room.node
                )
            ).scalars()
        )
        rows = {
            (r.message_id, r.recipient): r
            for r in conn.execute(select(message_deliveries).where(d.message_id.in_(mids)))
        }
        states = {key: DeliveryState(r.state) for key, r in rows.items()}
        changes: dict[tuple[str, str], dict[str, Any]] = {}
        for item in checked:
            if isinstance(item, MessagingError):
                out.append(item)
                continue
            key = (item.message_id, str(item.recipient))
            if item.message_id not in ours or key not in rows:
                out.append(_unknown(item.message_id))
                continue
            values = _transition(states[key], rows[key], item)
            if values:
                changes[key] = changes.get(key, {}) | values
                states[key] = item.state
            out.append(None)
        # one statement per kind of change (delivered, acknowledged...), run for all its rows
        kinds: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for (mid, rcpt), values in changes.items():
            params = {"b_mid": mid, "b_rcpt": rcpt} | {f"v_{k}": v for k, v in values.items()}
            kinds.setdefault(tuple(sorted(values)), []).append(params)
        for columns, batch in kinds.items():
            conn.execute(
                update(message_deliveries)
                .where(d.message_id == bindparam("b_mid"), d.recipient == bindparam("b_rcpt"))
                .values({c: bindparam(f"v_{c}") for c in columns}),
                batch,
            )
    return out
