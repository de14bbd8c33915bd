"""The key index: every record's identifier and name keys, looked up by (kind, key).

The rows are their own index: the primary key (kind, key, record_id) answers a lookup from
the key alone, and SQLite stores the table as that one B-tree (WITHOUT ROWID) instead of a
table beside a lookup index, so writing a key writes two B-trees (with the record's), not
three."""

from __future__ import annotations

from sqlalchemy import Column, Index, PrimaryKeyConstraint, String, Table

from polex.store.metadata import metadata

record_keys = Table(
    "record_keys",
    metadata,
    Column("record_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("key", String(255), nullable=False),
    PrimaryKeyConstraint("kind", "key", "record_id"),
    Index("ix_record_keys_record", "record_id"),
    sqlite_with_rowid=False,
)
