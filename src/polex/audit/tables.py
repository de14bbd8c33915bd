"""Audit entries waiting to be chained, the chain itself, its head, and signed checkpoints."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from polex.store.metadata import Json, Timestamp, metadata


def _what_happened() -> list[Column[Any]]:
    """The columns an entry has before and after it is chained (new objects for each table)."""
    return [
        Column("ts", Timestamp, nullable=False),
        Column("actor", String(160), nullable=False),
        Column("agency", String(32)),
        Column("action", String(48), nullable=False),
        Column("target", String(255)),
        Column("purpose", Text),
        Column("case_ref", String(128)),
    ]


audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    *_what_happened(),
    Column("details", Json, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_actor_ts", "actor", "ts"),
    Index("ix_audit_action_ts", "action", "ts"),
    # the DPO's reports over a period of every action (accesses per user and agency)
    Index("ix_audit_ts", "ts"),
)

# Written by the action's own transaction, one row per entry and no index to maintain: the
# action pays for one insert. ``chain`` moves committed rows into the chain in batches.
audit_pending = Table(
    "audit_pending",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    *_what_happened(),
    Column("details", Text, nullable=False),
)

# One row: the last sequence number and hash. Updating it takes a row lock on PostgreSQL,
# which serialises chainers across workers (SQLite serialises writers already).
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

# On SQLite, the entries of reading transactions (searches) are lines in the journal's
# segments beside the database (``polex.store.journal``), which cannot commit with the
# database: the bytes of each segment chained so far are recorded here, in the transaction
# that chains them, so a crash either side of that commit neither loses nor repeats one.
audit_journal = Table(
    "audit_journal",
    metadata,
    Column("segment", String(80), primary_key=True),
    Column("chained", BigInteger, nullable=False),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("ts", Timestamp, nullable=False),
)
