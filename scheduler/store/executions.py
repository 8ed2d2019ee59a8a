"""Queries on executions: reading results and recording what agents report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import CommandType, InvocationStatus, RepeatMode
from scheduler.domain.models import ExecutionResult, PlannedExecution
from scheduler.domain.tenancy import Tenant
from scheduler.store.paging import decode_token, encode_token
from scheduler.store.tables import executions, invocations

_NOT_YET_REPORTED = (
    InvocationStatus.PENDING.value,
    InvocationStatus.RUNNING.value,
    InvocationStatus.STOPPING.value,
    # Server-side verdicts that an agent's own report overrides: it did run.
    InvocationStatus.CANCELLED.value,
    InvocationStatus.ABORTED.value,
)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class TaskView:
    """What an agent needs to run one execution."""

    execution_id: str
    invocation_id: str
    command_id: str
    command_type: CommandType
    script: bytes
    working_dir: str
    username: str
    timeout: int
    dry_run: bool
    container_id: str
    container_name: str
    scheduled_at: datetime
    status: InvocationStatus
    instance_id: str


_RESULT_COLUMNS = (
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
        select(*_RESULT_COLUMNS)
        .join(invocations, invocations.c.id == executions.c.invocation_id)
        .where(*conditions)
    )
    after = decode_token(next_token, 2)
    if after is not None:
        query = query.where(
            tuple_(executions.c.instance_id, executions.c.repeat) > tuple_(str(after[0]), after[1])
        )
    rows = (
        await conn.execute(
            query.order_by(executions.c.instance_id, executions.c.repeat).limit(page_size + 1)
        )
    ).all()
    page = [_execution(r) for r in rows[:page_size]]
    token = ""
    if len(rows) > page_size:
        token = encode_token([page[-1].instance_id, page[-1].repeat])
    return page, total, token


async def executions_of(conn: AsyncConnection, invoke_id: str) -> list[ExecutionView]:
    """Every execution of an invocation (for watching it)."""
    rows = await conn.execute(
        select(*_RESULT_COLUMNS)
        .join(invocations, invocations.c.id == executions.c.invocation_id)
        .where(executions.c.invocation_id == invoke_id)
        .order_by(executions.c.instance_id, executions.c.repeat)
    )
    return [_execution(r) for r in rows]


async def undelivered(conn: AsyncConnection, instance_ids: list[str]) -> list[TaskView]:
    """Executions waiting for these instances' agents: to run, or to stop."""
    rows = await conn.execute(
        select(
            executions.c.id,
            executions.c.invocation_id,
            executions.c.script,
            executions.c.scheduled_at,
            executions.c.status,
            invocations.c.command_id,
            invocations.c.command_type,
            invocations.c.working_dir,
            invocations.c.username,
            invocations.c.timeout,
            invocations.c.repeat_mode,
            invocations.c.container_id,
            invocations.c.container_name,
            executions.c.instance_id,
        )
        .join(invocations, invocations.c.id == executions.c.invocation_id)
        .where(
            executions.c.instance_id.in_(instance_ids),
            executions.c.status.in_(
                [InvocationStatus.PENDING.value, InvocationStatus.STOPPING.value]
            ),
        )
        .order_by(executions.c.created_at)
    )
    return [
        TaskView(
            execution_id=r.id,
            invocation_id=r.invocation_id,
            command_id=r.command_id,
            command_type=CommandType(r.command_type),
            script=r.script,
            working_dir=r.working_dir,
            username=r.username,
            timeout=r.timeout,
            dry_run=r.repeat_mode == RepeatMode.DRY_RUN.value,
            container_id=r.container_id,
            container_name=r.container_name,
            scheduled_at=r.scheduled_at,
            status=InvocationStatus(r.status),
            instance_id=r.instance_id,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class NewExecution:
    """An execution to create: one fire of a target."""

    tenant: Tenant
    invocation_id: str
    plan: PlannedExecution
    scheduled_at: datetime
    repeat: int


_INSERT_EXECUTIONS = """
    INSERT INTO executions AS e (id, account_id, region_id, invocation_id, instance_id,
      scheduled_at, repeat, status, script, error_code, error_info, created_at, finished_at)
    SELECT n.id, n.account_id, n.region_id, n.invocation_id, n.instance_id,
      n.scheduled_at, n.repeat, n.status, n.script, n.error_code, n.error_info,
      clock_timestamp(),
      CASE WHEN n.status = 'Pending' THEN NULL ELSE clock_timestamp() END
    FROM unnest(
      CAST(%(id)b AS text[]), CAST(%(account_id)b AS text[]), CAST(%(region_id)b AS text[]),
      CAST(%(invocation_id)b AS text[]), CAST(%(instance_id)b AS text[]),
      CAST(%(scheduled_at)b AS timestamptz[]), CAST(%(repeat)b AS integer[]),
      CAST(%(status)b AS text[]), CAST(%(script)b AS bytea[]),
      CAST(%(error_code)b AS text[]), CAST(%(error_info)b AS text[])
    ) AS n(id, account_id, region_id, invocation_id, instance_id,
           scheduled_at, repeat, status, script, error_code, error_info)
    ON CONFLICT ON CONSTRAINT uq_executions_fire DO NOTHING
    RETURNING e.id
    """


async def insert_executions(conn: AsyncConnection, new: list[NewExecution]) -> set[str]:
    """Create executions, at most one per (invocation, instance, instant); returns their ids.

    A fire that already has its execution (the unique key) is left alone. One
    statement of a fixed text whatever the number of rows (the rows travel as
    arrays), so PostgreSQL prepares it once and neither SQLAlchemy nor the
    driver renders a bind parameter per value.
    """
    if not new:
        return set()
    rows = await conn.exec_driver_sql(
        _INSERT_EXECUTIONS,
        {
            "id": [n.plan.id for n in new],
            "account_id": [n.tenant.account_id for n in new],
            "region_id": [n.tenant.region_id for n in new],
            "invocation_id": [n.invocation_id for n in new],
            "instance_id": [n.plan.instance_id for n in new],
            "scheduled_at": [n.scheduled_at for n in new],
            "repeat": [n.repeat for n in new],
            "status": [n.plan.status.value for n in new],
            "script": [n.plan.script for n in new],
            "error_code": [n.plan.error_code for n in new],
            "error_info": [n.plan.error_info for n in new],
        },
    )
    return set(rows.scalars())


async def mark_delivered(conn: AsyncConnection, execution_ids: list[str]) -> None:
    """Record that these executions were sent to their agent."""
    await conn.execute(
        update(executions)
        .where(executions.c.id.in_(execution_ids), executions.c.delivered_at.is_(None))
        .values(delivered_at=func.now())
    )


async def acknowledge(conn: AsyncConnection, execution_id: str, instance_id: str) -> None:
    """The agent holds the execution: the delivery timeout no longer applies."""
    await conn.execute(
        update(executions)
        .where(_of_instance(execution_id, instance_id), executions.c.acked_at.is_(None))
        .values(acked_at=func.now())
    )


async def start(
    conn: AsyncConnection, execution_id: str, instance_id: str, started_at: datetime
) -> tuple[str, InvocationStatus] | None:
    """Mark a pending execution running; returns its invocation and resulting status."""
    await conn.execute(
        update(executions)
        .where(
            _of_instance(execution_id, instance_id),
            executions.c.status == InvocationStatus.PENDING.value,
        )
        .values(
            status=InvocationStatus.RUNNING.value,
            started_at=started_at,
            acked_at=func.coalesce(executions.c.acked_at, func.now()),
            updated_at=func.now(),
        )
    )
    row = (
        await conn.execute(
            select(executions.c.invocation_id, executions.c.status).where(
                _of_instance(execution_id, instance_id)
            )
        )
    ).first()
    return None if row is None else (row.invocation_id, InvocationStatus(row.status))


async def append_output(
    conn: AsyncConnection, execution_id: str, instance_id: str, offset: int, data: bytes, limit: int
) -> str | None:
    """Keep live output up to ``limit`` bytes; returns the invocation id, None if unknown.

    Only the head is stored while running; the agent's final result carries
    head and tail. A chunk before the stored end (a resend) is ignored; one
    after it (the agent dropped live output while disconnected) is appended.
    """
    row = (
        await conn.execute(
            update(executions)
            .where(
                _of_instance(execution_id, instance_id),
                executions.c.output_size <= offset,
            )
            .values(
                output=func.substring(executions.c.output.concat(data), 1, limit),
                output_size=offset + len(data),
            )
            .returning(executions.c.invocation_id)
        )
    ).first()
    if row is not None:
        return str(row.invocation_id)
    found = (
        await conn.execute(
            select(executions.c.invocation_id).where(_of_instance(execution_id, instance_id))
        )
    ).first()
    return None if found is None else str(found.invocation_id)


async def finish(conn: AsyncConnection, instance_id: str, result: ExecutionResult) -> str | None:
    """Record an agent's final result; returns the invocation id, None if nothing changed."""
    row = (
        await conn.execute(
            update(executions)
            .where(
                _of_instance(result.execution_id, instance_id),
                executions.c.status.in_(_NOT_YET_REPORTED),
            )
            .values(
                status=result.status.value,
                exit_code=result.exit_code,
                error_code=result.error_code,
                error_info=result.error_info,
                output=result.output,
                output_size=len(result.output) + result.dropped,
                dropped=result.dropped,
                started_at=func.coalesce(result.started_at, executions.c.started_at),
                finished_at=result.finished_at or func.now(),
                updated_at=func.now(),
            )
            .returning(executions.c.invocation_id)
        )
    ).first()
    return None if row is None else str(row.invocation_id)


async def abort_undelivered(
    conn: AsyncConnection, delivery_timeout: int, offline_after: int
) -> list[str]:
    """End executions no agent took within the delivery timeout; returns their invocations."""
    rows = await conn.execute(
        text(
            """
            UPDATE executions e SET
              status = 'Aborted',
              error_code = CASE
                WHEN i.dispatcher_id IS NOT NULL THEN 'DeliveryTimeout'
                WHEN i.last_heartbeat_at < now() - make_interval(secs => :offline_after)
                  THEN 'ClientNotRunning'
                ELSE 'ClientNotResponse' END,
              error_info = CASE
                WHEN i.dispatcher_id IS NOT NULL
                  THEN 'the agent is connected but did not take the task within '
                       || :delivery_timeout || ' s'
                ELSE 'the agent was not connected to take the task within '
                       || :delivery_timeout || ' s' END,
              finished_at = now(),
              updated_at = now()
            FROM instances i
            WHERE i.id = e.instance_id
              AND e.status = 'Pending' AND e.acked_at IS NULL
              AND e.created_at < now() - make_interval(secs => :delivery_timeout)
            RETURNING e.invocation_id
            """
        ),
        {"delivery_timeout": delivery_timeout, "offline_after": offline_after},
    )
    return sorted(set(rows.scalars()))


def _of_instance(execution_id: str, instance_id: str) -> Any:
    # An agent may only touch executions of its own instance.
    return and_(executions.c.id == execution_id, executions.c.instance_id == instance_id)


def _execution(row: Row[Any]) -> ExecutionView:
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
