"""The key index: every record's identifier and name keys, looked up by (kind, key).

The rows are their own index: the primary key (kind, key, record_id) answers a lookup from
the key alone, and SQLite stores the table as that one B-tree (WITHOUT ROWID). There is no
index by record: a record's keys are found by computing them from the record (``index``), and
an index of random record ids took most of a large import's time, each key landing on a page
of its own (revision 0006)."""

from __future__ import annotations

from sqlalchemy import Column, PrimaryKeyConstraint, String, Table

from polex.store.metadata import metadata

record_keys = Table(
    "record_keys",
    metadata,
    Column("record_id", String(40), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("key", String(255), nullable=False),
    PrimaryKeyConstraint("kind", "key", "record_id"),
    sqlite_with_rowid=False,
)
