"""proxy health

Revision ID: e1a7c3d54f65
Revises: d0f6b2c43e54
Create Date: 2026-11-22 10:40:00
"""

from collections.abc import Sequence

revision: str = "e1a7c3d54f65"
down_revision: str | None = "d0f6b2c43e54"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
