"""Messages, per-recipient deliveries (the durable outbox and inbox), outgoing receipts,
uploaded attachments and case workspaces.

Subject and body are stored only encrypted (``nonce`` + ``content``); the header columns are
there to query by, and every read checks them against the node's seal."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Sequence,
    String,
    Table,
    Text,
)

from polex.store.metadata import Json, Timestamp, metadata

messages = Table(
    "messages",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("thread_id", String(36), nullable=False, index=True),
    Column("in_reply_to", String(36)),
    Column("forwarded_from", String(36)),
    Column("workspace_id", String(36), index=True),
    Column("origin_node", String(64), nullable=False),
    Column("sender_agency", String(32), nullable=False),
    Column("sender_user", String(64), nullable=False),
    Column("recipients", Json, nullable=False),
    Column("case_ref", String(128), index=True),
    Column("handling", String(2), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("record_refs", Json, nullable=False),
    Column("attachments", Json, nullable=False),
    Column("passing_permitted", Json, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("nonce", LargeBinary(12), nullable=False),
    Column("content", LargeBinary, nullable=False),
    # the origin node's signature, kept to pass on and to prove where the message came from
    Column("signature", LargeBinary(64), nullable=False),
    # this node's signature over the same document, checked on every read
    Column("seal", LargeBinary(64), nullable=False),
    Column("stored_at", Timestamp, nullable=False),
    Index("ix_messages_sender_created", "origin_node", "sender_agency", "created_at"),
)

# PostgreSQL numbers deliveries from a sequence; SQLite, whose writers take the database lock
# at BEGIN, from the highest number so far (messaging.store.insert_deliveries).
delivery_seq = Sequence("message_deliveries_seq", metadata=metadata)

message_deliveries = Table(
    "message_deliveries",
    metadata,
    Column("message_id", String(36), ForeignKey("messages.id"), primary_key=True),
    Column("recipient", String(100), primary_key=True),
    Column("agency", String(32), nullable=False),
    Column("node", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("reason", Text),
    Column("attempts", Integer, nullable=False, default=0),
    # a relay worker's claim on a remote delivery; expired leases are claimed again
    Column("lease_until", Timestamp),
    Column("queued_at", Timestamp, nullable=False),
    # the outbox (and inbox) order: rows numbered as they are written, so that a partner's
    # queue goes out, and arrives, in the order its messages were sent (not by timestamp,
    # which ties within a batch and can step back with the clock)
    Column("seq", BigInteger, nullable=False),
    Column("sent_at", Timestamp),
    Column("delivered_at", Timestamp),
    Column("acknowledged_at", Timestamp),
    Column("acknowledged_by", String(160)),
    Index("ix_message_deliveries_work", "state", "node", "queued_at"),
    Index("ix_message_deliveries_seq", "state", "seq"),
    Index("ix_message_deliveries_inbox", "agency", "node", "state"),
)

# Receipts this node owes partner nodes for the messages they sent here (queued -> sent).
message_receipts = Table(
    "message_receipts",
    metadata,
    Column("message_id", String(36), ForeignKey("messages.id"), primary_key=True),
    Column("recipient", String(100), primary_key=True),
    Column("state", String(16), primary_key=True),
    Column("node", String(64), nullable=False),
    Column("document", Json, nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("outbox_state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_until", Timestamp),
    Column("created_at", Timestamp, nullable=False),
    Column("sent_at", Timestamp),
    Index("ix_message_receipts_work", "outbox_state", "node"),
)

# Uploaded files waiting to be attached (and the record of who uploaded what).
message_attachments = Table(
    "message_attachments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("declared_type", String(127)),
    Column("size", BigInteger, nullable=False),
    Column("agency", String(32), nullable=False),
    Column("uploaded_by", String(160), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("case_ref", String(128), index=True),
    Column("owner_agency", String(32), nullable=False),
    Column("created_by", String(160), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

workspace_members = Table(
    "workspace_members",
    metadata,
    Column("workspace_id", String(36), ForeignKey("workspaces.id"), primary_key=True),
    Column("member", String(100), primary_key=True),
    Column("agency", String(32), nullable=False, index=True),
    Column("node", String(64), nullable=False),
    Column("invited_by", String(160), nullable=False),
    Column("invited_at", Timestamp, nullable=False),
)

workspace_records = Table(
    "workspace_records",
    metadata,
    Column("workspace_id", String(36), ForeignKey("workspaces.id"), primary_key=True),
    Column("record_id", String(40), primary_key=True),
    Column("added_by", String(160), nullable=False),
    Column("added_at", Timestamp, nullable=False),
)
