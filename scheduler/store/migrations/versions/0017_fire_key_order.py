"""A fire's executions found by the unique key itself: one index fewer on every execution.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

``uq_executions_fire`` (at most one execution per invocation, instance and instant)
becomes (invocation_id, scheduled_at, instance_id) instead of (invocation_id,
instance_id, scheduled_at): the same rows are unique, and its leading columns are now
a fire's, which ``ix_executions_fire_time`` (invocation_id, scheduled_at) held for the
rate-control release step (``store.rollout``). That index goes, so each execution
the ticker or an invocation creates updates one B-tree fewer. A target's executions
are found by ``ix_executions_target`` (invocation_id, instance_id, repeat), as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.drop_constraint("uq_executions_fire", "executions", type_="unique")
    op.create_unique_constraint(
        "uq_executions_fire", "executions", ["invocation_id", "scheduled_at", "instance_id"]
    )
    op.drop_index("ix_executions_fire_time", table_name="executions")


def downgrade() -> None:
    """Revert this revision."""
    op.create_index("ix_executions_fire_time", "executions", ["invocation_id", "scheduled_at"])
    op.drop_constraint("uq_executions_fire", "executions", type_="unique")
    op.create_unique_constraint(
        "uq_executions_fire", "executions", ["invocation_id", "instance_id", "scheduled_at"]
    )
