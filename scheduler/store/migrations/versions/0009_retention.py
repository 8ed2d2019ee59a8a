"""Indexes for the retention job: executions by finish; invocations, unkept commands and
idempotency keys by age.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

The retention job (``store.retention``) deletes, a batch at a time, what is older
than ``--retention-days``: without these each batch would read the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_executions_finished",
        "executions",
        ["finished_at"],
        postgresql_where=sa.text("finished_at IS NOT NULL"),
    )
    op.create_index("ix_invocations_created", "invocations", ["created_at"])
    op.create_index("ix_idempotency_keys_created", "idempotency_keys", ["created_at"])
    op.create_index(
        "ix_commands_unkept_created",
        "commands",
        ["created_at"],
        postgresql_where=sa.text("NOT kept"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_commands_unkept_created", table_name="commands")
    op.drop_index("ix_idempotency_keys_created", table_name="idempotency_keys")
    op.drop_index("ix_invocations_created", table_name="invocations")
    op.drop_index("ix_executions_finished", table_name="executions")
