"""Stopping an invocation on some of its instances, in one transaction."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.delivery import DeliveryFailure
from scheduler.domain.enums import InvocationStatus
from scheduler.store import leases
from scheduler.store.tables import (
    executions,
    instances,
    invocation_targets,
    invocations,
    of_instance,
    values_of,
)


async def stop(
    conn: AsyncConnection,
    invoke_id: str,
    instance_ids: list[str],
    gone: DeliveryFailure,
    *,
    whole: bool,
) -> list[str]:
    """Stop the invocation on ``instance_ids``; returns the instances whose agents must act.

    Future fires end; executions not yet started are cancelled; running ones
    become ``Stopping`` until their agent confirms — or, when no dispatcher holds
    their agent (it is gone), end ``Terminated`` at once with ``gone``'s reason:
    nobody would ever confirm.
    """
    # Future fires end first: this waits for a ticker (or a boot trigger) that holds
    # the targets mid-fire, so the statements below, on a fresh snapshot, also see
    # and cancel the execution that fire has just created.
    await conn.execute(
        update(invocation_targets)
        .where(
            invocation_targets.c.invocation_id == invoke_id,
            invocation_targets.c.instance_id.in_(instance_ids),
        )
        .values(armed=False, next_fire_at=None, updated_at=func.now())
    )
    ours = (executions.c.invocation_id == invoke_id, executions.c.instance_id.in_(instance_ids))
    await conn.execute(
        update(executions)
        .where(*ours, executions.c.status == InvocationStatus.PENDING.value)
        .values(
            status=InvocationStatus.CANCELLED.value,
            stop_requested_at=func.now(),
            finished_at=func.now(),
            updated_at=func.now(),
        )
    )
    await conn.execute(
        update(executions)
        .where(
            *ours,
            executions.c.status.in_(
                values_of({InvocationStatus.RUNNING, InvocationStatus.STOPPING})
            ),
            select(instances.c.id).where(of_instance(executions), ~leases.connected()).exists(),
        )
        .values(
            status=InvocationStatus.TERMINATED.value,
            error_code=gone.error_code.value,
            error_info=gone.error_info,
            stop_requested_at=func.coalesce(executions.c.stop_requested_at, func.now()),
            finished_at=func.now(),
            updated_at=func.now(),
        )
    )
    stopping = await conn.execute(
        update(executions)
        .where(*ours, executions.c.status == InvocationStatus.RUNNING.value)
        .values(
            status=InvocationStatus.STOPPING.value,
            stop_requested_at=func.now(),
            updated_at=func.now(),
        )
        .returning(executions.c.instance_id)
    )
    to_notify = sorted(set(stopping.scalars()))
    if whole:
        # The invocation itself is stopped (a selector takes in nobody any more); a stop
        # on some of its instances stops those alone.
        await conn.execute(
            update(invocations)
            .where(invocations.c.id == invoke_id, invocations.c.stopped_at.is_(None))
            .values(stopped_at=func.now())
        )
    return to_notify
