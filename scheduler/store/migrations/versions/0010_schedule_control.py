"""Schedule control: a paused invocation, and the fires its targets skipped while paused.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

``invocations.paused_at`` is set while the invocation is paused (PauseInvocation)
and cleared by ResumeInvocation; the ticker still claims and advances a paused
invocation's targets, creating no execution and counting each skipped fire in
``invocation_targets.paused_skips`` (beside ``overlap_skips``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("invocations", sa.Column("paused_at", sa.DateTime(timezone=True)))
    op.add_column(
        "invocation_targets",
        sa.Column("paused_skips", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_column("invocation_targets", "paused_skips")
    op.drop_column("invocations", "paused_at")
