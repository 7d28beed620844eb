"""promote_mapping: a mapping's promotion to primary in one call on PostgreSQL

Setting a primary locks the soul's mappings on that platform (in id order, so two promotions take turns instead of
deadlocking), demotes the other primary and promotes the mapping. Each statement of a plpgsql function takes a fresh
snapshot, so the demotion sees a promotion that committed while this one waited for the lock: the same steps as a
client-side transaction, in one round trip instead of five. SQLite runs the steps in place (no round trips to save).

Revision ID: b4d0f6a87c98
Revises: a3c9e5f76b87
Create Date: 2026-11-23 04:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b4d0f6a87c98"
down_revision: str | None = "a3c9e5f76b87"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FUNCTION = """
CREATE FUNCTION promote_mapping(p_id varchar, p_organization_id varchar, p_at timestamptz)
RETURNS SETOF soul_integration_mapping
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    target soul_integration_mapping%ROWTYPE;
BEGIN
    SELECT * INTO target FROM soul_integration_mapping WHERE id = p_id AND organization_id = p_organization_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM 1 FROM soul_integration_mapping
        WHERE organization_id = p_organization_id AND soul_id = target.soul_id AND platform = target.platform
        ORDER BY id FOR UPDATE;
    UPDATE soul_integration_mapping SET is_primary = false
        WHERE organization_id = p_organization_id AND soul_id = target.soul_id AND platform = target.platform
        AND is_primary AND id <> p_id;
    RETURN QUERY UPDATE soul_integration_mapping SET is_primary = true, updated_at = p_at
        WHERE id = p_id AND organization_id = p_organization_id RETURNING *;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION promote_mapping(varchar, varchar, timestamptz)")
