"""Tables for the node's own data: agencies, records and their versions."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from polex.store.metadata import Json, Timestamp, metadata

agencies = Table(
    "agencies",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("country", String(2), nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

records = Table(
    "records",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("source_id", String(255), nullable=False),
    Column("database", String(32), nullable=False),
    Column("schema", String(64), nullable=False),
    Column("owner", String(32), ForeignKey("agencies.code"), nullable=False),
    Column("caption", String(512), nullable=False),
    Column("handling", String(2), nullable=False),
    Column("reliability", String(1), nullable=False),
    Column("accuracy", String(1), nullable=False),
    Column("subject_category", String(32)),
    Column("notice_type", String(16)),
    Column("status", String(16), nullable=False),
    Column("review_at", Date),
    Column("case_ref", String(128), index=True),
    Column("provenance", String(512)),
    Column("restrictions", Json, nullable=False),
    Column("properties", Json, nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("deleted_reason", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("owner", "database", "source_id", name="uq_records_source"),
    Index("ix_records_database_owner", "database", "owner"),
    # The review queues, oldest first, and the records due for review: without them each page
    # of a queue sorted every record of the owner, or of the node (revision 0008).
    Index("ix_records_status_updated", "status", "updated_at", "id"),
    Index("ix_records_review_at", "review_at"),
    # An agency's own records, newest first, a page at a time, and how many there are: without
    # it each page sorted every live record of the agency, a million for a national bureau
    # (revision 0010).
    Index("ix_records_owner_listing", "owner", "deleted", "updated_at", "id"),
)

record_versions = Table(
    "record_versions",
    metadata,
    Column("record_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("actor", String(128), nullable=False),
    Column("reason", Text),
    Column("tombstone", Boolean, nullable=False, default=False),
    Column("snapshot", Json, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)
