"""Queries on executions: creating them for fires, reading results for clients.

What agents are sent and report is in ``store.dispatch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, LargeBinary, Row, Text, case, func, null, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import InvocationStatus
from scheduler.domain.models import PlannedExecution
from scheduler.domain.tenancy import Tenant
from scheduler.store.arrays import Unnested
from scheduler.store.paging import decode_token, encode_token, token_integer
from scheduler.store.tables import Timestamp, executions, invocations


@dataclass(kw_only=True, frozen=True)
class ExecutionView:
    """One execution as DescribeInvocationResults and WatchInvocation show it."""

    id: str
    invocation_id: str
    command_id: str
    instance_id: str
    status: InvocationStatus
    exit_code: int | None
    error_code: str
    error_info: str
    output: bytes
    output_size: int
    dropped: int
    repeat: int
    username: str
    scheduled_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    stop_requested_at: datetime | None
    updated_at: datetime


RESULT_COLUMNS = (
    executions,
    invocations.c.command_id,
    invocations.c.username,
)


async def list_results(
    conn: AsyncConnection,
    invoke_id: str,
    *,
    instance_id: str,
    include_history: bool,
    page_size: int,
    next_token: str,
) -> tuple[list[ExecutionView], int, str]:
    """One page of an invocation's executions by instance, latest run only unless history."""
    conditions = [executions.c.invocation_id == invoke_id]
    if instance_id:
        conditions.append(executions.c.instance_id == instance_id)
    if not include_history:
        latest = (
            select(executions.c.instance_id, func.max(executions.c.repeat).label("repeat"))
            .where(*conditions)
            .group_by(executions.c.instance_id)
            .subquery()
        )
        conditions.append(
            tuple_(executions.c.instance_id, executions.c.repeat).in_(
                select(latest.c.instance_id, latest.c.repeat)
            )
        )
    total = (
        await conn.execute(select(func.count()).select_from(executions).where(*conditions))
    ).scalar_one()
    query = (
        select(*RESULT_COLUMNS)
        .join(invocations, invocations.c.id == executions.c.invocation_id)
        .where(*conditions)
    )
    after = decode_token(next_token, 2)
    if after is not None:
        query = query.where(
            tuple_(executions.c.instance_id, executions.c.repeat)
            > tuple_(str(after[0]), token_integer(after[1]))
        )
    rows = (
        await conn.execute(
            query.order_by(executions.c.instance_id, executions.c.repeat).limit(page_size + 1)
        )
    ).all()
    page = [execution_view(r) for r in rows[:page_size]]
    token = ""
    if len(rows) > page_size:
        token = encode_token([page[-1].instance_id, page[-1].repeat])
    return page, total, token


@dataclass(kw_only=True, frozen=True)
class NewExecution:
    """An execution to create: one fire of a target."""

    tenant: Tenant
    invocation_id: str
    plan: PlannedExecution
    scheduled_at: datetime
    repeat: int
    delivered: bool = False
    """Handed straight to its agent once created (``operations.handover``): marked sent."""
    released: bool = True
    """False: held back by rate control (``domain.rollout``) until a release lets it go."""


_new = Unnested(
    "n",
    id=Text(),
    account_id=Text(),
    region_id=Text(),
    invocation_id=Text(),
    instance_id=Text(),
    scheduled_at=Timestamp,
    repeat=Integer(),
    status=Text(),
    script=LargeBinary(),
    error_code=Text(),
    error_info=Text(),
    delivered=Boolean(),
    released=Boolean(),
)
_created = [c for c in _new.c if c.name not in {"delivered", "released"}]
INSERT_EXECUTIONS = (
    insert(executions)
    .from_select(
        [*(c.name for c in _created), "created_at", "released_at", "delivered_at", "finished_at"],
        select(
            *_created,
            func.clock_timestamp(),
            case((_new.c.released, func.clock_timestamp()), else_=null()),
            case((_new.c.delivered, func.clock_timestamp()), else_=null()),
            # Only a pending execution is still to run; the others were decided at once.
            case(
                (_new.c.status == InvocationStatus.PENDING.value, null()),
                else_=func.clock_timestamp(),
            ),
        ),
    )
    .on_conflict_do_nothing(constraint="uq_executions_fire")
    .returning(executions.c.id)
)
"""Creates executions (``execution_parameters``), at most one per fire; also a part of
``store.invocations``'s statement that stores a run with its executions."""


def execution_parameters(new: Sequence[NewExecution]) -> dict[str, list[Any]]:
    """The parameters of ``INSERT_EXECUTIONS`` for these executions."""
    return _new.bind(
        id=[n.plan.id for n in new],
        account_id=[n.tenant.account_id for n in new],
        region_id=[n.tenant.region_id for n in new],
        invocation_id=[n.invocation_id for n in new],
        instance_id=[n.plan.instance_id for n in new],
        scheduled_at=[n.scheduled_at for n in new],
        repeat=[n.repeat for n in new],
        status=[n.plan.status.value for n in new],
        script=[n.plan.script for n in new],
        error_code=[n.plan.error_code for n in new],
        error_info=[n.plan.error_info for n in new],
        delivered=[n.delivered for n in new],
        released=[n.released for n in new],
    )


async def insert_executions(conn: AsyncConnection, new: list[NewExecution]) -> set[str]:
    """Create executions, at most one per (invocation, instance, instant); returns their ids.

    A fire that already has its execution (the unique key) is left alone. One
    statement of a fixed text whatever the number of rows (``Unnested``).
    """
    if not new:
        return set()
    rows = await conn.execute(INSERT_EXECUTIONS, execution_parameters(new))
    return set(rows.scalars())


def execution_view(row: Row[Any]) -> ExecutionView:
    return ExecutionView(
        id=row.id,
        invocation_id=row.invocation_id,
        command_id=row.command_id,
        instance_id=row.instance_id,
        status=InvocationStatus(row.status),
        exit_code=row.exit_code,
        error_code=row.error_code,
        error_info=row.error_info,
        output=row.output,
        output_size=row.output_size,
        dropped=row.dropped,
        repeat=row.repeat,
        username=row.username,
        scheduled_at=row.scheduled_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        stop_requested_at=row.stop_requested_at,
        updated_at=row.updated_at,
    )
