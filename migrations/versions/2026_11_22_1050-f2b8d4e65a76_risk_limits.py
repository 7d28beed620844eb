"""risk limits

Revision ID: f2b8d4e65a76
Revises: e1a7c3d54f65
Create Date: 2026-11-22 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from adapters.sql.types import UTCDateTime

revision: str = "f2b8d4e65a76"
down_revision: str | None = "e1a7c3d54f65"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("daily_post_limit", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("cooldown_until", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("cooldown_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("warning_count", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(sa.Column("over_limit_policy", sa.String(length=8), nullable=False, server_default="wait"))
    # The publish activity counts an account's deliveries of the day while it claims one.
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_account_state", ["account_id", "state", "published_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index("ix_delivery_account_state")
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_column("over_limit_policy")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("warning_count")
        batch_op.drop_column("cooldown_reason")
        batch_op.drop_column("cooldown_until")
        batch_op.drop_column("daily_post_limit")
