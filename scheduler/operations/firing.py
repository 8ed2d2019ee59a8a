"""A fire: due targets become executions, within quota, in the transaction that claimed them.

Used by the ticker (schedules) and by agent registration (boot triggers). The
caller holds the targets' row locks; ``fire`` advances them, creates their
executions and refreshes the invocations in that same transaction, so a target
never moves on without its execution, nor runs twice.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain import ids
from scheduler.domain.codes import ExecutionErrorCode
from scheduler.domain.enums import InvocationStatus, RepeatMode
from scheduler.domain.firing import instance_zone, plan_fire, window_of
from scheduler.domain.invocation import render_execution
from scheduler.domain.limits import Limits
from scheduler.domain.models import PlannedExecution
from scheduler.domain.status import StatusChange, TargetKey, chained
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.observability import metrics
from scheduler.operations.changes import invocations_changed
from scheduler.schedule import Schedule, ScheduleError, parse_frequency
from scheduler.store import quota
from scheduler.store import selectors as selector_store
from scheduler.store import targets as target_store
from scheduler.store.clock import database_now
from scheduler.store.executions import NewExecution, insert_executions
from scheduler.store.targets import ArmedTarget, TargetUpdate

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Fire:
    """One scheduled instant of one target, to run."""

    target: ArmedTarget
    scheduled_at: datetime
    """The nominal instant: the same for every target of one fire, whatever its jitter."""
    starts_at: datetime
    """When its execution is created: ``scheduled_at`` plus the target's jitter offset."""


@dataclass(frozen=True, kw_only=True)
class Fired:
    """What a fire did, to count once its transaction has committed (``count``)."""

    trigger: str
    created: int
    overlap_skips: int
    misfire_skips: int
    paused_skips: int


@dataclass(frozen=True, kw_only=True)
class Round:
    """What a batch of due targets does: the fires to run and how every target moves on."""

    fires: list[Fire]
    updates: list[TargetUpdate]


async def decide(
    conn: AsyncConnection, due: list[ArmedTarget], now: datetime, *, grace: timedelta
) -> Round:
    """Decide each claimed target's fire at ``now``: misfire grace, overlap, next fire.

    A target of a selector invocation whose instance no longer has the selector's tags
    is disarmed without a fire (``store.selectors.unselected``). A target whose fire
    cannot be decided (an unexpected error of the schedule engine, bad data) fails
    alone: it is logged, counted in ``kairos_fire_errors_total`` and disarmed like a
    target with an invalid schedule, so that it neither fails every round nor holds up
    the others.
    """
    keys = [TargetKey(t.invocation_id, t.instance.id) for t in due]
    busy = await target_store.busy(conn, keys)
    # Tags (issue 12): a selector's target whose instance lost the tags fires no more.
    left = await selector_store.unselected(conn, keys)
    fires: list[Fire] = []
    updates: list[TargetUpdate] = []
    for target in due:
        # A deregistered instance fires no more either, however its target stayed armed (a
        # creation racing the deregistration, or armed before deregistration disarmed);
        # nor does a stopped invocation (a member joining, or a modify adding an instance,
        # beside the stop, which disarmed only the targets it saw).
        gone = target.deregistered or target.stopped
        if gone or TargetKey(target.invocation_id, target.instance.id) in left:
            updates.append(_disarmed(target))
            continue
        try:
            fire, update = _decide(
                target,
                now,
                busy=TargetKey(target.invocation_id, target.instance.id) in busy,
                grace=grace,
            )
        except Exception:
            log.exception(
                "disarming target whose fire could not be decided",
                extra={"invocation_id": target.invocation_id, "instance_id": target.instance.id},
            )
            metrics.fire_errors.inc()
            fire, update = None, _disarmed(target)
        if fire is not None:
            fires.append(fire)
        updates.append(update)
    return Round(fires=fires, updates=updates)


async def fire(
    conn: AsyncConnection,
    limits: Limits,
    round_: Round,
    today: date,
    *,
    trigger: str,
    changed: Iterable[TargetKey] = (),
    created: Mapping[TargetKey, StatusChange] | None = None,
) -> Fired:
    """Advance the targets, create the fires' executions, refresh and notify.

    Each tenant's daily quota is consumed in this transaction; a fire beyond
    it becomes a visible ``Failed`` execution (``InvocationQuotaExceeded``),
    never a silent gap. ``changed``: other targets the transaction changed,
    refreshed with the fires' in the one ``invocations_changed`` of the transaction;
    ``created``: targets the transaction created (selector members), counted with them.
    """
    new = await _new_executions(conn, limits, round_.fires, today)
    inserted = await insert_executions(conn, new)
    # After the executions: advancing re-derives each target's status from its latest.
    derived = _after_creation(created or {}, await target_store.advance(conn, round_.updates))
    created_new = [n for n in new if n.plan.id in inserted]
    await invocations_changed(
        conn,
        [TargetKey(n.invocation_id, n.plan.instance_id) for n in created_new]
        + [TargetKey(u.invocation_id, u.instance_id) for u in round_.updates if not u.armed]
        + list(changed)
        + list(created or {}),
        derived=derived,
        new_work_in=[
            n.invocation_id for n in created_new if n.plan.status is InvocationStatus.PENDING
        ],
    )
    return Fired(
        trigger=trigger,
        created=len(created_new),
        overlap_skips=sum(u.overlap_skips for u in round_.updates),
        misfire_skips=sum(u.misfire_skips for u in round_.updates),
        paused_skips=sum(u.paused_skips for u in round_.updates),
    )


def count(fired: Fired | None) -> None:
    """Count a fire in the metrics: only after its transaction committed, so a retried
    or rolled-back round is never counted twice."""
    if fired is None:
        return
    metrics.fires.labels(fired.trigger).inc(fired.created)
    metrics.fire_skips.labels("overlap").inc(fired.overlap_skips)
    metrics.fire_skips.labels("misfire").inc(fired.misfire_skips)
    metrics.fire_skips.labels("paused").inc(fired.paused_skips)


def _after_creation(
    created: Mapping[TargetKey, StatusChange], advanced: Mapping[TargetKey, StatusChange]
) -> dict[TargetKey, StatusChange]:
    """The moves of targets created, then (some) advanced, in one transaction."""
    moves = dict(created)
    for key, move in advanced.items():
        moves[key] = chained(moves[key], move) if key in moves else move
    return moves


async def fire_boot_triggers(
    conn: AsyncConnection,
    limits: Limits,
    booted: Sequence[InstanceKey],
    *,
    changed: Iterable[TargetKey] = (),
    created: Mapping[TargetKey, StatusChange] | None = None,
) -> Fired:
    """Create the executions of these instances' boots, in one round; NEXT_REBOOT_ONLY
    targets then disarm, as do selector targets whose instance lost the tags (without a
    run). ``changed``, ``created``: as for ``fire``.

    Runs in the transaction that records the new boot ids, so a boot fires
    once however often the agent reconnects. A boot while the invocation is paused
    is a skip, counted in ``paused_skips``; the target stays armed (a
    NEXT_REBOOT_ONLY one runs at the first boot after its resume).
    """
    now = await database_now(conn)
    fires: list[Fire] = []
    updates: list[TargetUpdate] = []
    targets = [t for key in booted for t in await target_store.boot_targets(conn, key)]
    left = await selector_store.unselected(
        conn, [TargetKey(t.invocation_id, t.instance.id) for t in targets]
    )
    for target in targets:
        if TargetKey(target.invocation_id, target.instance.id) in left:
            updates.append(_disarmed(target))
            continue
        if not target.paused:
            fires.append(Fire(target=target, scheduled_at=now, starts_at=now))
        updates.append(
            TargetUpdate(
                invocation_id=target.invocation_id,
                instance_id=target.instance.id,
                armed=target.paused or target.repeat_mode is RepeatMode.EVERY_REBOOT,
                next_fire_at=None,
                fired=0 if target.paused else 1,
                overlap_skips=0,
                misfire_skips=0,
                paused_skips=1 if target.paused else 0,
            )
        )
    round_ = Round(fires=fires, updates=updates)
    return await fire(
        conn, limits, round_, now.date(), trigger="boot", changed=changed, created=created
    )


def unscheduled_round(targets: list[ArmedTarget], now: datetime, *, busy: set[TargetKey]) -> Round:
    """One fire at ``now`` of these locked targets outside their schedules (a trigger): each
    keeps its next fire; one with a run still going (``busy``) is an overlap skip."""
    fires: list[Fire] = []
    updates: list[TargetUpdate] = []
    for target in targets:
        skipped = TargetKey(target.invocation_id, target.instance.id) in busy
        if not skipped:
            # Now, as asked: a trigger is not jittered.
            fires.append(Fire(target=target, scheduled_at=now, starts_at=now))
        updates.append(
            TargetUpdate(
                invocation_id=target.invocation_id,
                instance_id=target.instance.id,
                armed=True,
                next_fire_at=target.next_fire_at,
                fired=0 if skipped else 1,
                overlap_skips=1 if skipped else 0,
                misfire_skips=0,
            )
        )
    return Round(fires=fires, updates=updates)


def _decide(
    target: ArmedTarget, now: datetime, *, busy: bool, grace: timedelta
) -> tuple[Fire | None, TargetUpdate]:
    assert target.next_fire_at is not None
    moved_on = _disarmed(target)
    try:
        schedule = _schedule(target.frequency, target.created_at)
    except ScheduleError as error:
        # Validated at creation; only a rule tightened by an upgrade gets here.
        log.error(
            "disarming target with an invalid schedule: %s",
            error,
            extra={"invocation_id": target.invocation_id, "instance_id": target.instance.id},
        )
        return None, moved_on
    plan = plan_fire(
        schedule,
        target.next_fire_at,
        now,
        grace=grace,
        zone=instance_zone(target.instance.time_zone),
        window=window_of(target.invocation_id, target.instance.id, target.timing),
    )
    fire_ = None
    if plan.fire_at is not None and plan.starts_at is not None and not busy and not target.paused:
        fire_ = Fire(target=target, scheduled_at=plan.fire_at, starts_at=plan.starts_at)
    return fire_, replace(
        moved_on,
        armed=plan.next_fire_at is not None,
        next_fire_at=plan.next_fire_at,
        fired=1 if fire_ else 0,
        # The previous run still goes on: this fire is skipped.
        overlap_skips=1 if plan.fire_at is not None and busy and not target.paused else 0,
        misfire_skips=plan.misfire_skips,
        # Paused: the schedule moves on, firing nothing (schedule control).
        paused_skips=1 if plan.fire_at is not None and target.paused else 0,
    )


def _disarmed(target: ArmedTarget) -> TargetUpdate:
    """The target fires no more: its update when it does not fire now."""
    return TargetUpdate(
        invocation_id=target.invocation_id,
        instance_id=target.instance.id,
        armed=False,
        next_fire_at=None,
        fired=0,
        overlap_skips=0,
        misfire_skips=0,
    )


@functools.lru_cache(maxsize=4096)
def _schedule(frequency: str, created_at: datetime) -> Schedule:
    return parse_frequency(frequency, anchor=created_at)


async def _new_executions(
    conn: AsyncConnection, limits: Limits, fires: list[Fire], today: date
) -> list[NewExecution]:
    """The fires' executions, those beyond a tenant's daily quota as ``Failed`` ones."""
    by_tenant: dict[Tenant, list[Fire]] = defaultdict(list)
    for fire_ in sorted(fires, key=lambda f: f.scheduled_at):
        by_tenant[fire_.target.tenant].append(fire_)
    new: list[NewExecution] = []
    # Tenants in a fixed order: concurrent rounds (replicas) take the quota rows' locks
    # in the same order, so they queue behind one another instead of deadlocking.
    for tenant in sorted(by_tenant, key=lambda t: (t.account_id, t.region_id)):
        tenant_fires = by_tenant[tenant]
        granted = await quota.take_executions_up_to(
            conn, tenant, today, len(tenant_fires), limits.max_daily_executions
        )
        for number, fire_ in enumerate(tenant_fires):
            plan = _plan(fire_.target)
            if number >= granted:
                plan = replace(
                    plan,
                    status=InvocationStatus.FAILED,
                    error_code=ExecutionErrorCode.INVOCATION_QUOTA_EXCEEDED,
                    error_info=(
                        f"the account's limit of {limits.max_daily_executions} executions "
                        "per UTC day was reached; this fire did not run"
                    ),
                )
            new.append(
                NewExecution(
                    tenant=tenant,
                    invocation_id=fire_.target.invocation_id,
                    plan=plan,
                    scheduled_at=fire_.scheduled_at,
                    repeat=fire_.target.repeats + 1,
                    # Under rate control every one starts held; ``invocations_changed``,
                    # later in this transaction, releases the fire's first ones in
                    # instance id order (``store.rollout``).
                    released=not fire_.target.max_concurrency,
                )
            )
    return new


def _plan(target: ArmedTarget) -> PlannedExecution:
    return render_execution(
        command=target.command,
        values=target.parameters,
        instance=target.instance,
        tenant=target.tenant,
        invoke_id=target.invocation_id,
        execution_id=ids.execution_id(),
    )
