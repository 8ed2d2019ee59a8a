"""The initial schema: commands, instances, invocations, targets, executions, quotas.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Mirrors ``scheduler.store.tables`` as of issue 2; ``tests/integration/test_migrations.py``
checks that the two stay identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "account_usage",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("commands", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("commands >= 0", name=op.f("ck_account_usage_commands_not_negative")),
        sa.PrimaryKeyConstraint("account_id", "region_id", name=op.f("pk_account_usage")),
    )
    op.create_table(
        "commands",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=512), server_default="", nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("working_dir", sa.String(length=200), server_default="", nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("enable_parameter", sa.Boolean(), nullable=False),
        sa.Column(
            "parameter_names", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("kept", sa.Boolean(), nullable=False),
        sa.Column("invoke_times", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commands")),
    )
    op.create_index(
        "ix_commands_tenant_created",
        "commands",
        ["account_id", "region_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "daily_usage",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False, comment="UTC day"),
        sa.Column("executions", sa.Integer(), nullable=False),
        sa.CheckConstraint("executions >= 0", name=op.f("ck_daily_usage_executions_not_negative")),
        sa.PrimaryKeyConstraint("account_id", "region_id", "day", name=op.f("pk_daily_usage")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=64), nullable=False),
        sa.Column("client_token", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "region_id", "operation", "client_token", name=op.f("pk_idempotency_keys")
        ),
    )
    op.create_table(
        "instances",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("os_type", sa.String(length=16), nullable=False),
        sa.Column("agent_version", sa.String(length=64), server_default="", nullable=False),
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("boot_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column(
            "registered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "last_heartbeat_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_boot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatcher_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )
    op.create_index(
        "ix_instances_tenant", "instances", ["account_id", "region_id", "id"], unique=False
    )
    op.create_table(
        "invocations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("command_id", sa.String(length=40), nullable=False),
        sa.Column("command_name", sa.String(length=128), nullable=False),
        sa.Column("command_type", sa.String(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("enable_parameter", sa.Boolean(), nullable=False),
        sa.Column(
            "parameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("repeat_mode", sa.String(length=16), nullable=False),
        sa.Column("frequency", sa.String(length=256), server_default="", nullable=False),
        sa.Column("username", sa.String(length=255), server_default="", nullable=False),
        sa.Column("working_dir", sa.String(length=200), server_default="", nullable=False),
        sa.Column("timeout", sa.Integer(), nullable=False),
        sa.Column("container_id", sa.String(length=128), server_default="", nullable=False),
        sa.Column("container_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invocations")),
    )
    op.create_index("ix_invocations_command", "invocations", ["command_id"], unique=False)
    op.create_index(
        "ix_invocations_tenant_created",
        "invocations",
        ["account_id", "region_id", "created_at", "id"],
        unique=False,
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("region_id", sa.String(length=64), nullable=False),
        sa.Column("invocation_id", sa.String(length=40), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "repeat", sa.Integer(), nullable=False, comment="1 for the first run on the instance"
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "script", sa.LargeBinary(), nullable=False, comment="rendered, parameters substituted"
        ),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.String(length=64), server_default="", nullable=False),
        sa.Column("error_info", sa.Text(), server_default="", nullable=False),
        sa.Column("output", sa.LargeBinary(), server_default=sa.text("''::bytea"), nullable=False),
        sa.Column("output_size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dropped", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stop_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"], ["instances.id"], name=op.f("fk_executions_instance_id_instances")
        ),
        sa.ForeignKeyConstraint(
            ["invocation_id"],
            ["invocations.id"],
            name=op.f("fk_executions_invocation_id_invocations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
        sa.UniqueConstraint(
            "invocation_id", "instance_id", "scheduled_at", name="uq_executions_fire"
        ),
    )
    op.create_index(
        "ix_executions_target",
        "executions",
        ["invocation_id", "instance_id", "repeat"],
        unique=False,
    )
    op.create_index(
        "ix_executions_undelivered",
        "executions",
        ["instance_id", "created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('Pending', 'Stopping')"),
    )
    op.create_table(
        "invocation_targets",
        sa.Column("invocation_id", sa.String(length=40), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_fire_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("repeats", sa.Integer(), server_default="0", nullable=False),
        sa.Column("overlap_skips", sa.Integer(), server_default="0", nullable=False),
        sa.Column("misfire_skips", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_invocation_targets_instance_id_instances"),
        ),
        sa.ForeignKeyConstraint(
            ["invocation_id"],
            ["invocations.id"],
            name=op.f("fk_invocation_targets_invocation_id_invocations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invocation_id", "instance_id", name=op.f("pk_invocation_targets")),
    )
    op.create_index(
        "ix_invocation_targets_due",
        "invocation_targets",
        ["next_fire_at"],
        unique=False,
        postgresql_where=sa.text("next_fire_at IS NOT NULL"),
    )
    op.create_index(
        "ix_invocation_targets_instance", "invocation_targets", ["instance_id"], unique=False
    )


def downgrade() -> None:
    """Revert this revision: drop every table (their indexes and constraints go with them)."""
    # Children before parents, for the foreign keys.
    for table in (
        "invocation_targets",
        "executions",
        "invocations",
        "instances",
        "idempotency_keys",
        "daily_usage",
        "commands",
        "account_usage",
    ):
        op.drop_table(table)
