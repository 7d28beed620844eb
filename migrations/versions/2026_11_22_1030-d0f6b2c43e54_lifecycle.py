"""lifecycle

Revision ID: d0f6b2c43e54
Revises: c9e5a1b32d43
Create Date: 2026-11-22 10:30:00
"""

from collections.abc import Sequence

revision: str = "d0f6b2c43e54"
down_revision: str | None = "c9e5a1b32d43"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
