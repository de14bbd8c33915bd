"""The match queue and the federation offer queue read oldest first by an index: each batch
sorted the whole queue before, on SQLite under the write lock, which after an import of a
million records every server worker's drain then held for half a second per batch.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_match_queue_queued_at", "match_queue", ["queued_at"], unique=False)
    op.create_index(
        "ix_federation_offer_queue_oldest",
        "federation_offer_queue",
        ["node", "queued_at", "record_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_federation_offer_queue_oldest", table_name="federation_offer_queue")
    op.drop_index("ix_match_queue_queued_at", table_name="match_queue")
