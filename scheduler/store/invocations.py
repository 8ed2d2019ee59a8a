"""Queries on invocations and their per-instance targets."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Boolean,
    Insert,
    Integer,
    Row,
    Text,
    and_,
    bindparam,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain import catalogue
from scheduler.domain.enums import CommandType, InvocationStatus, RepeatMode, ResourceType
from scheduler.domain.models import SETTINGS_FIELDS, Command, InvocationSettings, Timing
from scheduler.domain.status import overall_status
from scheduler.domain.tags import matches
from scheduler.domain.tenancy import Tenant
from scheduler.store.arrays import Unnested
from scheduler.store.commands import INSERT_COMMAND, command_parameters
from scheduler.store.executions import INSERT_EXECUTIONS, NewExecution, execution_parameters
from scheduler.store.files import is_file_task
from scheduler.store.paging import (
    newest_first,
    newest_first_token,
)
from scheduler.store.tables import (
    Timestamp,
    commands,
    invocation_status_counts,
    invocation_targets,
    invocations,
)
from scheduler.store.tags import having_tags, tags_by_resource


@dataclass(kw_only=True, frozen=True)
class NewTarget:
    """A target to store with a new invocation."""

    instance_id: str
    status: InvocationStatus
    armed: bool
    next_fire_at: datetime | None
    repeats: int


@dataclass(kw_only=True, frozen=True)
class Target:
    """One instance of an invocation."""

    instance_id: str
    status: InvocationStatus
    next_fire_at: datetime | None
    repeats: int
    overlap_skips: int
    misfire_skips: int
    created_at: datetime
    updated_at: datetime
    selected: bool = False
    """Tags (issue 12): the instance has the tags of its invocation's selector now."""
    # Schedule control: fires skipped while the invocation was paused.
    paused_skips: int = 0


@dataclass(kw_only=True, frozen=True)
class InvocationView:
    """An invocation with its targets, as DescribeInvocations shows it."""

    id: str
    command_id: str
    command_name: str
    command_type: CommandType
    status: InvocationStatus
    settings: InvocationSettings
    created_at: datetime
    targets: list[Target]
    resource_tags: dict[str, str] | None = None
    """Tags (issue 12): the selector of an invocation by tags; None: by instance ids."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tags (issue 12): the invocation's own tags."""
    # Schedule control: paused by PauseInvocation, until ResumeInvocation.
    paused: bool = False


@dataclass(kw_only=True, frozen=True)
class InvocationFilter:
    """DescribeInvocations filters; empty values match everything."""

    invoke_id: str = ""
    command_id: str = ""
    instance_id: str = ""
    status: InvocationStatus | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags (issue 12): only invocations with every one of these (an empty value: the key)."""


_new_target = Unnested(
    "t",
    instance_id=Text(),
    status=Text(),
    armed=Boolean(),
    next_fire_at=Timestamp,
    repeats=Integer(),
)
_count = Unnested("c", status=Text(), targets=Integer())
_TIMING_COLUMNS = tuple(f.name for f in fields(Timing))
"""Jitter and bounds (``Timing``): columns of their own names."""
_INVOCATION_COLUMNS = (
    "id",
    "account_id",
    "region_id",
    "command_id",
    "command_name",
    "command_type",
    "content",
    "enable_parameter",
    "status",
    *SETTINGS_FIELDS,
    *_TIMING_COLUMNS,
    "resource_tags",
)
# One statement: the invocation, its targets and their counts (a foreign key is checked
# at the end of the statement, when the invocation row is there); and, for a run, its
# command and its executions (``_insert_statement``).
_INSERT_INVOCATION = (
    insert(invocation_status_counts)
    .from_select(
        ["invocation_id", "status", "targets"],
        select(bindparam("i_id", type_=Text()), *_count.c),
    )
    .add_cte(
        insert(invocations)
        .values(
            {
                name: bindparam(f"i_{name}", type_=invocations.c[name].type)
                for name in _INVOCATION_COLUMNS
            }
        )
        .returning(invocations.c.id)
        .cte("new_invocation")
    )
    .add_cte(
        insert(invocation_targets)
        .from_select(
            ["invocation_id", "account_id", "region_id", *_new_target.c.keys()],
            select(
                bindparam("i_id", type_=Text()),
                bindparam("i_account_id", type_=Text()),
                bindparam("i_region_id", type_=Text()),
                *_new_target.c,
            ),
        )
        .returning(invocation_targets.c.instance_id)
        .cte("new_targets")
    )
)


@cache
def _insert_statement(*, with_command: bool, with_executions: bool) -> Insert:
    statement = _INSERT_INVOCATION
    if with_command:
        statement = statement.add_cte(INSERT_COMMAND.returning(commands.c.id).cte("new_command"))
    if with_executions:
        statement = statement.add_cte(INSERT_EXECUTIONS.cte("new_executions"))
    return statement


async def insert_invocation(
    conn: AsyncConnection,
    tenant: Tenant,
    *,
    invoke_id: str,
    command: Command,
    settings: InvocationSettings,
    targets: list[NewTarget],
    new_command: bool = False,
    new_executions: Sequence[NewExecution] = (),
    resource_tags: Mapping[str, str] | None = None,
) -> None:
    """Store an invocation (with its copy of the command), its targets and their counts,
    and with ``new_command`` the command itself (RunCommand's), and ``new_executions``;
    ``resource_tags``: the selector of an invocation by tags (None: by instance ids).
    One statement whatever the settings and the number of targets, one round trip."""
    counts = Counter(t.status.value for t in targets)
    invocation = {
        "id": invoke_id,
        "account_id": tenant.account_id,
        "region_id": tenant.region_id,
        "command_id": command.id,
        "command_name": command.name,
        "command_type": command.type.value,
        "content": command.content,
        "enable_parameter": command.enable_parameter,
        "status": overall_status(
            (t.status for t in targets),
            selecting=resource_tags is not None and not settings.repeat_mode.is_immediate,
        ).value,
        **_settings_columns(settings),
        "resource_tags": None if resource_tags is None else dict(resource_tags),
    }
    parameters = {
        **{f"i_{name}": value for name, value in invocation.items()},
        **_new_target.bind(
            instance_id=[t.instance_id for t in targets],
            status=[t.status.value for t in targets],
            armed=[t.armed for t in targets],
            next_fire_at=[t.next_fire_at for t in targets],
            repeats=[t.repeats for t in targets],
        ),
        **_count.bind(status=list(counts), targets=list(counts.values())),
    }
    if new_command:
        parameters |= command_parameters(tenant, command)
    if new_executions:
        parameters |= execution_parameters(new_executions)
    statement = _insert_statement(with_command=new_command, with_executions=bool(new_executions))
    await conn.execute(statement, parameters)


async def invocation_instances(
    conn: AsyncConnection, tenant: Tenant, invoke_id: str
) -> list[str] | None:
    """The instance ids of the tenant's invocation, or None when it does not exist."""
    found = (
        await conn.execute(
            select(invocations.c.id).where(_own(tenant), invocations.c.id == invoke_id)
        )
    ).first()
    if found is None:
        return None
    rows = await conn.execute(
        select(invocation_targets.c.instance_id)
        .where(invocation_targets.c.invocation_id == invoke_id)
        .order_by(invocation_targets.c.instance_id)
    )
    return list(rows.scalars())


async def list_invocations(
    conn: AsyncConnection,
    tenant: Tenant,
    where: InvocationFilter,
    page_size: int,
    next_token: str,
) -> tuple[list[InvocationView], int, str]:
    """One page of the tenant's invocations, newest first, the total and the next token."""
    conditions = [_own(tenant)]
    if where.invoke_id:
        conditions.append(invocations.c.id == where.invoke_id)
    else:
        # File tasks have their own listing (DescribeSendFileResults); named, one shows.
        conditions.append(~is_file_task(invocations.c.id))
    if where.command_id:
        conditions.append(invocations.c.command_id == where.command_id)
    if where.status is not None:
        conditions.append(invocations.c.status == where.status.value)
    if where.tags:
        conditions.append(
            having_tags(invocations.c.id, ResourceType.INVOCATION, tenant, where.tags)
        )
    if where.instance_id:
        conditions.append(
            invocations.c.id.in_(
                select(invocation_targets.c.invocation_id).where(
                    invocation_targets.c.account_id == tenant.account_id,
                    invocation_targets.c.region_id == tenant.region_id,
                    invocation_targets.c.instance_id == where.instance_id,
                )
            )
        )
    total = (
        await conn.execute(select(func.count()).select_from(invocations).where(*conditions))
    ).scalar_one()
    query = select(invocations).where(*conditions)
    query = newest_first(query, invocations.c.created_at, invocations.c.id, next_token, page_size)
    rows = (await conn.execute(query)).all()
    page_rows = rows[:page_size]
    targets = await _targets(conn, [r.id for r in page_rows])
    page = [_invocation(r, targets.get(r.id, [])) for r in page_rows]
    page = await _with_selected(conn, tenant, page)
    own = await tags_by_resource(conn, tenant, ResourceType.INVOCATION, [i.id for i in page])
    page = [replace(i, tags=own.get(i.id, {})) for i in page]
    return page, total, newest_first_token([(r.created_at, r.id) for r in rows], page_size)


async def _targets(conn: AsyncConnection, invoke_ids: list[str]) -> dict[str, list[Target]]:
    rows = await conn.execute(
        select(invocation_targets)
        .where(invocation_targets.c.invocation_id.in_(invoke_ids))
        .order_by(invocation_targets.c.instance_id)
    )
    found: dict[str, list[Target]] = {}
    for row in rows:
        found.setdefault(row.invocation_id, []).append(
            Target(
                instance_id=row.instance_id,
                status=InvocationStatus(row.status),
                next_fire_at=row.next_fire_at,
                repeats=row.repeats,
                overlap_skips=row.overlap_skips,
                misfire_skips=row.misfire_skips,
                created_at=row.created_at,
                updated_at=row.updated_at,
                paused_skips=row.paused_skips,
            )
        )
    return found


async def _with_selected(
    conn: AsyncConnection, tenant: Tenant, page: list[InvocationView]
) -> list[InvocationView]:
    """The page with, for each invocation by selector, which targets match it now."""
    by_selector = [i for i in page if i.resource_tags is not None]
    if not by_selector:
        return page
    ids = sorted({t.instance_id for i in by_selector for t in i.targets})
    tags = await tags_by_resource(conn, tenant, ResourceType.INSTANCE, ids)
    return [
        replace(
            i,
            targets=[
                replace(t, selected=matches(i.resource_tags, tags.get(t.instance_id, {})))
                for t in i.targets
            ],
        )
        if i.resource_tags is not None
        else i
        for i in page
    ]


def _invocation(row: Row[Any], targets: list[Target]) -> InvocationView:
    status = InvocationStatus(row.status)
    return InvocationView(
        id=row.id,
        command_id=row.command_id,
        command_name=row.command_name,
        command_type=CommandType(row.command_type),
        status=status,
        settings=settings_of(row),
        created_at=row.created_at,
        targets=targets,
        # A final invocation has nothing left to pause: a pause before its stop is over.
        paused=row.paused_at is not None and not status.is_final,
        resource_tags=row.resource_tags,
    )


def _settings_columns(settings: InvocationSettings) -> dict[str, Any]:
    """The ``invocations`` columns of the settings: one column per setting, of its name."""
    columns = {name: getattr(settings, name) for name in SETTINGS_FIELDS + _TIMING_COLUMNS}
    return columns | {
        "repeat_mode": settings.repeat_mode.value,
        "parameters": dict(settings.parameters),
    }


def settings_of(row: Row[Any]) -> InvocationSettings:
    """The settings of an ``invocations`` row."""
    columns = {name: row._mapping[name] for name in SETTINGS_FIELDS + _TIMING_COLUMNS}
    return InvocationSettings(
        **columns | {"repeat_mode": RepeatMode(row.repeat_mode), "parameters": dict(row.parameters)}
    )


def command_of(row: Row[Any]) -> Command:
    """The command an ``invocations`` row carries: its own copy, made when it was created
    (and changed by ModifyInvocation), whatever became of the saved command since.

    A common command's copy has the catalogue's typed parameters (issue 13, item 4): a
    ModifyInvocation's values are checked against the release that runs.
    """
    common = catalogue.find(row.command_id)
    return Command(
        id=row.command_id,
        name=row.command_name,
        description="",
        type=CommandType(row.command_type),
        content=row.content,
        working_dir=row.working_dir,
        timeout=row.timeout,
        enable_parameter=row.enable_parameter,
        parameter_names=list(row.parameters),
        kept=True,
        provider=common.provider if common else "",
        parameter_definitions=common.parameter_definitions if common else (),
    )


def _own(tenant: Tenant) -> Any:
    return and_(
        invocations.c.account_id == tenant.account_id,
        invocations.c.region_id == tenant.region_id,
    )
