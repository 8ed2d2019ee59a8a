"""Tags on instances, commands, invocations and activations; invocations by selector.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of scheduler.store.tables.DELETE_TAGS_FUNCTION and delete_tags_trigger.
_DELETE_TAGS_FUNCTION = """
CREATE FUNCTION delete_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tags USING gone
    WHERE tags.account_id = gone.account_id AND tags.region_id = gone.region_id
      AND tags.resource_type = TG_ARGV[0] AND tags.resource_id = gone.id;
    RETURN NULL;
END $$
"""
_TAGGED = {
    "instances": "instance",
    "commands": "command",
    "invocations": "invocation",
    "activations": "activation",
}


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("invocations", sa.Column("resource_tags", JSONB(), nullable=True))
    op.create_table(
        "tags",
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region_id", sa.String(64), nullable=False),
        sa.Column("resource_type", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.CheckConstraint("char_length(key) >= 1", name=op.f("ck_tags_key_not_empty")),
        sa.CheckConstraint(
            "source = 'api' OR resource_type = 'instance'",
            name=op.f("ck_tags_reported_by_instances_only"),
        ),
        sa.CheckConstraint(
            "resource_type IN ('activation', 'command', 'instance', 'invocation')",
            name=op.f("ck_tags_resource_type_valid"),
        ),
        sa.CheckConstraint("source IN ('api', 'reported')", name=op.f("ck_tags_source_valid")),
        sa.PrimaryKeyConstraint(
            "account_id",
            "region_id",
            "resource_type",
            "resource_id",
            "key",
            "source",
            name=op.f("pk_tags"),
        ),
    )
    op.create_index(
        "ix_tags_tenant_key_value",
        "tags",
        ["account_id", "region_id", "resource_type", "key", "value"],
    )
    op.execute(_DELETE_TAGS_FUNCTION)
    for table, resource_type in _TAGGED.items():
        op.execute(
            f"CREATE TRIGGER {table}_delete_tags AFTER DELETE ON {table} "
            f"REFERENCING OLD TABLE AS gone FOR EACH STATEMENT "
            f"EXECUTE FUNCTION delete_tags('{resource_type}')"
        )


def downgrade() -> None:
    """Revert this revision."""
    for table in _TAGGED:
        op.execute(f"DROP TRIGGER {table}_delete_tags ON {table}")
    op.execute("DROP FUNCTION delete_tags()")
    op.drop_index("ix_tags_tenant_key_value", table_name="tags")
    op.drop_table("tags")
    op.drop_column("invocations", "resource_tags")
