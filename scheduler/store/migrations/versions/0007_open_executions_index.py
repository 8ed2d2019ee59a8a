"""The executions not finished are indexed, not only those waiting for an agent.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

``ix_executions_undelivered`` held the ``Pending`` and ``Stopping`` executions,
for the dispatcher's claim. The sweeps that end what no agent will answer for
(``store.lost``: lost agents' and unreported executions) look for ``Running``
ones too, and found them by reading the whole table, every history row, every few
seconds on every replica. ``ix_executions_open`` holds every execution not
finished (``Pending``, ``Running``, ``Stopping``) and serves both: one index, as
before, a few rows more per instance.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ["account_id", "region_id", "instance_id", "created_at"]


def upgrade() -> None:
    """Apply this revision."""
    _replace("ix_executions_undelivered", "ix_executions_open", ("Pending", "Running", "Stopping"))


def downgrade() -> None:
    """Revert this revision."""
    _replace("ix_executions_open", "ix_executions_undelivered", ("Pending", "Stopping"))


def _replace(old: str, new: str, statuses: tuple[str, ...]) -> None:
    """Drop index ``old``; create ``new`` over the executions in ``statuses``."""
    listed = ", ".join(f"'{status}'" for status in statuses)
    op.drop_index(old, table_name="executions")
    op.create_index(new, "executions", _COLUMNS, postgresql_where=sa.text(f"status IN ({listed})"))
