"""The common commands shipped with Kairos (issue 13, item 4): one module each.

Every account sees them (DescribeCommands with ``provider`` ``kairos``) and invokes them
by name, which is their id (``Kairos-CheckDiskSpace``). They live in the code, not in
the database: a new release of Kairos brings its new scripts, no account's quota counts
them, and no account can modify or delete them. An invocation copies its command as
for any command, so a periodic invocation keeps the script it was made with.
"""

from __future__ import annotations

from collections.abc import Mapping

from scheduler.domain.catalogue import (
    check_disk_space,
    cleanup_logs,
    collect_diagnostics,
    restart_service,
    update_packages,
)
from scheduler.domain.catalogue.common import PREFIX, PROVIDER
from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import CommandType
from scheduler.domain.errors import invalid, precondition
from scheduler.domain.models import Command

COMMON_COMMANDS: Mapping[str, Command] = {
    module.COMMAND.id: module.COMMAND
    for module in sorted(
        (check_disk_space, cleanup_logs, collect_diagnostics, restart_service, update_packages),
        key=lambda module: module.COMMAND.id,
    )
}
"""The common commands by id (their name), in name order."""

__all__ = [
    "COMMON_COMMANDS",
    "PROVIDER",
    "check_own",
    "check_provider",
    "find",
    "is_common",
    "select",
]


def is_common(command_id: str) -> bool:
    """The id is a common command's: the ``Kairos-`` prefix, which no saved command's id has.

    The prefix, not the catalogue, decides: an invocation of a common command a later
    release dropped is still one (its values are still rendered shell-quoted).
    """
    return command_id.startswith(PREFIX)


def find(command_id: str) -> Command | None:
    """The common command ``command_id``; None when no common command has it."""
    return COMMON_COMMANDS.get(command_id)


def check_provider(provider: str) -> bool:
    """Whether a DescribeCommands ``provider`` asks for the common commands (``kairos``)
    rather than the account's own (empty); any other provider is refused."""
    if provider not in ("", PROVIDER):
        raise invalid(
            RefusalCode.INVALID_PARAM_PROVIDER,
            "provider",
            f"provider is {provider[:64]!r}; it must be empty (the account's own commands) "
            f"or {PROVIDER!r} (the common commands shipped with Kairos)",
        )
    return provider == PROVIDER


def check_own(command_id: str, action: str) -> None:
    """Refuse to ``action`` (modify, delete) a common command: every account shares it."""
    if is_common(command_id):
        raise precondition(
            RefusalCode.INVALID_COMMAND_ID_COMMON_COMMAND,
            f"command_id: {command_id} is a common command, shipped with Kairos and shared by "
            f"every account; it cannot be {action}",
        )


def select(*, command_id: str, name: str, type: CommandType | None, tagged: bool) -> list[Command]:
    """The common commands a DescribeCommands filter matches, in name order; they carry no
    tags, so a filter by tags matches none."""
    if tagged:
        return []
    return [
        command
        for command in COMMON_COMMANDS.values()
        if command_id in ("", command.id)
        and name in ("", command.name)
        and type in (None, command.type)
    ]
