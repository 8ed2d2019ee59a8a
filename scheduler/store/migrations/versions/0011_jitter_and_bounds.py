"""Jitter and bounds of periodic invocations: max_jitter, start_at, end_at.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "invocations", sa.Column("max_jitter", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("invocations", sa.Column("start_at", sa.DateTime(timezone=True)))
    op.add_column("invocations", sa.Column("end_at", sa.DateTime(timezone=True)))
    op.create_check_constraint(
        op.f("ck_invocations_max_jitter_in_range"),
        "invocations",
        "max_jitter BETWEEN 0 AND 3600",
    )
    op.create_check_constraint(
        op.f("ck_invocations_end_after_start"), "invocations", "end_at > start_at"
    )
    op.create_check_constraint(
        op.f("ck_invocations_window_only_periodic"),
        "invocations",
        "repeat_mode = 'Period' OR (max_jitter = 0 AND start_at IS NULL AND end_at IS NULL)",
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_constraint(op.f("ck_invocations_window_only_periodic"), "invocations", type_="check")
    op.drop_constraint(op.f("ck_invocations_end_after_start"), "invocations", type_="check")
    op.drop_constraint(op.f("ck_invocations_max_jitter_in_range"), "invocations", type_="check")
    op.drop_column("invocations", "end_at")
    op.drop_column("invocations", "start_at")
    op.drop_column("invocations", "max_jitter")
