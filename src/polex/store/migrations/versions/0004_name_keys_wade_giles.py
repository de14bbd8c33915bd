"""Name keys made again: a name part that reads as Wade-Giles is also keyed by its pinyin
(Hsiung as Xiong, Chieh as Jie), German "dsch" as j (Radschab, Rajab), a "zh" inside a word
also as z then h (Azhiman, ازحيمان), and in a Cyrillic name г also as h (Тригуб: Tryhub). A
record indexed before lacks those keys, and a query spelled the other way would not find it.

The keys come from the search code itself, not from a copy here: a record must be found by the
keys that code looks up.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from alembic import op

from polex.search import index

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    index.rebuild(op.get_bind())


def downgrade() -> None:
    """The older keys are a subset of these: nothing to undo."""
