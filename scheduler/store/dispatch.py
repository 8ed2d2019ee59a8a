"""The dispatcher's queries on executions: what waits for agents, and what no agent took.

What agents report is applied by ``store.reports``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Interval,
    Text,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.delivery import delivery_failure
from scheduler.domain.enums import (
    DISPATCH_STATUSES,
    CommandType,
    InvocationStatus,
    RepeatMode,
)
from scheduler.domain.files import FileSpec
from scheduler.domain.jitter import jitter_offset
from scheduler.domain.models import Command, InvocationSettings, PlannedExecution
from scheduler.domain.status import TargetKey
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store import leases
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.statuses import targets_of
from scheduler.store.tables import (
    executions,
    instance_columns,
    instances,
    invocations,
    of_instance,
    on_instances,
    send_files,
    values_of,
)


@dataclass(kw_only=True, frozen=True)
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
    instance: InstanceKey
    due_at: datetime
    """When it was meant to start: ``scheduled_at`` plus its target's jitter offset, where
    lateness is measured from (a jittered start is not late)."""
    file: FileSpec | None = None
    """A file task's file (SendFile): ``script`` holds its bytes, to be written, not run."""


def new_task(
    tenant: Tenant,
    invoke_id: str,
    command: Command,
    settings: InvocationSettings,
    plan: PlannedExecution,
    *,
    scheduled_at: datetime,
    file: FileSpec | None = None,
) -> TaskView:
    """The task of an execution being created, as ``undelivered`` would read it once stored."""
    return TaskView(
        execution_id=plan.id,
        invocation_id=invoke_id,
        command_id=command.id,
        command_type=command.type,
        script=plan.script,
        working_dir=settings.working_dir,
        username=settings.username,
        timeout=settings.timeout,
        dry_run=settings.repeat_mode is RepeatMode.DRY_RUN,
        container_id=settings.container_id,
        container_name=settings.container_name,
        scheduled_at=scheduled_at,
        status=plan.status,
        instance=InstanceKey(tenant, plan.instance_id),
        due_at=scheduled_at,  # a run at once: no jitter
        file=file,
    )


_FILE_COLUMNS = (
    send_files.c.name.label("file_name"),
    send_files.c.target_dir.label("file_target_dir"),
    send_files.c.file_mode,
    send_files.c.file_owner,
    send_files.c.file_group,
    send_files.c.overwrite.label("file_overwrite"),
)


def _file_of(row: Any) -> FileSpec | None:
    """The file of a task row with ``_FILE_COLUMNS``; None for a script's."""
    if row.file_name is None:
        return None
    return FileSpec(
        name=row.file_name,
        target_dir=row.file_target_dir,
        mode=row.file_mode,
        owner=row.file_owner,
        group=row.file_group,
        overwrite=row.file_overwrite,
    )


_agents = Unnested(
    "a", account_id=Text(), region_id=Text(), instance_id=Text(), stops_only=Boolean()
)
_UNDELIVERED = (
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
        invocations.c.max_jitter,
        *_FILE_COLUMNS,
        executions.c.account_id,
        executions.c.region_id,
        executions.c.instance_id,
    )
    .select_from(
        _agents.rows.join(executions, on_instances(executions, _agents.rows))
        .join(invocations, invocations.c.id == executions.c.invocation_id)
        .outerjoin(send_files, send_files.c.invocation_id == executions.c.invocation_id)
    )
    .where(
        executions.c.status.in_(values_of(DISPATCH_STATUSES)),
        # Held back by rate control: not the agent's until released.
        executions.c.released_at.is_not(None),
        or_(
            executions.c.status == InvocationStatus.STOPPING.value,
            and_(
                _agents.c.stops_only.is_(False),
                or_(
                    bindparam("new_only", type_=Boolean).is_(False),
                    executions.c.delivered_at.is_(None),
                ),
            ),
        ),
    )
    .order_by(executions.c.created_at)
)


async def undelivered(
    conn: AsyncConnection,
    agents: list[InstanceKey],
    stops_only: list[InstanceKey] | None = None,
    *,
    new_only: bool = False,
) -> list[TaskView]:
    """Executions waiting for these instances' agents: to run, or to stop.

    For the instances in ``stops_only`` (agents with no room for tasks now) only
    the executions to stop. ``new_only``: of those to run, only the ones never sent
    (an agent's stream already holds the others).
    """
    keys = [(key, False) for key in agents] + [(key, True) for key in stops_only or []]
    rows = await conn.execute(
        _UNDELIVERED,
        {
            **_agents.bind(
                **instance_columns(key for key, _ in keys),
                stops_only=[only for _, only in keys],
            ),
            "new_only": new_only,
        },
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
            instance=InstanceKey(Tenant(r.account_id, r.region_id), r.instance_id),
            due_at=r.scheduled_at + jitter_offset(r.invocation_id, r.instance_id, r.max_jitter),
            file=_file_of(r),
        )
        for r in rows
    ]


_WITH_WORK = (
    select(executions.c.account_id, executions.c.region_id, executions.c.instance_id)
    .distinct()
    .where(
        executions.c.invocation_id == any_(array_parameter("invocation_ids", Text())),
        executions.c.status.in_(values_of(DISPATCH_STATUSES)),
        executions.c.released_at.is_not(None),
    )
)


async def agents_with_work(conn: AsyncConnection, invoke_ids: list[str]) -> set[InstanceKey]:
    """The instances with executions of these invocations waiting for their agents."""
    rows = await conn.execute(_WITH_WORK, {"invocation_ids": array(invoke_ids)})
    return {InstanceKey(Tenant(r.account_id, r.region_id), r.instance_id) for r in rows}


_STALE_WORK = (
    select(executions.c.account_id, executions.c.region_id, executions.c.instance_id)
    .distinct()
    .select_from(executions.join(instances, of_instance(executions)))
    .where(
        instances.c.dispatcher_id == bindparam("dispatcher_id"),
        executions.c.status.in_(values_of(DISPATCH_STATUSES)),
        or_(
            and_(
                executions.c.status == InvocationStatus.PENDING.value,
                executions.c.delivered_at.is_(None),
                # NULL (held back) is never stale: its age counts from its release.
                executions.c.released_at < func.now() - bindparam("age", type_=Interval),
            ),
            and_(
                executions.c.status == InvocationStatus.STOPPING.value,
                executions.c.stop_requested_at < func.now() - bindparam("age", type_=Interval),
            ),
        ),
    )
)


async def agents_with_stale_work(
    conn: AsyncConnection, dispatcher_id: str, age: timedelta
) -> set[InstanceKey]:
    """The instances held by ``dispatcher_id`` with work older than ``age`` never sent to
    them (to run), or still to stop: work whose notice may have missed this dispatcher."""
    rows = await conn.execute(_STALE_WORK, {"dispatcher_id": dispatcher_id, "age": age})
    return {InstanceKey(Tenant(r.account_id, r.region_id), r.instance_id) for r in rows}


_MARK_DELIVERED = (
    update(executions)
    .where(
        executions.c.id == any_(array_parameter("execution_ids", Text())),
        executions.c.delivered_at.is_(None),
    )
    .values(delivered_at=func.now())
)


async def mark_delivered(conn: AsyncConnection, execution_ids: list[str]) -> None:
    """Record that these executions were sent to their agent."""
    await conn.execute(_MARK_DELIVERED, {"execution_ids": array(execution_ids)})


_OVERDUE = (
    select(
        executions.c.id,
        leases.connected().label("connected"),
        instances.c.last_heartbeat_at,
        func.now().label("now"),
    )
    .select_from(executions.join(instances, of_instance(executions)))
    .where(
        executions.c.status == InvocationStatus.PENDING.value,
        executions.c.acked_at.is_(None),
        # The delivery timeout runs from the release: a held execution (NULL) is no
        # agent's yet, so it is never overdue.
        executions.c.released_at < func.now() - bindparam("delivery_timeout", type_=Interval),
    )
    # Another sweep holds these: they are its to abort.
    .with_for_update(of=executions, skip_locked=True)
)
_aborted = Unnested("a", id=Text(), error_code=Text(), error_info=Text())
_ABORT = (
    update(executions)
    .where(executions.c.id == _aborted.c.id)
    .values(
        status=InvocationStatus.ABORTED.value,
        error_code=_aborted.c.error_code,
        error_info=_aborted.c.error_info,
        finished_at=func.now(),
        updated_at=func.now(),
    )
    .returning(executions.c.invocation_id, executions.c.instance_id)
)


async def abort_undelivered(
    conn: AsyncConnection, delivery_timeout: int, offline_after: int
) -> list[TargetKey]:
    """End executions no agent took within the delivery timeout; returns their targets, sorted.

    Each ends ``Aborted`` with the reason ``domain.delivery.delivery_failure``
    gives from its instance's connection and last heartbeat.
    """
    overdue = (
        await conn.execute(_OVERDUE, {"delivery_timeout": timedelta(seconds=delivery_timeout)})
    ).all()
    if not overdue:
        return []
    failures = [
        delivery_failure(
            connected=row.connected,
            last_heartbeat_at=row.last_heartbeat_at,
            now=row.now,
            delivery_timeout=delivery_timeout,
            offline_after=offline_after,
        )
        for row in overdue
    ]
    rows = await conn.execute(
        _ABORT,
        _aborted.bind(
            id=[row.id for row in overdue],
            error_code=[failure.error_code.value for failure in failures],
            error_info=[failure.error_info for failure in failures],
        ),
    )
    return targets_of(rows)
