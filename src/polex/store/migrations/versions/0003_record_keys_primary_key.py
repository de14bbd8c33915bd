"""record_keys keyed by (kind, key, record_id), on SQLite WITHOUT ROWID: the primary key
replaces the lookup index, so each key written updates two B-trees instead of three.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column[str]]:
    return [
        sa.Column("record_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "record_keys_keyed",
        *_columns(),
        sa.PrimaryKeyConstraint("kind", "key", "record_id", name="pk_record_keys"),
        sqlite_with_rowid=False,
    )
    # DISTINCT: keys alike in their first 255 characters were two rows until now
    op.execute(
        'INSERT INTO record_keys_keyed (record_id, kind, "key") '
        'SELECT DISTINCT record_id, kind, "key" FROM record_keys'
    )
    op.drop_index("ix_record_keys_record", table_name="record_keys")
    op.drop_index("ix_record_keys_lookup", table_name="record_keys")
    op.drop_table("record_keys")
    op.rename_table("record_keys_keyed", "record_keys")
    op.create_index("ix_record_keys_record", "record_keys", ["record_id"], unique=False)


def downgrade() -> None:
    op.create_table("record_keys_rows", *_columns())
    op.execute(
        'INSERT INTO record_keys_rows (record_id, kind, "key") '
        'SELECT record_id, kind, "key" FROM record_keys'
    )
    op.drop_index("ix_record_keys_record", table_name="record_keys")
    op.drop_table("record_keys")
    op.rename_table("record_keys_rows", "record_keys")
    op.create_index("ix_record_keys_lookup", "record_keys", ["kind", "key"], unique=False)
    op.create_index("ix_record_keys_record", "record_keys", ["record_id"], unique=False)
