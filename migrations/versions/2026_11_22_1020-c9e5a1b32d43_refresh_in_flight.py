"""refresh in flight

Revision ID: c9e5a1b32d43
Revises: b8d4f0a21c32
Create Date: 2026-11-22 10:20:00
"""

from collections.abc import Sequence

revision: str = "c9e5a1b32d43"
down_revision: str | None = "b8d4f0a21c32"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
