"""Rolling rate control: an invocation's limits, and executions held back until released.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

``invocations.max_concurrency`` and ``max_errors`` (empty: no limit) keep what the
request said. ``executions.released_at`` is when an execution was let go to its
agent; NULL while rate control holds it back (a ``Pending`` one). Every open
execution was released when it was created, so it gets its ``created_at``: delivery
and its timeout count from the release from now on. Finished ones are left NULL
(only a pending execution can be held, and a large history is not rewritten).
``ix_executions_held`` (only the held ones) and ``ix_executions_fire_time`` (a fire's
executions) serve the release step.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    for name in ("max_concurrency", "max_errors"):
        op.add_column(
            "invocations", sa.Column(name, sa.String(8), server_default="", nullable=False)
        )
    op.add_column("executions", sa.Column("released_at", sa.DateTime(timezone=True)))
    op.execute(
        "UPDATE executions SET released_at = created_at"
        " WHERE status IN ('Pending', 'Running', 'Stopping')"
    )
    op.create_index(
        "ix_executions_held",
        "executions",
        ["invocation_id", "scheduled_at", "instance_id"],
        postgresql_where=sa.text("released_at IS NULL AND status = 'Pending'"),
    )
    op.create_index("ix_executions_fire_time", "executions", ["invocation_id", "scheduled_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_executions_fire_time", table_name="executions")
    op.drop_index("ix_executions_held", table_name="executions")
    op.drop_column("executions", "released_at")
    for name in ("max_errors", "max_concurrency"):
        op.drop_column("invocations", name)
