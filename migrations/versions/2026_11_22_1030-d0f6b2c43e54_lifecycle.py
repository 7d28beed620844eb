"""lifecycle

When an organization's deletion started (the API answers 410 from then on). A soul's `deleting` status is a new value
of its existing string column: no change there.

Revision ID: d0f6b2c43e54
Revises: c9e5a1b32d43
Create Date: 2026-11-22 10:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import adapters.sql.types

revision: str = "d0f6b2c43e54"
down_revision: str | None = "c9e5a1b32d43"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deletion_started_at", adapters.sql.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("deletion_started_at")
