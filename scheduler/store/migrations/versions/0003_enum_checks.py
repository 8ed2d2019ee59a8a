"""Enum-valued columns accept only their enum's values.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

The values are written out as the enums of ``scheduler.domain.enums`` had them:
a revision is a snapshot, and when an enum changes a new revision changes its
check (``tests/integration/test_migrations.py`` compares the checks with
``scheduler.store.tables``). ``executions.error_code`` stays unchecked: agents of
other versions may report codes this server does not know.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMMAND_TYPES = ("RunBatScript", "RunPowerShellScript", "RunShellScript")
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

# (table, column): the values it accepts, sorted as the models list them.
_CHECKS: dict[tuple[str, str], tuple[str, ...]] = {
    ("commands", "type"): _COMMAND_TYPES,
    ("instances", "os_type"): ("freebsd", "linux", "windows"),
    ("invocations", "command_type"): _COMMAND_TYPES,
    ("invocations", "repeat_mode"): ("DryRun", "EveryReboot", "NextRebootOnly", "Once", "Period"),
    ("invocations", "status"): _STATUSES,
    ("invocation_targets", "status"): _STATUSES,
    # An execution is never Scheduled: that is a target awaiting its fire.
    ("executions", "status"): tuple(s for s in _STATUSES if s != "Scheduled"),
}


def upgrade() -> None:
    """Apply this revision."""
    for (table, column), values in _CHECKS.items():
        listed = ", ".join(f"'{value}'" for value in values)
        op.create_check_constraint(
            op.f(f"ck_{table}_{column}_valid"), table, f"{column} IN ({listed})"
        )


def downgrade() -> None:
    """Revert this revision."""
    for table, column in _CHECKS:
        op.drop_constraint(op.f(f"ck_{table}_{column}_valid"), table, type_="check")
