"""Audit entries waiting to be chained, the chain itself, its head, and signed checkpoints."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text, text

from polex.store import db
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
# which serialises chainers across workers (SQLite serialises writers already). On SQLite also
# the reads file's identity and its last entry chained (see ``READS_PENDING``).
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("reads_file", String(32)),
    Column("reads_chained", BigInteger, nullable=False, server_default=text("0")),
)

# On SQLite, the entries of reading transactions (searches) wait in the reads file
# (``polex.store.db.reading``), in a table of ``audit_pending``'s columns. A transaction
# cannot commit both files at once, so ``chain`` never deletes what it chains in the same
# transaction: it records in the head the last id it chained, and ``prune_reads`` deletes
# the entries before that one in a transaction of its own. The last one chained stays, so
# that a new entry's id (the largest id plus one) is never one taken already (AUTOINCREMENT
# would ensure that too, at the cost of a second page written by every search). A new reads
# file, told apart by its identity (``polex.store.db.reads_identity``), starts from nothing
# chained.
READS_PENDING = f"""CREATE TABLE IF NOT EXISTS {db.READS_SCHEMA}.audit_pending (
    id INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    actor VARCHAR(160) NOT NULL,
    agency VARCHAR(32),
    action VARCHAR(48) NOT NULL,
    target VARCHAR(255),
    purpose TEXT,
    case_ref VARCHAR(128),
    details TEXT NOT NULL
)"""
db.READS_TABLES.append(READS_PENDING)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("hash", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
    Column("ts", Timestamp, nullable=False),
)
