"""platform apps

Apps registered per platform instance (Mastodon), and what an OAuth state is bound to besides the organization and
user: the instance whose app the code is for, and the account or soul whose proxy the connection goes through.

Revision ID: b8d4f0a21c32
Revises: a7c3e9f10b21
Create Date: 2026-11-22 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import adapters.sql.types

revision: str = "b8d4f0a21c32"
down_revision: str | None = "a7c3e9f10b21"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_app",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("api_base", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("client_secret", sa.JSON(), nullable=False),
        sa.Column("scopes", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("redirect_uri", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("created_at", adapters.sql.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_app")),
        sa.UniqueConstraint("platform", "api_base", "redirect_uri", name="uq_platform_app_platform_api_base_redirect"),
    )
    with op.batch_alter_table("oauth_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_base", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True))
        batch_op.add_column(sa.Column("account_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
        batch_op.add_column(sa.Column("soul_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_state", schema=None) as batch_op:
        batch_op.drop_column("soul_id")
        batch_op.drop_column("account_id")
        batch_op.drop_column("api_base")
    op.drop_table("platform_app")
