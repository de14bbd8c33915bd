"""record_keys without its index by record id: a record's keys are computed from the record
when it changes or leaves (``polex.search.index``), and inserting keys of random record ids
into that index was most of a large import's time (at a million persons, 164 of the 255 us
the importing process spent per record).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_record_keys_record", table_name="record_keys")


def downgrade() -> None:
    op.create_index("ix_record_keys_record", "record_keys", ["record_id"], unique=False)
