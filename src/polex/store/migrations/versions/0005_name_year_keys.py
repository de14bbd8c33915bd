"""Keys made again, now with ("year", "skel|yyyy") keys: each name part's key with each birth
year. A record indexed before lacks them, and a query giving an initial or a common name with
a year of birth would not find it among its thousands of namesakes.

The keys come from the search code itself, not from a copy here: a record must be found by the
keys that code looks up.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from alembic import op

from polex.search import index

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index.rebuild(op.get_bind())


def downgrade() -> None:
    """The older keys are a subset of these: nothing to undo."""
