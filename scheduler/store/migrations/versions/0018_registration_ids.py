"""A registration's id, so that a retried Register returns its instance instead of another.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-20

``instance_credentials.registration_id`` is the key an agent chooses for one
registration and sends again on every retry (``RegisterRequest.registration_id``).
``uq_instance_credentials_registration`` allows one instance per key and activation;
the rows of agents that send none (every row before this revision) hold NULL, which
a unique constraint never compares equal.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column("instance_credentials", sa.Column("registration_id", sa.String(64)))
    op.create_unique_constraint(
        "uq_instance_credentials_registration",
        "instance_credentials",
        ["activation_id", "registration_id"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_constraint(
        "uq_instance_credentials_registration", "instance_credentials", type_="unique"
    )
    op.drop_column("instance_credentials", "registration_id")
