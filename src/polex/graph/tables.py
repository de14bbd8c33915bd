"""The reference index: which source ids each record's entity points at, by property.

References are kept as the owner's source ids, not resolved record ids, because an export
lists an edge (a Membership) as readily before its ends as after them; they resolve at read
time within the owner's records, where FtM ids are meant to be unique."""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from polex.store.metadata import metadata

record_refs = Table(
    "record_refs",
    metadata,
    Column("record_id", String(40), primary_key=True),
    Column("property", String(64), primary_key=True),
    Column("ref", String(255), primary_key=True),
    Column("owner", String(32), nullable=False),
    Index("ix_record_refs_target", "owner", "ref"),
)
