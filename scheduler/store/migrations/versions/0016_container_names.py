"""Container names up to Cloud Assistant's 255 characters (issue 13, containers).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.alter_column(
        "invocations",
        "container_name",
        type_=sa.String(length=255),
        existing_type=sa.String(length=128),
        existing_nullable=False,
        existing_server_default="",
    )


def downgrade() -> None:
    """Revert this revision (a longer name is cut to 128 characters)."""
    op.execute("UPDATE invocations SET container_name = left(container_name, 128)")
    op.alter_column(
        "invocations",
        "container_name",
        type_=sa.String(length=128),
        existing_type=sa.String(length=255),
        existing_nullable=False,
        existing_server_default="",
    )
