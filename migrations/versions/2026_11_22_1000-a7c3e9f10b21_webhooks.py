"""webhooks

Revision ID: a7c3e9f10b21
Revises: 437212e63923
Create Date: 2026-11-22 10:00:00
"""

from collections.abc import Sequence

revision: str = "a7c3e9f10b21"
down_revision: str | None = "437212e63923"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
