"""An agency's records are listed, newest first, a page at a time, by an index: each page of
`GET /api/v1/records` and of the web app's record list sorted every live record of the agency
(40 ms a page at 100,000 records), and counting them read every one of them.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_records_owner_listing",
        "records",
        ["owner", "deleted", "updated_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_records_owner_listing", table_name="records")
