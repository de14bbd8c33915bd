"""The key index: every record's identifier and name keys, looked up by (kind, key)."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from polex.store.metadata import metadata

record_keys = Table(
    "record_keys",
    metadata,
    Column("record_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("key", String(255), nullable=False),
    Index("ix_record_keys_lookup", "kind", "key"),
    Index("ix_record_keys_record", "record_id"),
)
