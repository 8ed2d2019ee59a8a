"""What a watcher reads: where it starts, then only the executions that may have changed.

A watch follows an invocation for as long as it runs (for ever, if periodic) while
its history grows, so it never reads that history again. It starts from every
run's status and each instance's latest run whole (an unfinished run is always
its instance's latest: a fire while one runs is an overlap skip), and afterwards
reads only

- the runs it saw open (not finished), by id;
- each instance's runs after the latest it saw: ``repeat`` grows by one per fire
  under the target's row lock, so no run commits after a later one of its
  instance — a watermark the database keeps exactly, whatever order commits
  arrive in.

Any other run has a final status that never changes again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    case,
    func,
    literal,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import InvocationStatus
from scheduler.domain.tenancy import Tenant
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.executions import RESULT_COLUMNS, ExecutionView, execution_view
from scheduler.store.tables import executions, invocation_targets, invocations, on_targets


@dataclass(frozen=True)
class Followed:
    """What a watcher has seen of an invocation's executions."""

    open_ids: list[str]
    """The runs it saw that may still change."""
    latest: dict[str, int]
    """Each instance's highest ``repeat`` it saw (instances without a run are left out)."""


async def first_runs(conn: AsyncConnection, invoke_id: str) -> list[ExecutionView]:
    """Where a watch starts: every execution, by instance and repeat, with the output
    of each instance's latest one only (earlier runs are history: their statuses are
    shown once, their output is ``results --history``'s)."""
    latest = tuple_(executions.c.instance_id, executions.c.repeat).in_(
        select(executions.c.instance_id, func.max(executions.c.repeat))
        .where(executions.c.invocation_id == invoke_id)
        .group_by(executions.c.instance_id)
    )
    without_output = [c for c in executions.c if c.name not in ("output", "dropped")]
    # Typed as any row: execution_view reads the columns by name.
    query: Select[Any] = (
        select(
            *without_output,
            case((latest, executions.c.output), else_=literal(b"")).label("output"),
            case((latest, executions.c.dropped), else_=literal(0)).label("dropped"),
            invocations.c.command_id,
            invocations.c.username,
        )
        .join(invocations, invocations.c.id == executions.c.invocation_id)
        .where(executions.c.invocation_id == invoke_id)
        .order_by(executions.c.instance_id, executions.c.repeat)
    )
    return [execution_view(r) for r in await conn.execute(query)]


async def changed_runs(
    conn: AsyncConnection, invoke_id: str, followed: Followed
) -> list[ExecutionView]:
    """The executions that may have changed since the watcher saw ``followed``.

    Index lookups only: the open runs by primary key, the newer runs by
    ``ix_executions_target`` from each target's watermark.
    """
    rows = await conn.execute(
        _CHANGED,
        {"invoke_id": invoke_id, "open_ids": array(followed.open_ids)}
        | _marks.bind(instance_id=list(followed.latest), repeat=list(followed.latest.values())),
    )
    return sorted((execution_view(r) for r in rows), key=lambda e: (e.instance_id, e.repeat))


_marks = Unnested("m", instance_id=Text(), repeat=Integer())
_invoke_id = bindparam("invoke_id", type_=Text())
_newer = (
    select(*RESULT_COLUMNS)
    .select_from(invocation_targets)
    .outerjoin(_marks.rows, _marks.c.instance_id == invocation_targets.c.instance_id)
    .join(
        executions,
        and_(
            on_targets(executions, invocation_targets),
            executions.c.repeat > func.coalesce(_marks.c.repeat, 0),
        ),
    )
    .join(invocations, invocations.c.id == executions.c.invocation_id)
    .where(invocation_targets.c.invocation_id == _invoke_id)
)
_open = (
    select(*RESULT_COLUMNS)
    .join(invocations, invocations.c.id == executions.c.invocation_id)
    .where(
        executions.c.id == any_(array_parameter("open_ids", Text())),
        executions.c.invocation_id == _invoke_id,
    )
)
_CHANGED = union_all(_newer, _open)


async def invocation_status(
    conn: AsyncConnection, tenant: Tenant, invoke_id: str
) -> InvocationStatus | None:
    """The overall status of the tenant's invocation, None when it has no such invocation."""
    status = (
        await conn.execute(
            select(invocations.c.status).where(
                invocations.c.id == invoke_id,
                invocations.c.account_id == tenant.account_id,
                invocations.c.region_id == tenant.region_id,
            )
        )
    ).scalar()
    return None if status is None else InvocationStatus(status)
