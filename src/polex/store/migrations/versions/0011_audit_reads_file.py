"""On SQLite, searches write their audit entries to the reads file beside the database: the
chain head records which reads file it chains from and the last entry of it chained.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("audit_head", sa.Column("reads_file", sa.String(length=32), nullable=True))
    op.add_column(
        "audit_head",
        sa.Column("reads_chained", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("reads_chained")
        batch.drop_column("reads_file")
