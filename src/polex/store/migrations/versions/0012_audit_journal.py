"""On SQLite, searches append their audit entries to the journal beside the database
(`polex.db-appends/`, one segment per process) instead of inserting them into the reads file
(`polex.db-reads`): the bytes chained of each segment are kept in `audit_journal`. Entries
still waiting in a reads file are moved into `audit_pending`, where chaining takes them as any
other; the reads file is then no longer used and may be deleted.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_COLUMNS = "ts, actor, agency, action, target, purpose, case_ref, details"


def upgrade() -> None:
    op.create_table(
        "audit_journal",
        sa.Column("segment", sa.String(length=80), nullable=False),
        sa.Column("chained", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("segment", name=op.f("pk_audit_journal")),
    )
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.engine.url.database:
        _move_waiting_entries(bind, Path(bind.engine.url.database + "-reads"))
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("reads_chained")
        batch.drop_column("reads_file")


def _move_waiting_entries(bind: sa.Connection, reads: Path) -> None:
    """The reads file's entries after the last one chained from it (all of them if the head
    names another file: it has chained nothing from this one)."""
    if not reads.exists():
        return
    head = bind.execute(sa.text("SELECT reads_file, reads_chained FROM audit_head")).first()
    source = sqlite3.connect(reads)
    try:
        identity = source.execute("SELECT id FROM identity").fetchone()
        after = head.reads_chained if head and identity and head.reads_file == identity[0] else 0
        rows = source.execute(
            f"SELECT {_COLUMNS} FROM audit_pending WHERE id > ? ORDER BY id", (after,)
        ).fetchall()
    except sqlite3.OperationalError:  # a reads file no search wrote to
        return
    finally:
        source.close()
    names = [c.strip() for c in _COLUMNS.split(",")]
    values = ", ".join(":" + n for n in names)
    if rows:
        bind.execute(
            sa.text(f"INSERT INTO audit_pending ({_COLUMNS}) VALUES ({values})"),
            [dict(zip(names, row, strict=True)) for row in rows],
        )


def downgrade() -> None:
    op.add_column("audit_head", sa.Column("reads_file", sa.String(length=32), nullable=True))
    op.add_column(
        "audit_head",
        sa.Column("reads_chained", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.drop_table("audit_journal")
