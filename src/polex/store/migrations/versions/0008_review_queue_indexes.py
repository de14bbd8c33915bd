"""The review queues and the records due for review read by an index: each page of a queue
sorted every record of the owner (or of the node, for the compliance unit), a full scan of a
million records per page.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_records_status_updated", "records", ["status", "updated_at", "id"], unique=False
    )
    op.create_index("ix_records_review_at", "records", ["review_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_records_review_at", table_name="records")
    op.drop_index("ix_records_status_updated", table_name="records")
