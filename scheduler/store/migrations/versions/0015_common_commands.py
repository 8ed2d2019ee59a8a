"""Common commands: no saved command takes the id of one shipped with Kairos.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

The common commands (issue 13, item 4) live in the code, not in this database; an id
with the ``Kairos-`` prefix names one of them (``scheduler.domain.catalogue``). The
check keeps every saved command's id out of that prefix, so that a common command
never shadows, nor is shadowed by, an account's own. Saved ids are ``c-…``: no row
breaks it.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_check_constraint(
        op.f("ck_commands_id_not_common"), "commands", "id NOT LIKE 'Kairos-%'"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_constraint(op.f("ck_commands_id_not_common"), "commands", type_="check")
