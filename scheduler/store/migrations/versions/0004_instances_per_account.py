"""Instance ids belong to an account and region; instances count against a quota.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-12

An instance is keyed by (account_id, region_id, id): two accounts may each have
an ``i-web-1``. Targets get their invocation's tenant so that they, like
executions, refer to their instance by the whole key. ``account_usage.instances``
counts each tenant's instances for ``--max-instances``, starting from the rows
already there. Existing rows stay as they are: until now an id was unique across
tenants, and every target and execution named an instance of its own tenant.

A downgrade needs ids unique across tenants again: it fails (and changes
nothing) while two tenants share one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INSTANCE_KEY = ["account_id", "region_id", "instance_id"]
_REFERRING = ("invocation_targets", "executions")


def upgrade() -> None:
    """Apply this revision."""
    for table in _REFERRING:
        op.drop_constraint(op.f(f"fk_{table}_instance_id_instances"), table, type_="foreignkey")
    op.drop_index("ix_instances_tenant", table_name="instances")
    op.drop_constraint(op.f("pk_instances"), "instances", type_="primary")
    op.create_primary_key(op.f("pk_instances"), "instances", ["account_id", "region_id", "id"])

    op.add_column("invocation_targets", sa.Column("account_id", sa.String(length=64)))
    op.add_column("invocation_targets", sa.Column("region_id", sa.String(length=64)))
    op.execute(
        "UPDATE invocation_targets AS t SET account_id = i.account_id, region_id = i.region_id "
        "FROM invocations AS i WHERE i.id = t.invocation_id"
    )
    op.alter_column("invocation_targets", "account_id", nullable=False)
    op.alter_column("invocation_targets", "region_id", nullable=False)

    for table in _REFERRING:
        op.create_foreign_key(
            op.f(f"fk_{table}_account_id_instances"),
            table,
            "instances",
            _INSTANCE_KEY,
            ["account_id", "region_id", "id"],
        )
    op.drop_index("ix_invocation_targets_instance", table_name="invocation_targets")
    op.create_index("ix_invocation_targets_instance", "invocation_targets", _INSTANCE_KEY)
    op.drop_index("ix_executions_undelivered", table_name="executions")
    op.create_index(
        "ix_executions_undelivered",
        "executions",
        [*_INSTANCE_KEY, "created_at"],
        postgresql_where=sa.text("status IN ('Pending', 'Stopping')"),
    )

    op.add_column(
        "account_usage",
        sa.Column("instances", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_account_usage_instances_not_negative"), "account_usage", "instances >= 0"
    )
    op.execute(
        "INSERT INTO account_usage (account_id, region_id, instances) "
        "SELECT account_id, region_id, count(*) FROM instances GROUP BY account_id, region_id "
        "ON CONFLICT (account_id, region_id) DO UPDATE SET instances = excluded.instances"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("account_usage", "instances")

    op.drop_index("ix_executions_undelivered", table_name="executions")
    op.create_index(
        "ix_executions_undelivered",
        "executions",
        ["instance_id", "created_at"],
        postgresql_where=sa.text("status IN ('Pending', 'Stopping')"),
    )
    op.drop_index("ix_invocation_targets_instance", table_name="invocation_targets")
    op.create_index("ix_invocation_targets_instance", "invocation_targets", ["instance_id"])
    for table in _REFERRING:
        op.drop_constraint(op.f(f"fk_{table}_account_id_instances"), table, type_="foreignkey")
    op.drop_column("invocation_targets", "region_id")
    op.drop_column("invocation_targets", "account_id")

    op.drop_constraint(op.f("pk_instances"), "instances", type_="primary")
    op.create_primary_key(op.f("pk_instances"), "instances", ["id"])
    op.create_index("ix_instances_tenant", "instances", ["account_id", "region_id", "id"])
    for table in _REFERRING:
        op.create_foreign_key(
            op.f(f"fk_{table}_instance_id_instances"),
            table,
            "instances",
            ["instance_id"],
            ["id"],
        )
