"""File tasks (SendFile): the file an invocation writes.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "send_files",
        sa.Column("invocation_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(512), server_default="", nullable=False),
        sa.Column("target_dir", sa.String(255), nullable=False),
        sa.Column("file_mode", sa.Integer(), nullable=False),
        sa.Column("file_owner", sa.String(32), nullable=False),
        sa.Column("file_group", sa.String(32), nullable=False),
        sa.Column("overwrite", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "name NOT IN ('', '.', '..') AND strpos(name, '/') = 0",
            name=op.f("ck_send_files_name_plain"),
        ),
        sa.CheckConstraint(
            "left(target_dir, 1) = '/'", name=op.f("ck_send_files_target_dir_absolute")
        ),
        sa.CheckConstraint(
            "file_mode BETWEEN 0 AND 4095", name=op.f("ck_send_files_file_mode_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["invocation_id"],
            ["invocations.id"],
            name=op.f("fk_send_files_invocation_id_invocations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invocation_id", name=op.f("pk_send_files")),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("send_files")
