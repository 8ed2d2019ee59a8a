"""Queries on saved commands."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import CommandType, ResourceType
from scheduler.domain.models import Command
from scheduler.domain.tenancy import Tenant
from scheduler.store.paging import (
    newest_first,
    newest_first_token,
)
from scheduler.store.tables import commands
from scheduler.store.tags import having_tags


@dataclass(frozen=True, kw_only=True)
class CommandFilter:
    """DescribeCommands filters; empty values match everything."""

    command_id: str = ""
    name: str = ""
    type: CommandType | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags (issue 12): only commands with every one of these (an empty value: the key)."""


_COMMAND_COLUMNS = (
    "id",
    "account_id",
    "region_id",
    "name",
    "description",
    "type",
    "content",
    "working_dir",
    "timeout",
    "enable_parameter",
    "parameter_names",
    "kept",
    "invoke_times",
)
INSERT_COMMAND = insert(commands).values(
    {name: bindparam(f"cmd_{name}", type_=commands.c[name].type) for name in _COMMAND_COLUMNS}
)
"""Stores one command (``command_parameters``); also a part of ``store.invocations``'s
statement that stores a RunCommand's command with its invocation."""


def command_parameters(tenant: Tenant, command: Command) -> dict[str, Any]:
    """The parameters of ``INSERT_COMMAND`` for ``command``."""
    values = {
        "id": command.id,
        "account_id": tenant.account_id,
        "region_id": tenant.region_id,
        "name": command.name,
        "description": command.description,
        "type": command.type.value,
        "content": command.content,
        "working_dir": command.working_dir,
        "timeout": command.timeout,
        "enable_parameter": command.enable_parameter,
        "parameter_names": command.parameter_names,
        "kept": command.kept,
        "invoke_times": command.invoke_times,
    }
    return {f"cmd_{name}": value for name, value in values.items()}


async def insert_command(conn: AsyncConnection, tenant: Tenant, command: Command) -> None:
    """Store a new command."""
    await conn.execute(INSERT_COMMAND, command_parameters(tenant, command))


async def get_command(conn: AsyncConnection, tenant: Tenant, command_id: str) -> Command | None:
    """The tenant's command ``command_id``, kept or not."""
    row = (
        await conn.execute(select(commands).where(_own(tenant), commands.c.id == command_id))
    ).first()
    return None if row is None else _command(row)


async def update_command(
    conn: AsyncConnection, tenant: Tenant, command_id: str, values: dict[str, Any]
) -> bool:
    """Apply ``values`` to a kept command; False when there is no such command."""
    statement = (
        update(commands)
        .where(_own(tenant), commands.c.id == command_id, commands.c.kept)
        .values(**values)
        .returning(commands.c.id)
    )
    return (await conn.execute(statement)).first() is not None


async def delete_command(conn: AsyncConnection, tenant: Tenant, command_id: str) -> bool:
    """Delete a kept command; False when there is no such command."""
    statement = (
        delete(commands)
        .where(_own(tenant), commands.c.id == command_id, commands.c.kept)
        .returning(commands.c.id)
    )
    return (await conn.execute(statement)).first() is not None


async def count_invocation(conn: AsyncConnection, command_id: str) -> None:
    """Record one more invocation of a command."""
    await conn.execute(
        update(commands)
        .where(commands.c.id == command_id)
        .values(invoke_times=commands.c.invoke_times + 1)
    )


async def list_commands(
    conn: AsyncConnection, tenant: Tenant, where: CommandFilter, page_size: int, next_token: str
) -> tuple[list[Command], int, str]:
    """One page of the tenant's kept commands, newest first, the total and the next token."""
    conditions = [_own(tenant), commands.c.kept]
    if where.command_id:
        conditions.append(commands.c.id == where.command_id)
    if where.name:
        conditions.append(commands.c.name == where.name)
    if where.type is not None:
        conditions.append(commands.c.type == where.type.value)
    if where.tags:
        conditions.append(having_tags(commands.c.id, ResourceType.COMMAND, tenant, where.tags))
    total = (
        await conn.execute(select(func.count()).select_from(commands).where(*conditions))
    ).scalar_one()
    query = select(commands).where(*conditions)
    query = newest_first(query, commands.c.created_at, commands.c.id, next_token, page_size)
    rows = (await conn.execute(query)).all()
    page = [_command(r) for r in rows[:page_size]]
    return page, total, newest_first_token([(r.created_at, r.id) for r in rows], page_size)


def _own(tenant: Tenant) -> Any:
    return and_(
        commands.c.account_id == tenant.account_id, commands.c.region_id == tenant.region_id
    )


def _command(row: Row[Any]) -> Command:
    return Command(
        id=row.id,
        name=row.name,
        description=row.description,
        type=CommandType(row.type),
        content=row.content,
        working_dir=row.working_dir,
        timeout=row.timeout,
        enable_parameter=row.enable_parameter,
        parameter_names=list(row.parameter_names),
        kept=row.kept,
        invoke_times=row.invoke_times,
        created_at=row.created_at,
    )
