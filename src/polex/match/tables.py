"""Hits between two records, the queue of records still to match, agency notifications, and
the trained batch models."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String, Table, Text, UniqueConstraint

from polex.store.metadata import Json, Timestamp, metadata

hits = Table(
    "hits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # the pair is stored in id order, so a pair has one hit whichever side came first
    Column("record_a", String(40), nullable=False),
    Column("record_b", String(40), nullable=False),
    Column("owner_a", String(64), nullable=False),
    Column("owner_b", String(64), nullable=False),
    Column("node_a", String(64), nullable=False),
    Column("node_b", String(64), nullable=False),
    Column("database_a", String(32), nullable=False),
    Column("database_b", String(32), nullable=False),
    Column("score", Float, nullable=False),
    Column("explanation", Json, nullable=False),
    Column("method", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("colour", String(8), nullable=False),
    Column("comment", Text),
    Column("decided_by", String(160)),
    Column("decided_at", Timestamp),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("record_a", "record_b", name="uq_hits_pair"),
    Index("ix_hits_owner_a", "owner_a", "status"),
    Index("ix_hits_owner_b", "owner_b", "status"),
    Index("ix_hits_record_b", "record_b"),  # a record's hits: record_a leads the pair key
)

# Drained oldest first, a batch at a time (``crossmatch.drain``), by the index: without it each
# batch sorted the whole queue, under SQLite's write lock, which a million imported records
# then held for half a second per batch of fifty (revision 0007).
match_queue = Table(
    "match_queue",
    metadata,
    Column("record_id", String(40), primary_key=True),
    Column("queued_at", Timestamp, nullable=False),
    Index("ix_match_queue_queued_at", "queued_at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agency", String(64), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("hit_id", Integer),
    Column("text", Text, nullable=False),
    Column("details", Json, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("read_at", Timestamp),
)

# Trained batch models, one row per version: the analyst sees what each hit was scored by.
match_models = Table(
    "match_models",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("created_at", Timestamp, nullable=False),
    Column("created_by", String(160), nullable=False),
    Column("trained_on", Integer, nullable=False),
    Column("scope", Json, nullable=False),
    Column("settings", Json, nullable=False),
    Column("metrics", Json, nullable=False),
    Column("chart", Json, nullable=False),
)
