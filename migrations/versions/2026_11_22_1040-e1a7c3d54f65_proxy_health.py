"""proxy health

Revision ID: e1a7c3d54f65
Revises: d0f6b2c43e54
Create Date: 2026-11-22 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e1a7c3d54f65"
down_revision: str | None = "d0f6b2c43e54"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Whether the account's proxy is failed: kept by the stores from the proxy's health checks.
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proxy_failed", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Accounts already on a proxy whose last check failed start flagged.
    op.execute(
        "UPDATE account SET proxy_failed = TRUE WHERE proxy_id IN (SELECT id FROM proxy WHERE health_status = 'failed')"
    )


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("proxy_failed")
