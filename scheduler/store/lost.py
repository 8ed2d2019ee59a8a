"""Executions held by agents that stopped answering, or that their agents forgot: ended."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Interval, Text, and_, any_, bindparam, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.delivery import DeliveryFailure
from scheduler.domain.enums import ACTIVE_STATUSES, InvocationStatus
from scheduler.domain.status import TargetKey
from scheduler.domain.tenancy import InstanceKey
from scheduler.store import leases
from scheduler.store.arrays import array, array_parameter
from scheduler.store.statuses import targets_of
from scheduler.store.tables import executions, instances, invocations, of_instance, values_of

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
_END = (
    update(executions)
    .where(executions.c.id.in_(_LOST))
    .values(
        status=bindparam("status"),
        error_code=bindparam("error_code"),
        error_info=bindparam("error_info"),
        finished_at=func.now(),
        updated_at=func.now(),
    )
    .returning(executions.c.invocation_id, executions.c.instance_id)
)


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


_held_now = array_parameter("held", Text())
_of_agent = and_(
    executions.c.account_id == bindparam("account_id_of"),
    executions.c.region_id == bindparam("region_id_of"),
    executions.c.instance_id == bindparam("instance_id_of"),
)
_ACTIVE_HELD = select(executions.c.id).where(
    _of_agent,
    executions.c.id == any_(_held_now),
    executions.c.status.in_(values_of(ACTIVE_STATUSES)),
)
_END_FORGOTTEN = (
    update(executions)
    .where(
        _of_agent,
        executions.c.status.in_(values_of({InvocationStatus.RUNNING, InvocationStatus.STOPPING})),
        ~(executions.c.id == any_(_held_now)),
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
    .returning(executions.c.invocation_id, executions.c.instance_id)
)


async def active_among(conn: AsyncConnection, agent: InstanceKey, held: list[str]) -> set[str]:
    """Which of the executions an agent says it holds are still open on its instance."""
    rows = await conn.execute(_ACTIVE_HELD, {**_agent(agent), "held": array(held)})
    return set(rows.scalars())


async def end_forgotten(
    conn: AsyncConnection, agent: InstanceKey, held: list[str], failure: DeliveryFailure
) -> list[TargetKey]:
    """End the started executions of an instance whose agent does not hold them.

    Running ones end ``Error``, stopping ones ``Terminated``, with ``failure``'s
    reason; output so far stays. Executions not yet started are left: delivery
    sends them again. Returns their targets, sorted.
    """
    rows = await conn.execute(
        _END_FORGOTTEN,
        {
            **_agent(agent),
            "held": array(held),
            "error_code": failure.error_code.value,
            "error_info": failure.error_info,
        },
    )
    return targets_of(rows)


def _agent(agent: InstanceKey) -> dict[str, str]:
    return {
        "account_id_of": agent.tenant.account_id,
        "region_id_of": agent.tenant.region_id,
        "instance_id_of": agent.instance_id,
    }


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
_END_UNREPORTED = (
    update(executions)
    .where(executions.c.id.in_(_UNREPORTED))
    .values(
        status=InvocationStatus.TIMEOUT.value,
        error_code=bindparam("error_code"),
        error_info=bindparam("error_info"),
        finished_at=func.now(),
        updated_at=func.now(),
    )
    .returning(executions.c.invocation_id, executions.c.instance_id)
)


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
