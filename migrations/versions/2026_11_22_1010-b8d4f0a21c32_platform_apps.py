"""platform apps

Revision ID: b8d4f0a21c32
Revises: a7c3e9f10b21
Create Date: 2026-11-22 10:10:00
"""

from collections.abc import Sequence

revision: str = "b8d4f0a21c32"
down_revision: str | None = "a7c3e9f10b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
