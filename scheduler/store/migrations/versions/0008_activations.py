"""Activations, and the credentials of the managed instances registered with them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    now = sa.func.now()
    op.create_table(
        "activations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region_id", sa.String(64), nullable=False),
        sa.Column("instance_name", sa.String(128), server_default="", nullable=False),
        sa.Column("instance_count", sa.Integer(), nullable=False),
        sa.Column("registered_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("deregistered_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("ip_address_range", sa.String(64), nullable=False),
        sa.Column("description", sa.String(512), server_default="", nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "instance_count BETWEEN 1 AND 1000", name=op.f("ck_activations_instance_count_in_range")
        ),
        sa.CheckConstraint(
            "registered_count >= 0 AND registered_count <= instance_count",
            name=op.f("ck_activations_registered_within_count"),
        ),
        sa.CheckConstraint(
            "deregistered_count >= 0 AND deregistered_count <= registered_count",
            name=op.f("ck_activations_deregistered_within_registered"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activations")),
    )
    op.create_index(
        "ix_activations_tenant_created",
        "activations",
        ["account_id", "region_id", "created_at", "id"],
    )
    op.create_table(
        "instance_credentials",
        sa.Column("instance_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region_id", sa.String(64), nullable=False),
        sa.Column("activation_id", sa.String(40), nullable=False),
        sa.Column("credential_hash", sa.String(64), nullable=False),
        sa.Column("hostname", sa.String(255), server_default="", nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column("deregistered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint(
            "account_id", "region_id", "instance_id", name=op.f("pk_instance_credentials")
        ),
        sa.UniqueConstraint(
            "credential_hash", name=op.f("uq_instance_credentials_credential_hash")
        ),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("instance_credentials")
    op.drop_index("ix_activations_tenant_created", table_name="activations")
    op.drop_table("activations")
