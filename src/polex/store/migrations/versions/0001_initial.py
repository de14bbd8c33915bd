"""Initial schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

from polex.store.db import load_tables
from polex.store.metadata import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    load_tables()
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
