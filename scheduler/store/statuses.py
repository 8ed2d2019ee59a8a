"""Derived statuses, at the cost of what changed: targets' and, through counts, invocations'.

A target's status follows from its latest execution and whether it is armed
(``target_status_sql``, the twin of ``domain.status.target_status``). An
invocation's overall status follows from which statuses its targets have
(``domain.status.overall_status``), so each invocation keeps how many targets
are in each status (``invocation_status_counts``), changed by delta in the
transaction that changes the targets. Refreshing costs the same few statements,
each of a fixed text, whether the invocation has one target or a thousand.

Locks, always in this order, each set in key order, so concurrent refreshes
never deadlock one another:

1. the changed targets, for the whole transaction: two transactions changing
   executions of one target (a result and a fire, say) derive its status one
   after the other, the second from a snapshot that sees the first's executions,
   so that the old status each subtracts is the one the other wrote. A fire's
   targets are locked already, ``FOR UPDATE`` by their claim
   (``store.targets.claim_due``, ``boot_targets``), so ``store.targets.advance``
   re-derives their statuses as it moves them on, in the one update of those
   rows, and hands the moves to ``refresh_statuses`` (``derived``) to count:
   locking them again would only cost a statement, and a second update of each
   row a new row version and its foreign key checks;
2. at the end, the invocations whose counts change (``FOR NO KEY UPDATE``, which
   inserts of their executions, checking their foreign key, do not wait for):
   the counts are added to and the overall status is derived from them under
   that lock, so of two transactions changing different targets of one
   invocation, the second sees the first's counts and writes the status of
   both. It is held from there to the commit only; transactions that change no
   target's status never take it. The invocation row rather than its counts
   rows: a stop (``store.stopping``) holds it already when it refreshes, and
   taking counts rows first would deadlock with it.

Call ``refresh_statuses`` once per transaction, with every target it changed.

The statements here that join a set of target keys also name their invocations
(``invocation_id = ANY(…)``): joined to a thousand keys alone, PostgreSQL reads
the whole targets table into a hash, which costs what the table holds rather
than what changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Subquery,
    Text,
    and_,
    any_,
    case,
    func,
    insert,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import ACTIVE_STATUSES, InvocationStatus, RepeatMode
from scheduler.domain.status import (
    StatusChange,
    TargetKey,
    count_deltas,
    overall_status,
    presence_changed,
)
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.tables import (
    executions,
    invocation_status_counts,
    invocation_targets,
    invocations,
    on_targets,
    values_of,
)


def target_status_sql(latest: ColumnElement[str], armed: ColumnElement[bool]) -> ColumnElement[str]:
    """``domain.status.target_status`` in SQL (``latest`` NULL: the target has no execution)."""
    return case(
        (latest.in_(values_of(ACTIVE_STATUSES)), latest),
        (armed, InvocationStatus.SCHEDULED.value),
        else_=func.coalesce(latest, InvocationStatus.CANCELLED.value),
    )


_changed = Unnested("k", invocation_id=Text(), instance_id=Text())
_ids = array_parameter("invocation_ids", Text())

_LOCK_TARGETS = (
    select(invocation_targets.c.invocation_id)
    .select_from(
        _changed.rows.join(
            invocation_targets,
            on_targets(invocation_targets, _changed.rows),
        )
    )
    .where(invocation_targets.c.invocation_id == any_(_ids))
    .order_by(invocation_targets.c.invocation_id, invocation_targets.c.instance_id)
    .with_for_update(of=invocation_targets, key_share=True)
)


def rederived(rows: Unnested, armed: ColumnElement[bool] | None = None) -> Subquery:
    """The targets ``rows`` name by ``invocation_id`` and ``instance_id``: every column of
    ``rows``, then each target's status now (``old``) and as its latest execution makes
    it (``new``), armed as ``armed`` says (a column of ``rows``; default: as it is now).

    A statement writing ``new`` back subtracts ``old`` from the counts: it must hold
    the targets' rows, so that no other transaction writes them meanwhile.
    """
    target = invocation_targets.alias("t")
    latest = (
        select(executions.c.status)
        .where(
            on_targets(executions, target),
        )
        .order_by(executions.c.repeat.desc())
        .limit(1)
        .lateral("e")
    )
    return (
        select(
            *rows.c,
            target.c.status.label("old"),
            target_status_sql(latest.c.status, target.c.armed if armed is None else armed).label(
                "new"
            ),
        )
        .select_from(
            rows.rows.join(
                target,
                on_targets(target, rows.rows),
            ).outerjoin(latest, true())
        )
        .subquery("d")
    )


_derived = rederived(_changed)
_REFRESH_TARGETS = (
    update(invocation_targets)
    .where(
        invocation_targets.c.invocation_id == any_(_ids),
        on_targets(invocation_targets, _derived),
        _derived.c.old != _derived.c.new,
    )
    .values(status=_derived.c.new, updated_at=func.now())
    .returning(_derived.c.invocation_id, _derived.c.old, _derived.c.new)
)

# Tags (issue 12): a periodic or boot invocation by selector, not stopped, awaits fires
# whatever its targets (``domain.status.overall_status``).
_SELECTING = and_(
    invocations.c.resource_tags.is_not(None),
    invocations.c.stopped_at.is_(None),
    invocations.c.repeat_mode.in_([m.value for m in RepeatMode if not m.is_immediate]),
).label("selecting")

_LOCK_INVOCATIONS = (
    select(invocations.c.id, invocations.c.status, _SELECTING)
    .where(invocations.c.id == any_(_ids))
    .order_by(invocations.c.id)
    .with_for_update(key_share=True)
)

_deltas = Unnested("c", invocation_id=Text(), status=Text(), targets=Integer())
# Added to the rows there are; a status new to its invocation gets its row. Under
# the invocation's lock, so no other transaction adds the same row meanwhile. (Not
# an upsert: PostgreSQL checks the row it would insert, a negative delta, first.)
_counted = (
    invocation_status_counts.c.invocation_id,
    invocation_status_counts.c.status,
    invocation_status_counts.c.targets,
)
_added = (
    update(invocation_status_counts)
    .where(
        invocation_status_counts.c.invocation_id == _deltas.c.invocation_id,
        invocation_status_counts.c.status == _deltas.c.status,
    )
    .values(targets=invocation_status_counts.c.targets + _deltas.c.targets)
    .returning(*_counted)
    .cte("added")
)
_inserted = (
    insert(invocation_status_counts)
    .from_select(
        ["invocation_id", "status", "targets"],
        select(_deltas.c.invocation_id, _deltas.c.status, _deltas.c.targets).where(
            ~select(_added.c.status)
            .where(
                _added.c.invocation_id == _deltas.c.invocation_id,
                _added.c.status == _deltas.c.status,
            )
            .exists()
        ),
    )
    .returning(*_counted)
    .cte("inserted")
)
# The counts after the deltas, to tell whether any went to or from zero.
_ADD_COUNTS = union_all(select(_added), select(_inserted))

_PRESENT = select(
    invocation_status_counts.c.invocation_id, invocation_status_counts.c.status
).where(
    invocation_status_counts.c.invocation_id == any_(_ids),
    invocation_status_counts.c.targets > 0,
)

_overall = Unnested("v", id=Text(), status=Text())
_SET_INVOCATION_STATUSES = (
    update(invocations).where(invocations.c.id == _overall.c.id).values(status=_overall.c.status)
)


async def refresh_statuses(
    conn: AsyncConnection,
    targets: Iterable[TargetKey],
    *,
    derived: Mapping[TargetKey, StatusChange] | None = None,
    rederive: Iterable[str] = (),
) -> None:
    """Bring the derived statuses of these targets, and of their invocations, up to date
    (SPEC §7), at the cost of the targets given, not of all their invocations' targets.

    Locks the targets, re-derives their statuses, adds the changes to their
    invocations' counts and writes each overall status that changed; see the
    module's docstring for the locks. ``derived``: targets whose statuses the
    transaction has re-derived and written already, holding their rows
    (``store.targets.advance``), and how each moved; they are only counted.
    ``rederive``: invocations whose overall status is derived again even if no count
    moves (a selector invocation stopped: it no longer awaits members).
    """
    derived = derived or {}
    changes = list(derived.values())
    keys = sorted(set(targets) - derived.keys())
    if keys:
        of_keys = _of_targets(keys)
        await conn.execute(_LOCK_TARGETS, of_keys)
        changes += [
            StatusChange(row.invocation_id, InvocationStatus(row.old), InvocationStatus(row.new))
            for row in await conn.execute(_REFRESH_TARGETS, of_keys)
        ]
    deltas = count_deltas(changes)
    rederived_ids = set(rederive)
    if not deltas and not rederived_ids:
        return
    of_ids = {
        "invocation_ids": array(sorted({invoke_id for invoke_id, _ in deltas} | rederived_ids))
    }
    locked = list(await conn.execute(_LOCK_INVOCATIONS, of_ids))
    was = {row.id: InvocationStatus(row.status) for row in locked}
    selecting = {row.id: bool(row.selecting) for row in locked}
    counts: dict[tuple[str, InvocationStatus], int] = {}
    if deltas:
        counted = await conn.execute(
            _ADD_COUNTS,
            _deltas.bind(
                invocation_id=[invoke_id for invoke_id, _ in deltas],
                status=[status.value for _, status in deltas],
                targets=list(deltas.values()),
            ),
        )
        counts = {(r.invocation_id, InvocationStatus(r.status)): r.targets for r in counted}
    # Most changes only move counts between statuses that have targets anyway.
    crossed = sorted(presence_changed(deltas, counts) | (rederived_ids & was.keys()))
    if not crossed:
        return
    present: dict[str, list[InvocationStatus]] = {invoke_id: [] for invoke_id in crossed}
    for row in await conn.execute(_PRESENT, {"invocation_ids": array(crossed)}):
        present[row.invocation_id].append(InvocationStatus(row.status))
    now = {
        invoke_id: overall_status(statuses, selecting=selecting[invoke_id])
        for invoke_id, statuses in present.items()
    }
    moved = sorted(invoke_id for invoke_id, status in now.items() if status is not was[invoke_id])
    if moved:
        await conn.execute(
            _SET_INVOCATION_STATUSES,
            _overall.bind(id=moved, status=[now[invoke_id].value for invoke_id in moved]),
        )


def _of_targets(keys: list[TargetKey]) -> dict[str, list[Any]]:
    """The parameters naming these targets: their keys, and their invocations' ids apart."""
    return {
        **_changed.bind(
            invocation_id=[k.invocation_id for k in keys], instance_id=[k.instance_id for k in keys]
        ),
        "invocation_ids": array(sorted({k.invocation_id for k in keys})),
    }


def target_of(row: Row[*tuple[Any, ...]]) -> TargetKey:
    """The target of an execution's (or a target's) row: its invocation and instance ids."""
    return TargetKey(row.invocation_id, row.instance_id)


def targets_of(rows: Iterable[Row[*tuple[Any, ...]]]) -> list[TargetKey]:
    """The targets of execution (or target) rows, each once, sorted."""
    return sorted({target_of(row) for row in rows})
