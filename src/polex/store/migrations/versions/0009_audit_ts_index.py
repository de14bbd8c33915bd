"""The DPO's report of accesses over a period reads that period's entries by an index: it
read the whole trail, which at a thousand searches a second grows by tens of millions of
entries a year, for a report of one month.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_ts", "audit_log", ["ts"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_audit_ts", table_name="audit_log")
