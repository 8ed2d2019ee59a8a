"""Executions held by agents that stopped answering, or that their agents forgot: ended."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Interval,
    Text,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import ReturningUpdate

from scheduler.domain.delivery import DeliveryFailure
from scheduler.domain.enums import ACTIVE_STATUSES, InvocationStatus
from scheduler.domain.status import TargetKey
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store import leases
from scheduler.store.arrays import Unnested
from scheduler.store.statuses import target_of, targets_of
from scheduler.store.tables import (
    executions,
    instance_columns,
    instances,
    invocations,
    of_instance,
    on_instances,
    on_one_instance,
    one_instance,
    values_of,
)


def _ending(*where: ColumnElement[bool], status: Any) -> ReturningUpdate[Any]:
    """The executions ``where`` says, ended ``status`` now with the failure's code and
    message (``error_code``, ``error_info``; their output so far stays); their targets."""
    return (
        update(executions)
        .where(*where)
        .values(
            status=status,
            error_code=bindparam("error_code"),
            error_info=bindparam("error_info"),
            finished_at=func.now(),
            updated_at=func.now(),
        )
        .returning(executions.c.invocation_id, executions.c.instance_id)
    )


_held = executions.alias("held")
_LOST = (
    select(_held.c.id)
    .select_from(_held.join(instances, of_instance(_held)))
    .where(
        or_(
            _held.c.status.in_(values_of({InvocationStatus.RUNNING, InvocationStatus.STOPPING})),
            and_(
                _held.c.status == InvocationStatus.PENDING.value,
                _held.c.acked_at.is_not(None),
            ),
        ),
        instances.c.last_heartbeat_at < func.now() - bindparam("lost_after", type_=Interval),
        # A replica holding the agent's stream answers for it: it closes a stream silent
        # for that long first (so the agent reconciles when it is back).
        ~leases.connected(),
    )
    # Another sweep holds these: they are its to end.
    .with_for_update(of=_held, skip_locked=True)
)
_END = _ending(executions.c.id.in_(_LOST), status=bindparam("status"))


async def end_lost(
    conn: AsyncConnection, lost_after: int, failure: DeliveryFailure
) -> list[TargetKey]:
    """End ``Error`` the executions agents hold without a heartbeat for ``lost_after`` seconds
    and no live stream (``leases.connected``).

    Acknowledged, running and stopping ones; what was never acknowledged is the
    delivery timeout's. Their output so far stays. Returns their targets, sorted.
    """
    rows = await conn.execute(
        _END,
        {
            "lost_after": timedelta(seconds=lost_after),
            "status": InvocationStatus.ERROR.value,
            "error_code": failure.error_code.value,
            "error_info": failure.error_info,
        },
    )
    return targets_of(rows)


# What each reconciling agent says it holds: one row per (instance, execution id).
_holding = Unnested(
    "holding", account_id=Text(), region_id=Text(), instance_id=Text(), execution_id=Text()
)
# The reconciling agents themselves (an agent may hold nothing).
_agents = Unnested("agent", account_id=Text(), region_id=Text(), instance_id=Text())


_ACTIVE_HELD = (
    select(
        executions.c.account_id, executions.c.region_id, executions.c.instance_id, executions.c.id
    )
    .join_from(
        executions,
        _holding.rows,
        and_(on_instances(executions, _holding.rows), executions.c.id == _holding.c.execution_id),
    )
    .where(executions.c.status.in_(values_of(ACTIVE_STATUSES)))
)
_END_FORGOTTEN = (
    update(executions)
    .where(
        on_instances(executions, _agents.rows),
        executions.c.status.in_(values_of({InvocationStatus.RUNNING, InvocationStatus.STOPPING})),
        ~exists().where(
            on_instances(executions, _holding.rows), _holding.c.execution_id == executions.c.id
        ),
    )
    .values(
        status=case(
            (
                executions.c.status == InvocationStatus.STOPPING.value,
                InvocationStatus.TERMINATED.value,
            ),
            else_=InvocationStatus.ERROR.value,
        ),
        error_code=bindparam("error_code"),
        error_info=bindparam("error_info"),
        finished_at=func.now(),
        updated_at=func.now(),
    )
    .returning(
        executions.c.account_id,
        executions.c.region_id,
        executions.c.instance_id,
        executions.c.invocation_id,
    )
)


async def active_among(
    conn: AsyncConnection, held: Mapping[InstanceKey, list[str]]
) -> dict[InstanceKey, set[str]]:
    """Which of the executions each agent says it holds are still open on its instance."""
    rows = await conn.execute(_ACTIVE_HELD, _holding_rows(held))
    still_open: dict[InstanceKey, set[str]] = {agent: set() for agent in held}
    for row in rows:
        still_open[_key(row)].add(row.id)
    return still_open


async def end_forgotten(
    conn: AsyncConnection, held: Mapping[InstanceKey, list[str]], failure: DeliveryFailure
) -> dict[InstanceKey, set[TargetKey]]:
    """End the started executions of these instances that their agents do not hold.

    Running ones end ``Error``, stopping ones ``Terminated``, with ``failure``'s
    reason; output so far stays. Executions not yet started are left: delivery
    sends them again. Returns, per agent that had some, their targets.
    """
    agents = list(held)
    rows = await conn.execute(
        _END_FORGOTTEN,
        {
            **_holding_rows(held),
            **_agents.bind(**instance_columns(agents)),
            "error_code": failure.error_code.value,
            "error_info": failure.error_info,
        },
    )
    forgotten: dict[InstanceKey, set[TargetKey]] = {}
    for row in rows:
        forgotten.setdefault(_key(row), set()).add(target_of(row))
    return forgotten


def _holding_rows(held: Mapping[InstanceKey, list[str]]) -> dict[str, list[Any]]:
    pairs = [(agent, execution_id) for agent, ids in held.items() for execution_id in ids]
    return _holding.bind(
        **instance_columns(agent for agent, _ in pairs),
        execution_id=[execution_id for _, execution_id in pairs],
    )


def _key(row: Any) -> InstanceKey:
    return InstanceKey(Tenant(row.account_id, row.region_id), row.instance_id)


_END_ON_INSTANCE = _ending(
    on_one_instance(executions),
    executions.c.status.in_(values_of(ACTIVE_STATUSES)),
    status=InvocationStatus.ERROR.value,
)


async def end_open(
    conn: AsyncConnection, instance: InstanceKey, failure: DeliveryFailure
) -> list[TargetKey]:
    """End ``Error`` every open execution of the instance, whatever its state (pending,
    running, stopping): no agent will answer for it. Output so far stays. Their targets."""
    rows = await conn.execute(
        _END_ON_INSTANCE,
        {
            **one_instance(instance),
            "error_code": failure.error_code.value,
            "error_info": failure.error_info,
        },
    )
    return targets_of(rows)


_started = executions.alias("started")
_UNREPORTED = (
    select(_started.c.id)
    .select_from(
        _started.join(invocations, invocations.c.id == _started.c.invocation_id).join(
            instances, of_instance(_started)
        )
    )
    .where(
        _started.c.status.in_(values_of({InvocationStatus.RUNNING, InvocationStatus.STOPPING})),
        # A gone agent's executions are the lost rule's (ClientNotResponse).
        leases.connected(),
        _started.c.started_at
        < func.now()
        - func.make_interval(0, 0, 0, 0, 0, 0, invocations.c.timeout + bindparam("grace")),
    )
    # Another sweep holds these: they are its to end.
    .with_for_update(of=_started, skip_locked=True)
)
_END_UNREPORTED = _ending(executions.c.id.in_(_UNREPORTED), status=InvocationStatus.TIMEOUT.value)


async def end_unreported(
    conn: AsyncConnection, grace: int, failure: DeliveryFailure
) -> list[TargetKey]:
    """End ``Timeout`` the started executions still open ``grace`` seconds past their
    timeout while their agent is connected: it answers but never reported their end (a
    bug, a hostile agent). A gone agent's are left to ``end_lost``.

    Output so far stays. Returns their targets, sorted.
    """
    rows = await conn.execute(
        _END_UNREPORTED,
        {"grace": grace, "error_code": failure.error_code.value, "error_info": failure.error_info},
    )
    return targets_of(rows)


_queued = executions.alias("queued")
_UNSTARTED = (
    select(_queued.c.id)
    .select_from(_queued.join(instances, of_instance(_queued)))
    .where(
        _queued.c.status == InvocationStatus.PENDING.value,
        _queued.c.acked_at < func.now() - bindparam("wait", type_=Interval),
        # A gone agent's executions are the lost rule's (ClientNotResponse).
        leases.connected(),
    )
    # Another sweep holds these: they are its to end.
    .with_for_update(of=_queued, skip_locked=True)
)
_END_UNSTARTED = _ending(executions.c.id.in_(_UNSTARTED), status=InvocationStatus.TIMEOUT.value)


async def end_unstarted(
    conn: AsyncConnection, wait: int, failure: DeliveryFailure
) -> list[TargetKey]:
    """End ``Timeout`` the executions acknowledged more than ``wait`` seconds ago and never
    started while their agent is connected: it answers, but holds them without running
    them. A gone agent's are left to ``end_lost``. Returns their targets, sorted."""
    rows = await conn.execute(
        _END_UNSTARTED,
        {
            "wait": timedelta(seconds=wait),
            "error_code": failure.error_code.value,
            "error_info": failure.error_info,
        },
    )
    return targets_of(rows)
