"""Each invocation counts its targets by status: its overall status costs O(change).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

``invocation_status_counts`` holds, per invocation and target status, how many
targets have it; the server keeps it up to date by delta and derives the overall
status from the statuses counted above zero. The counts of existing invocations
are taken from their targets as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As ``scheduler.domain.enums.TARGET_STATUSES`` had them (a revision is a snapshot).
_STATUSES = (
    "Aborted",
    "Cancelled",
    "Error",
    "Failed",
    "Invalid",
    "PartialFailed",
    "Pending",
    "Running",
    "Scheduled",
    "Stopped",
    "Stopping",
    "Success",
    "Terminated",
    "Timeout",
)


def upgrade() -> None:
    """Apply this revision."""
    listed = ", ".join(f"'{status}'" for status in _STATUSES)
    op.create_table(
        "invocation_status_counts",
        sa.Column("invocation_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("targets", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "targets >= 0", name=op.f("ck_invocation_status_counts_targets_not_negative")
        ),
        sa.CheckConstraint(
            f"status IN ({listed})", name=op.f("ck_invocation_status_counts_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["invocation_id"],
            ["invocations.id"],
            name=op.f("fk_invocation_status_counts_invocation_id_invocations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "invocation_id", "status", name=op.f("pk_invocation_status_counts")
        ),
    )
    op.execute(
        "INSERT INTO invocation_status_counts (invocation_id, status, targets) "
        "SELECT invocation_id, status, count(*) FROM invocation_targets "
        "GROUP BY invocation_id, status"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("invocation_status_counts")
