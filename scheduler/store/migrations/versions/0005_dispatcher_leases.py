"""Dispatcher replicas hold leases: an agent is connected only through a live one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "dispatchers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "renewed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "expires_at > renewed_at", name=op.f("ck_dispatchers_expires_after_renewal")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatchers")),
    )
    # Streams recorded before leases existed belong to no live lease: disconnected.
    op.execute("UPDATE instances SET dispatcher_id = NULL WHERE dispatcher_id IS NOT NULL")


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("dispatchers")
