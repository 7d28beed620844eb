"""warming

Revision ID: a3c9e5f76b87
Revises: f2b8d4e65a76
Create Date: 2026-11-22 11:00:00
"""

from collections.abc import Sequence

revision: str = "a3c9e5f76b87"
down_revision: str | None = "f2b8d4e65a76"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
