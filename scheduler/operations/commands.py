"""CreateCommand, ModifyCommand, DeleteCommand and DescribeCommands."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain import catalogue, ids
from scheduler.domain.codes import QuotaName, RefusalCode
from scheduler.domain.command import CommandChanges, CommandRequest, check_changes, new_command
from scheduler.domain.enums import ResourceType
from scheduler.domain.errors import invalid, not_found, quota_exceeded
from scheduler.domain.limits import check_client_token, check_page_size, require_id
from scheduler.domain.models import Command
from scheduler.domain.tags import Tag, check_tags
from scheduler.domain.tenancy import Tenant
from scheduler.operations.context import Context
from scheduler.operations.tags import tag_new
from scheduler.store import commands as store
from scheduler.store import quota
from scheduler.store.paging import decode_token, encode_token
from scheduler.store.tags import tags_by_resource


async def create_command(
    ctx: Context,
    tenant: Tenant,
    request: CommandRequest,
    client_token: str,
    request_hash: str,
    tags: Sequence[Tag] = (),
) -> str:
    """Store a new command (with ``tags``) within the command quota; returns its id."""
    command = new_command(ctx.limits, request, command_id=ids.command_id(), kept=True)
    check_client_token(client_token)
    given = check_tags(tags)

    async def create(conn: AsyncConnection) -> dict[str, str]:
        await save_command(conn, ctx, tenant, command)
        await tag_new(conn, tenant, ResourceType.COMMAND, command.id, given)
        return {"command_id": command.id}

    response = await ctx.idempotent(tenant, "CreateCommand", client_token, request_hash, create)
    return str(response["command_id"])


async def save_command(
    conn: AsyncConnection, ctx: Context, tenant: Tenant, command: Command
) -> None:
    """Insert a command, taking a quota slot when it is kept."""
    await take_command_slot(conn, ctx, tenant, command)
    await store.insert_command(conn, tenant, command)


async def take_command_slot(
    conn: AsyncConnection, ctx: Context, tenant: Tenant, command: Command
) -> None:
    """Take a quota slot for a command to keep; refused beyond the tenant's saved commands."""
    if command.kept and not await quota.take_command_slot(conn, tenant, ctx.limits.max_commands):
        raise quota_exceeded(
            RefusalCode.QUOTA_EXCEED_COMMAND,
            QuotaName.MAX_COMMAND_COUNT,
            f"the account already has {ctx.limits.max_commands} saved commands, "
            "the limit; delete one first",
        )


async def modify_command(
    ctx: Context, tenant: Tenant, command_id: str, changes: CommandChanges
) -> None:
    """Change a command's name, description, timeout or working dir."""
    require_id("command_id", command_id)
    catalogue.check_own(command_id, "modified")
    values = check_changes(ctx.limits, changes)
    if not values:
        raise invalid(
            RefusalCode.INVALID_PARAM_MODIFY,
            "name",
            "nothing to modify: set at least one of name, description, timeout, working_dir",
        )

    async def modify(conn: AsyncConnection) -> None:
        if not await store.update_command(conn, tenant, command_id, values):
            raise _command_not_found(command_id)

    await ctx.transaction(modify)


async def delete_command(ctx: Context, tenant: Tenant, command_id: str) -> None:
    """Delete a command and free its quota slot; its invocations keep their copy."""
    require_id("command_id", command_id)
    catalogue.check_own(command_id, "deleted")

    async def delete(conn: AsyncConnection) -> None:
        if not await store.delete_command(conn, tenant, command_id):
            raise _command_not_found(command_id)
        await quota.release_command_slot(conn, tenant)

    await ctx.transaction(delete)


async def describe_commands(
    ctx: Context,
    tenant: Tenant,
    where: store.CommandFilter,
    max_results: int,
    next_token: str,
    provider: str = "",
) -> tuple[list[Command], int, str, dict[str, dict[str, str]]]:
    """One page of the tenant's commands (or, with ``provider`` ``kairos``, of the common
    commands), the total count, the next token and the page's commands' tags by id."""
    page_size = check_page_size(max_results)
    if catalogue.check_provider(provider):
        return _common_page(where, page_size, next_token)

    async def read(
        conn: AsyncConnection,
    ) -> tuple[list[Command], int, str, dict[str, dict[str, str]]]:
        page, total, token = await store.list_commands(conn, tenant, where, page_size, next_token)
        tags = await tags_by_resource(conn, tenant, ResourceType.COMMAND, [c.id for c in page])
        return page, total, token, tags

    return await ctx.transaction(read)


def _common_page(
    where: store.CommandFilter, page_size: int, next_token: str
) -> tuple[list[Command], int, str, dict[str, dict[str, str]]]:
    """A page of the common commands, in name order (they have no tags)."""
    matching = catalogue.select(
        command_id=where.command_id, name=where.name, type=where.type, tagged=bool(where.tags)
    )
    after = decode_token(next_token, 1)
    rest = matching if after is None else [c for c in matching if c.id > str(after[0])]
    page = rest[:page_size]
    token = encode_token([page[-1].id]) if len(rest) > page_size else ""
    return page, len(matching), token, {}


def _command_not_found(command_id: str) -> Exception:
    return not_found(RefusalCode.INVALID_COMMAND_ID_NOT_FOUND, f"command {command_id} not found")
