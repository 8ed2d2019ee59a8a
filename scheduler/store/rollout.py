"""Rolling rate control in the database: releasing held executions, cancelling them.

An execution held back by rate control is ``Pending`` with ``released_at`` NULL: the
dispatcher never reads it and no sweep counts it overdue (``store.dispatch``). Each
transaction that changes executions moves the fires of its invocations on
(``advance_fires``, from ``operations.changes``), so that whatever ended an execution —
a result, a lost agent, a timeout, a stop — releases the next ones in that same
transaction, or cancels them once the fire failed too often (``domain.rollout``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, Text, and_, any_, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.codes import ExecutionErrorCode
from scheduler.domain.enums import ACTIVE_STATUSES, InvocationStatus
from scheduler.domain.rollout import (
    FAILURE_STATUSES,
    MAX_ERRORS_EXCEEDED_INFO,
    FireProgress,
    next_step,
)
from scheduler.domain.status import TargetKey
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.statuses import targets_of
from scheduler.store.tables import Timestamp, executions, invocations, values_of

_held = and_(
    executions.c.released_at.is_(None),
    executions.c.status == InvocationStatus.PENDING.value,
)
"""Held back by rate control (``ix_executions_held`` holds exactly these rows)."""

_HELD_FIRES = (
    select(executions.c.invocation_id, executions.c.scheduled_at)
    .distinct()
    .where(executions.c.invocation_id == any_(array_parameter("invocation_ids", Text())), _held)
)

# The invocation's row serializes its fires' steps: a step counts what every earlier
# one committed. Taken after ``store.statuses`` locked the targets and, for counts,
# the same rows in the same order (targets, then invocations).
_LOCK_INVOCATIONS = (
    select(invocations.c.id, invocations.c.max_concurrency, invocations.c.max_errors)
    .where(invocations.c.id == any_(array_parameter("invocation_ids", Text())))
    .order_by(invocations.c.id)
    .with_for_update(key_share=True)
)

_fires = Unnested("f", invocation_id=Text(), scheduled_at=Timestamp)
_of_fire = and_(
    executions.c.invocation_id == _fires.c.invocation_id,
    executions.c.scheduled_at == _fires.c.scheduled_at,
)
_PROGRESS = (
    select(
        _fires.c.invocation_id,
        _fires.c.scheduled_at,
        func.count().label("targets"),
        func.count()
        .filter(
            executions.c.released_at.is_not(None),
            executions.c.status.in_(values_of(ACTIVE_STATUSES)),
        )
        .label("running"),
        func.count().filter(executions.c.status.in_(values_of(FAILURE_STATUSES))).label("failed"),
        func.count().filter(_held).label("held"),
    )
    .select_from(_fires.rows.join(executions, _of_fire))
    .group_by(_fires.c.invocation_id, _fires.c.scheduled_at)
)

_releases = Unnested("r", invocation_id=Text(), scheduled_at=Timestamp, count=Integer())
_next_held = (
    select(executions.c.id)
    .where(
        executions.c.invocation_id == _releases.c.invocation_id,
        executions.c.scheduled_at == _releases.c.scheduled_at,
        _held,
    )
    # The stable order an operator can predict the slices from.
    .order_by(executions.c.instance_id)
    .limit(_releases.c.count)
    .lateral("next_held")
)
_RELEASE = (
    update(executions)
    .where(
        executions.c.id.in_(
            select(_next_held.c.id).select_from(_releases.rows.join(_next_held, true()))
        ),
        _held,
    )
    .values(released_at=func.now(), updated_at=func.now())
    .returning(executions.c.invocation_id)
)

_CANCEL = (
    update(executions)
    .where(_of_fire, _held)
    .values(
        status=InvocationStatus.CANCELLED.value,
        error_code=ExecutionErrorCode.MAX_ERRORS_EXCEEDED.value,
        error_info=MAX_ERRORS_EXCEEDED_INFO,
        finished_at=func.now(),
        updated_at=func.now(),
    )
    .returning(executions.c.invocation_id, executions.c.instance_id)
)


@dataclass(frozen=True)
class Advanced:
    """What ``advance_fires`` did: invocations with executions released for their agents,
    and the targets whose held executions it cancelled (their statuses changed)."""

    released_in: list[str]
    cancelled: list[TargetKey]


async def advance_fires(conn: AsyncConnection, invoke_ids: Sequence[str]) -> Advanced:
    """Move on the fires of these invocations that hold executions back: release as many
    as ``max_concurrency`` leaves room for, in instance id order, or, past ``max_errors``,
    cancel them all (``domain.rollout.next_step``). A few statements, whatever the number
    of fires; one cheap read when none holds anything back (no rate control)."""
    held = (
        await conn.execute(_HELD_FIRES, {"invocation_ids": array(sorted(set(invoke_ids)))})
    ).all()
    if not held:
        return Advanced([], [])
    limits = {
        row.id: (row.max_concurrency, row.max_errors)
        for row in await conn.execute(
            _LOCK_INVOCATIONS,
            {"invocation_ids": array(sorted({row.invocation_id for row in held}))},
        )
    }
    progress = await conn.execute(
        _PROGRESS,
        _fires.bind(
            invocation_id=[row.invocation_id for row in held],
            scheduled_at=[row.scheduled_at for row in held],
        ),
    )
    releases: list[tuple[str, datetime, int]] = []
    cancels: list[tuple[str, datetime]] = []
    for row in progress:
        max_concurrency, max_errors = limits[row.invocation_id]
        step = next_step(
            FireProgress(
                targets=row.targets, running=row.running, failed=row.failed, held=row.held
            ),
            max_concurrency=max_concurrency,
            max_errors=max_errors,
        )
        if step.cancel_held:
            cancels.append((row.invocation_id, row.scheduled_at))
        elif step.release:
            releases.append((row.invocation_id, row.scheduled_at, step.release))
    released_in: set[str] = set()
    if releases:
        rows = await conn.execute(
            _RELEASE,
            _releases.bind(
                invocation_id=[r[0] for r in releases],
                scheduled_at=[r[1] for r in releases],
                count=[r[2] for r in releases],
            ),
        )
        released_in = set(rows.scalars())
    cancelled: list[TargetKey] = []
    if cancels:
        rows = await conn.execute(
            _CANCEL,
            _fires.bind(
                invocation_id=[c[0] for c in cancels], scheduled_at=[c[1] for c in cancels]
            ),
        )
        cancelled = targets_of(rows)
    return Advanced(sorted(released_in), cancelled)
