"""Executions held by agents that stopped answering: found and ended."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Interval, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.delivery import DeliveryFailure
from scheduler.domain.enums import InvocationStatus
from scheduler.store.tables import executions, instances, of_instance, values_of

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
    .returning(executions.c.invocation_id)
)


async def end_lost(conn: AsyncConnection, lost_after: int, failure: DeliveryFailure) -> list[str]:
    """End ``Error`` the executions agents hold without a heartbeat for ``lost_after`` seconds.

    Acknowledged, running and stopping ones; what was never acknowledged is the
    delivery timeout's. Their output so far stays. Returns the invocations, sorted.
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
    return sorted(set(rows.scalars()))
