"""Message rows in and out. Rows never leave this module: callers get Messages that have passed
the integrity check (seal verified, content decrypted), or an IntegrityFailure."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, insert, select

from polex.messaging.addresses import Address
from polex.messaging.crypto import CryptoError, NodeCrypto, canonical_bytes
from polex.messaging.errors import IntegrityFailure, NotFound
from polex.messaging.model import (
    AttachmentMeta,
    Delivery,
    DeliveryState,
    Message,
    Priority,
    aware,
)
from polex.messaging.tables import delivery_seq, message_deliveries, messages
from polex.model.envelope import Handling

# Built once: constructing a statement costs more than running it on the hot paths.
_INSERT_MESSAGE = insert(messages)
_INSERT_DELIVERIES = insert(message_deliveries)
_INSERT_DELIVERIES_SEQ = insert(message_deliveries).values(seq=delivery_seq.next_value())
_LAST_SEQ = select(func.coalesce(func.max(message_deliveries.c.seq), 0))
_BY_ID = select(messages).where(messages.c.id == bindparam("mid"))
_BY_IDS = select(messages).where(messages.c.id.in_(bindparam("ids", expanding=True)))
_DELIVERIES = (
    select(message_deliveries)
    .where(message_deliveries.c.message_id.in_(bindparam("ids", expanding=True)))
    .order_by(message_deliveries.c.message_id, message_deliveries.c.recipient)
)


def not_found(message_id: str) -> NotFound:
    return NotFound("message_id", "message.not_found", f"message {message_id} not found")


def _address(text: str) -> Address:
    agency, _, node = text.rpartition("@")
    return Address(agency=agency, node=node)


def _message_row(
    crypto: NodeCrypto, message: Message, signature: bytes, seal: bytes, now: datetime
) -> dict[str, Any]:
    content = canonical_bytes({"subject": message.subject, "body": message.body})
    nonce, ciphertext = crypto.encrypt(content, message.id.encode())
    return {
        "id": message.id,
        "thread_id": message.thread_id,
        "in_reply_to": message.in_reply_to,
        "forwarded_from": message.forwarded_from,
        "workspace_id": message.workspace_id,
        "origin_node": message.sender.node,
        "sender_agency": message.sender.agency,
        "sender_user": message.sender_user,
        "recipients": [str(a) for a in message.recipients],
        "case_ref": message.case_ref,
        "handling": message.handling.value,
        "priority": message.priority.value,
        "record_refs": list(message.records),
        "attachments": [a.document() for a in message.attachments],
        "passing_permitted": list(message.passing_permitted),
        "created_at": message.created_at,
        "nonce": nonce,
        "content": ciphertext,
        "signature": signature,
        "seal": seal,
        "stored_at": now,
    }


def insert_messages(
    conn: Connection,
    crypto: NodeCrypto,
    signed: Sequence[tuple[Message, bytes, bytes]],
    now: datetime,
) -> None:
    """Store messages with their origin signature and this node's seal: header columns in
    clear to query by, subject and body encrypted (associated data: the message id)."""
    if signed:
        conn.execute(
            _INSERT_MESSAGE, [_message_row(crypto, m, sig, seal, now) for m, sig, seal in signed]
        )


def decode(crypto: NodeCrypto, row: Row[Any]) -> Message:
    """The message a row holds, if this node's seal over it still holds."""
    message = unsealed(crypto, row)
    try:
        crypto.verify(message.document(), bytes(row.seal))
    except CryptoError as exc:
        raise IntegrityFailure(row.id, str(exc)) from exc
    return message


def unsealed(crypto: NodeCrypto, row: Row[Any]) -> Message:
    """The message a row holds, its seal unchecked: only for a copy that is about to be checked
    against the same signature by someone else (a message of this node, whose seal is its
    signature, exported to a partner node, which verifies that signature before storing)."""
    try:
        content = json.loads(crypto.decrypt(row.nonce, row.content, row.id.encode()))
        return Message(
            id=row.id,
            thread_id=row.thread_id,
            in_reply_to=row.in_reply_to,
            forwarded_from=row.forwarded_from,
            workspace_id=row.workspace_id,
            sender=Address(agency=row.sender_agency, node=row.origin_node),
            sender_user=row.sender_user,
            recipients=tuple(_address(a) for a in row.recipients),
            case_ref=row.case_ref,
            handling=Handling(row.handling),
            priority=Priority(row.priority),
            subject=content["subject"],
            body=content["body"],
            records=tuple(row.record_refs),
            attachments=tuple(AttachmentMeta.of(a) for a in row.attachments),
            passing_permitted=tuple(row.passing_permitted),
            created_at=aware(row.created_at),
        )
    except CryptoError as exc:
        raise IntegrityFailure(row.id, str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityFailure(row.id, f"stored message is malformed ({exc})") from exc


def get_row(conn: Connection, message_id: str) -> Row[Any] | None:
    return conn.execute(_BY_ID, {"mid": message_id}).first()


def get_rows(conn: Connection, ids: Sequence[str]) -> dict[str, Row[Any]]:
    if not ids:
        return {}
    return {r.id: r for r in conn.execute(_BY_IDS, {"ids": list(ids)})}


def load(conn: Connection, crypto: NodeCrypto, message_id: str) -> Message:
    row = get_row(conn, message_id)
    if row is None:
        raise not_found(message_id)
    return decode(crypto, row)


def insert_deliveries(
    conn: Connection,
    deliveries: Iterable[tuple[str, Address]],
    state: DeliveryState,
    now: datetime,
    reason: str | None = None,
) -> None:
    """One row per (message id, recipient), numbered in the order given: the outbox entry the
    delivery worker moves on."""
    delivered = now if state == DeliveryState.delivered else None
    rows = [
        {
            "message_id": mid,
            "recipient": str(a),
            "agency": a.agency,
            "node": a.node,
            "state": state.value,
            "reason": reason,
            "attempts": 0,
            "queued_at": now,
            "sent_at": delivered,
            "delivered_at": delivered,
        }
        for mid, a in deliveries
    ]
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        last = conn.execute(_LAST_SEQ).scalar_one()
        for n, row in enumerate(rows, start=last + 1):
            row["seq"] = n
        conn.execute(_INSERT_DELIVERIES, rows)
    else:
        conn.execute(_INSERT_DELIVERIES_SEQ, rows)


def _maybe(ts: datetime | None) -> datetime | None:
    return aware(ts) if ts is not None else None


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        recipient=Address(agency=row.agency, node=row.node),
        state=DeliveryState(row.state),
        reason=row.reason,
        queued_at=aware(row.queued_at),
        sent_at=_maybe(row.sent_at),
        delivered_at=_maybe(row.delivered_at),
        acknowledged_at=_maybe(row.acknowledged_at),
        acknowledged_by=row.acknowledged_by,
    )


def deliveries(conn: Connection, ids: Iterable[str]) -> dict[str, list[Delivery]]:
    ids = list(ids)
    found: dict[str, list[Delivery]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = conn.execute(_DELIVERIES, {"ids": ids}).all()
    for r in rows:
        found[r.message_id].append(_delivery(r))
    return found
