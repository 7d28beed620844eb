"""refresh in flight

Revision ID: c9e5a1b32d43
Revises: b8d4f0a21c32
Create Date: 2026-11-22 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import adapters.sql.types

revision: str = "c9e5a1b32d43"
down_revision: str | None = "b8d4f0a21c32"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("integration", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refresh_in_flight_at", adapters.sql.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("refresh_in_flight_fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("integration", schema=None) as batch_op:
        batch_op.drop_column("refresh_in_flight_fingerprint")
        batch_op.drop_column("refresh_in_flight_at")
