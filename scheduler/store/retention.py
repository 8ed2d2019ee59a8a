"""Retention: what is older than the retention window goes, a small batch per statement.

Each function is one statement deleting at most ``batch`` rows of its table, meant to
run in a short transaction of its own, so that a large backlog never holds locks or
a connection for long. Rows are picked ``FOR UPDATE SKIP LOCKED``: several replicas
may delete at once, each taking rows the others do not hold, and a row some other
transaction is writing is left for a later round.

What goes, and why derived statuses stay right without being refreshed:

* ``old_executions``: finished executions that finished before the window, except
  the latest of each target. A target's status follows from its latest execution
  only (``store.statuses``), which stays, so no target or invocation status moves.
* ``old_invocations``: final invocations (no target armed, every execution finished
  before the window, created before it) with everything they hold: targets,
  status counts and their remaining executions go with them by their foreign keys'
  ``ON DELETE CASCADE``. Their counts go with them: no other invocation's change.
* ``old_commands``: the commands ``RunCommand`` stored without ``keep_command``, once
  older than the window and no invocation of theirs is left. Nothing reads them but
  their invocations' creation (an invocation keeps its own copy of the command), and
  no call can name them (``InvokeCommand`` refuses them as not found).
* ``expired_keys``: idempotency keys older than ``IDEMPOTENCY_HOURS``, which the
  idempotency check treats as absent already (``store.idempotency``).
* ``old_usage``: the daily execution counts (``daily_usage``) of UTC days before
  yesterday. The quota reads only today's row (``store.quota``); yesterday's stays for
  a fire whose transaction began before midnight and counts against that day.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    bindparam,
    cast,
    delete,
    func,
    literal_column,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import FINAL_STATUSES
from scheduler.domain.limits import IDEMPOTENCY_HOURS
from scheduler.store.tables import (
    commands,
    daily_usage,
    executions,
    idempotency_keys,
    invocation_targets,
    invocations,
    on_targets,
    values_of,
)

_batch = bindparam("batch", type_=Integer)
_cutoff: ColumnElement[datetime] = func.now() - func.make_interval(
    0, 0, 0, bindparam("days", type_=Integer)
)

_newer = executions.alias("newer")
_OLD_EXECUTIONS = delete(executions).where(
    executions.c.id.in_(
        select(executions.c.id)
        .where(
            executions.c.finished_at < _cutoff,
            executions.c.status.in_(values_of(FINAL_STATUSES)),
            # Not the target's latest: its status is derived from that one.
            select(_newer.c.id)
            .where(on_targets(_newer, executions), _newer.c.repeat > executions.c.repeat)
            .exists(),
        )
        .limit(_batch)
        .with_for_update(skip_locked=True)
    )
)

_held = executions.alias("held")
_candidates = (
    select(invocations.c.id)
    .where(
        invocations.c.status.in_(values_of(FINAL_STATUSES)),
        invocations.c.created_at < _cutoff,
        ~select(invocation_targets.c.instance_id)
        .where(invocation_targets.c.invocation_id == invocations.c.id, invocation_targets.c.armed)
        .exists(),
        ~select(_held.c.id)
        .where(
            _held.c.invocation_id == invocations.c.id,
            (_held.c.finished_at.is_(None)) | (_held.c.finished_at >= _cutoff),
        )
        .exists(),
    )
    .order_by(invocations.c.created_at)
    .limit(_batch)
    .with_for_update(of=invocations, skip_locked=True)
    .cte("candidates")
)
_rows = (
    select(func.count().label("rows"))
    .where(executions.c.invocation_id == _candidates.c.id)
    .lateral("held_rows")
)
# Each invocation takes its executions along: whole invocations, in order, as long as
# their executions fit in the batch (the first one always, to make progress).
_sized = (
    select(
        _candidates.c.id,
        _rows.c.rows,
        (func.sum(_rows.c.rows).over(order_by=_candidates.c.id) - _rows.c.rows).label("before"),
    )
    .select_from(_candidates.join(_rows, literal_column("true")))
    .cte("sized")
)
_deleted = (
    delete(invocations)
    .where(
        invocations.c.id.in_(
            select(_sized.c.id).where(
                (_sized.c.before == 0) | (_sized.c.before + _sized.c.rows <= _batch)
            )
        )
    )
    .returning(invocations.c.id)
    .cte("deleted")
)
_OLD_INVOCATIONS = select(
    func.count().label("invocations"), func.coalesce(func.sum(_sized.c.rows), 0).label("rows")
).select_from(_deleted.join(_sized, _sized.c.id == _deleted.c.id))

_OLD_COMMANDS = delete(commands).where(
    commands.c.id.in_(
        select(commands.c.id)
        .where(
            ~commands.c.kept,
            commands.c.created_at < _cutoff,
            ~select(invocations.c.id).where(invocations.c.command_id == commands.c.id).exists(),
        )
        .limit(_batch)
        .with_for_update(skip_locked=True)
    )
)

_key = tuple_(
    idempotency_keys.c.account_id,
    idempotency_keys.c.region_id,
    idempotency_keys.c.operation,
    idempotency_keys.c.client_token,
)
_EXPIRED_KEYS = delete(idempotency_keys).where(
    _key.in_(
        select(
            idempotency_keys.c.account_id,
            idempotency_keys.c.region_id,
            idempotency_keys.c.operation,
            idempotency_keys.c.client_token,
        )
        .where(
            idempotency_keys.c.created_at
            < func.now() - func.make_interval(0, 0, 0, 0, IDEMPOTENCY_HOURS)
        )
        .limit(_batch)
        .with_for_update(skip_locked=True)
    )
)

_OLD_USAGE = delete(daily_usage).where(
    tuple_(daily_usage.c.account_id, daily_usage.c.region_id, daily_usage.c.day).in_(
        select(daily_usage.c.account_id, daily_usage.c.region_id, daily_usage.c.day)
        .where(daily_usage.c.day < cast(func.timezone("UTC", func.now()), Date) - 1)
        .limit(_batch)
        .with_for_update(skip_locked=True)
    )
)


async def old_executions(conn: AsyncConnection, *, days: int, batch: int) -> int:
    """Delete up to ``batch`` finished executions older than ``days`` that are not their
    target's latest; returns how many went."""
    result = await conn.execute(_OLD_EXECUTIONS, {"days": days, "batch": batch})
    return result.rowcount


async def old_invocations(conn: AsyncConnection, *, days: int, batch: int) -> tuple[int, int]:
    """Delete final invocations whose every execution finished before ``days`` ago, with
    their targets, counts and executions: whole invocations while their executions fit
    in ``batch`` (at least one); returns how many invocations and executions went."""
    row = (await conn.execute(_OLD_INVOCATIONS, {"days": days, "batch": batch})).one()
    return int(row.invocations), int(row.rows)


async def old_commands(conn: AsyncConnection, *, days: int, batch: int) -> int:
    """Delete up to ``batch`` commands RunCommand did not keep, older than ``days``, whose
    invocations are all gone; returns how many went."""
    result = await conn.execute(_OLD_COMMANDS, {"days": days, "batch": batch})
    return result.rowcount


async def expired_keys(conn: AsyncConnection, *, batch: int) -> int:
    """Delete up to ``batch`` idempotency keys past ``IDEMPOTENCY_HOURS``; returns how many."""
    result = await conn.execute(_EXPIRED_KEYS, {"batch": batch})
    return result.rowcount


async def old_usage(conn: AsyncConnection, *, batch: int) -> int:
    """Delete up to ``batch`` daily execution counts of UTC days before yesterday; returns
    how many went."""
    result = await conn.execute(_OLD_USAGE, {"batch": batch})
    return result.rowcount
