"""Messages as senders write them and readers get them, and the document a node signs.

A message is immutable once sent: everything a reader relies on (who sent it to whom, handling,
priority, subject, body, referenced records, attachment hashes) is in the signed document, so a
change to any of it is detected. Delivery state lives beside it, per recipient, and changes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from polex.messaging.addresses import Address, parse
from polex.messaging.errors import Invalid
from polex.model.envelope import Handling

DOCUMENT_VERSION = 1


class Priority(StrEnum):
    routine = "routine"
    urgent = "urgent"
    immediate = "immediate"


class DeliveryState(StrEnum):
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    acknowledged = "acknowledged"
    failed = "failed"


# How far a delivery has come; a receipt never moves a delivery backwards.
PROGRESS = {
    DeliveryState.queued: 0,
    DeliveryState.sent: 1,
    DeliveryState.delivered: 2,
    DeliveryState.acknowledged: 3,
}
IN_INBOX = (DeliveryState.delivered, DeliveryState.acknowledged)


class Draft(BaseModel):
    """A message as its sender supplies it; the node adds sender, time and signature."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        default=None, description="UUID chosen by the sender: resending the same id is a no-op."
    )
    to: list[str] = Field(default_factory=list, max_length=200)
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(default="", max_length=1_000_000)
    handling: Handling = Handling.H0
    priority: Priority = Priority.routine
    case_ref: str | None = Field(default=None, max_length=128)
    in_reply_to: str | None = None
    workspace_id: str | None = None
    records: list[str] = Field(default_factory=list, max_length=200)
    attachments: list[str] = Field(
        default_factory=list, max_length=50, description="ids of uploaded attachments"
    )
    passing_permitted: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="agencies the sender permits to pass an H2 message on",
    )


def message_id(value: str | None, field: str = "id") -> str:
    """The canonical form of a message id (a UUID); a fresh one when none is given."""
    if value is None:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise Invalid(field, "message.id_uuid", f"{field}: {value!r} is not a UUID") from exc


def iso(ts: datetime) -> str:
    """UTC, microseconds, one spelling: what both backends hand back signs the same way."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC)
    return ts.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def aware(ts: datetime) -> datetime:
    """SQLite hands back naive datetimes for timezone-aware columns; they were stored in UTC."""
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=UTC)


@dataclass(frozen=True)
class AttachmentMeta:
    sha256: str
    filename: str
    content_type: str  # sniffed from the content, never the client's word
    declared_type: str | None
    size: int

    def document(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "filename": self.filename,
            "content_type": self.content_type,
            "declared_type": self.declared_type,
            "size": self.size,
        }

    @classmethod
    def of(cls, data: dict[str, Any]) -> AttachmentMeta:
        return cls(
            sha256=str(data["sha256"]),
            filename=str(data["filename"]),
            content_type=str(data["content_type"]),
            declared_type=data.get("declared_type"),
            size=int(data["size"]),
        )


@dataclass(frozen=True)
class Message:
    """A message whose signature has been checked and whose content has been decrypted."""

    id: str
    thread_id: str
    sender: Address
    sender_user: str
    recipients: tuple[Address, ...]
    handling: Handling
    priority: Priority
    subject: str
    body: str
    created_at: datetime
    case_ref: str | None = None
    in_reply_to: str | None = None
    forwarded_from: str | None = None
    workspace_id: str | None = None
    records: tuple[str, ...] = ()
    attachments: tuple[AttachmentMeta, ...] = ()
    passing_permitted: tuple[str, ...] = ()

    @property
    def origin_node(self) -> str:
        return self.sender.node

    def document(self) -> dict[str, Any]:
        """What the sending node signs; canonical JSON of this is the signed byte string."""
        return {
            "v": DOCUMENT_VERSION,
            "id": self.id,
            "thread_id": self.thread_id,
            "in_reply_to": self.in_reply_to,
            "forwarded_from": self.forwarded_from,
            "workspace_id": self.workspace_id,
            "from": str(self.sender),
            "sender_user": self.sender_user,
            "to": [str(a) for a in self.recipients],
            "case_ref": self.case_ref,
            "handling": self.handling.value,
            "priority": self.priority.value,
            "subject": self.subject,
            "body": self.body,
            "records": list(self.records),
            "attachments": [a.document() for a in self.attachments],
            "passing_permitted": list(self.passing_permitted),
            "created_at": iso(self.created_at),
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any], local_node: str) -> Message:
        """Rebuild a message from a partner's signed document (shape checked, not trusted)."""
        try:
            if doc["v"] != DOCUMENT_VERSION:
                raise ValueError(f"document version {doc['v']} is not supported")
            return cls(
                id=message_id(doc["id"]),
                thread_id=message_id(doc["thread_id"], "thread_id"),
                in_reply_to=doc.get("in_reply_to"),
                forwarded_from=doc.get("forwarded_from"),
                workspace_id=doc.get("workspace_id"),
                sender=parse(doc["from"], local_node, "from"),
                sender_user=str(doc["sender_user"]),
                recipients=tuple(parse(a, local_node) for a in doc["to"]),
                case_ref=doc.get("case_ref"),
                handling=Handling(doc["handling"]),
                priority=Priority(doc["priority"]),
                subject=str(doc["subject"]),
                body=str(doc["body"]),
                records=tuple(str(r) for r in doc["records"]),
                attachments=tuple(AttachmentMeta.of(a) for a in doc["attachments"]),
                passing_permitted=tuple(str(p) for p in doc["passing_permitted"]),
                created_at=parse_iso(doc["created_at"]),
            )
        except Invalid:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise Invalid(
                "envelope", "envelope.format", f"envelope: not a polex message ({exc})"
            ) from exc


@dataclass(frozen=True)
class Delivery:
    """One recipient's copy: how far it has come, and the receipts that moved it."""

    recipient: Address
    state: DeliveryState
    reason: str | None
    queued_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None


def overall_state(states: list[DeliveryState]) -> DeliveryState:
    """The sender's one-word summary: failed if any recipient failed, else the least advanced."""
    if not states:
        return DeliveryState.queued
    if DeliveryState.failed in states:
        return DeliveryState.failed
    return min(states, key=PROGRESS.__getitem__)
