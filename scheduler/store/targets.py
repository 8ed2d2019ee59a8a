"""Queries on armed targets: claiming due ones, boot triggers, advancing them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    Row,
    Text,
    any_,
    extract,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import ACTIVE_STATUSES, InvocationStatus, RepeatMode
from scheduler.domain.models import Command, Instance, Timing
from scheduler.domain.status import StatusChange, TargetKey
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store import leases
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.credentials import not_deregistered
from scheduler.store.instances import instance_from
from scheduler.store.invocations import command_of
from scheduler.store.statuses import rederived, target_of, targets_of
from scheduler.store.tables import (
    Timestamp,
    executions,
    instances,
    invocation_targets,
    invocations,
    of_instance,
    on_one_instance,
    on_targets,
    one_instance,
    values_of,
)


@dataclass(kw_only=True, frozen=True)
class ArmedTarget:
    """An armed target with everything needed to fire it."""

    tenant: Tenant
    invocation_id: str
    repeat_mode: RepeatMode
    frequency: str
    created_at: datetime
    command: Command
    parameters: dict[str, str]
    instance: Instance
    next_fire_at: datetime | None
    repeats: int
    max_concurrency: str = ""
    """Rate control (``domain.rollout``): non-empty, its fires' executions start held."""
    timing: Timing
    """The invocation's jitter and bounds."""
    # Schedule control: a paused invocation's fires are skipped and counted.
    paused: bool = False
    deregistered: bool = False
    """The instance was deregistered: its target is disarmed at its next fire, whatever
    armed it (``store.credentials.not_deregistered``)."""
    stopped: bool = False
    """The invocation was stopped whole: its target is disarmed at its next fire, whatever
    armed it (a selector's new member, or an added instance, committed beside the stop)."""


@dataclass(kw_only=True, frozen=True)
class TargetUpdate:
    """How a target moves on after a fire (or a skipped one)."""

    invocation_id: str
    instance_id: str
    armed: bool
    next_fire_at: datetime | None
    fired: int
    overlap_skips: int
    misfire_skips: int
    # Schedule control: fires skipped because the invocation is paused.
    paused_skips: int = 0


_COLUMNS = (
    invocation_targets.c.invocation_id,
    invocation_targets.c.instance_id,
    invocation_targets.c.next_fire_at,
    invocation_targets.c.repeats,
    invocations.c.account_id,
    invocations.c.region_id,
    invocations.c.repeat_mode,
    invocations.c.frequency,
    invocations.c.created_at,
    invocations.c.command_id,
    invocations.c.command_name,
    invocations.c.command_type,
    invocations.c.content,
    invocations.c.enable_parameter,
    invocations.c.parameters,
    invocations.c.timeout,
    invocations.c.working_dir,
    invocations.c.max_concurrency,
    invocations.c.max_jitter,
    invocations.c.start_at,
    invocations.c.end_at,
    invocations.c.paused_at,
    invocations.c.stopped_at,
    # An instance's columns by their own names: the row is its ``instance_from`` mapping.
    instances.c.id,
    instances.c.name,
    instances.c.os_type,
    instances.c.time_zone,
    instances.c.agent_version,
    instances.c.boot_id,
    instances.c.registered_at,
    instances.c.last_heartbeat_at,
    instances.c.last_boot_at,
    instances.c.dispatcher_id,
    leases.connected().label("connected"),
    (~not_deregistered(instances)).label("deregistered"),
)


def _armed() -> Any:
    return (
        select(*_COLUMNS)
        .join(invocations, invocations.c.id == invocation_targets.c.invocation_id)
        .join(instances, of_instance(invocation_targets))
        .where(invocation_targets.c.armed)
    )


async def claim_due(conn: AsyncConnection, horizon: datetime, limit: int) -> list[ArmedTarget]:
    """Lock up to ``limit`` periodic targets due by ``horizon``, earliest first.

    ``SKIP LOCKED``: targets another ticker holds are left to it, so replicas
    share the work and never fire one target twice.
    """
    query = (
        _armed()
        .where(invocation_targets.c.next_fire_at <= horizon)
        .order_by(invocation_targets.c.next_fire_at)
        .limit(limit)
        .with_for_update(of=invocation_targets, skip_locked=True)
    )
    return _targets(await conn.execute(query))


async def boot_targets(conn: AsyncConnection, key: InstanceKey) -> list[ArmedTarget]:
    """Lock the instance's armed NEXT_REBOOT_ONLY and EVERY_REBOOT targets."""
    query = (
        _armed()
        .where(
            invocation_targets.c.account_id == key.tenant.account_id,
            invocation_targets.c.region_id == key.tenant.region_id,
            invocation_targets.c.instance_id == key.instance_id,
            invocations.c.repeat_mode.in_(
                [RepeatMode.NEXT_REBOOT_ONLY.value, RepeatMode.EVERY_REBOOT.value]
            ),
        )
        .with_for_update(of=invocation_targets)
    )
    return _targets(await conn.execute(query))


_DISARM_INSTANCE = (
    update(invocation_targets)
    .where(on_one_instance(invocation_targets), invocation_targets.c.armed)
    .values(armed=False, next_fire_at=None, updated_at=func.now())
    .returning(invocation_targets.c.invocation_id, invocation_targets.c.instance_id)
)


async def disarm_instance(conn: AsyncConnection, instance: InstanceKey) -> list[TargetKey]:
    """End every future fire on the instance (periodic, boot, selector): its targets fire
    no more. Waits for a ticker or boot that holds one mid-fire, so a later statement of the
    transaction sees the execution that fire created. Returns the targets disarmed."""
    rows = await conn.execute(_DISARM_INSTANCE, one_instance(instance))
    return targets_of(rows)


async def lock_armed(
    conn: AsyncConnection, invoke_id: str, instance_ids: list[str]
) -> list[ArmedTarget]:
    """Lock the invocation's armed targets on ``instance_ids`` (all of them when empty), in
    key order: a trigger fires them like a claim (``store.targets.claim_due``) would."""
    query = _armed().where(invocation_targets.c.invocation_id == invoke_id)
    if instance_ids:
        query = query.where(
            invocation_targets.c.instance_id == any_(array_parameter("instance_ids", Text()))
        )
    query = query.order_by(invocation_targets.c.instance_id).with_for_update(of=invocation_targets)
    return _targets(await conn.execute(query, {"instance_ids": array(instance_ids)}))


_keys = Unnested("k", invocation_id=Text(), instance_id=Text())
_BUSY = (
    select(executions.c.invocation_id, executions.c.instance_id)
    .distinct()
    .select_from(
        _keys.rows.join(
            executions,
            on_targets(executions, _keys.rows),
        )
    )
    .where(executions.c.status.in_(values_of(ACTIVE_STATUSES)))
)


async def busy(conn: AsyncConnection, keys: list[TargetKey]) -> set[TargetKey]:
    """The targets among ``keys`` with an execution not yet finished."""
    if not keys:
        return set()
    rows = await conn.execute(
        _BUSY,
        _keys.bind(
            invocation_id=[k.invocation_id for k in keys], instance_id=[k.instance_id for k in keys]
        ),
    )
    return set(targets_of(rows))


_updates = Unnested(
    "u",
    invocation_id=Text(),
    instance_id=Text(),
    armed=Boolean(),
    next_fire_at=Timestamp,
    fired=Integer(),
    overlap_skips=Integer(),
    misfire_skips=Integer(),
    paused_skips=Integer(),
)
# Each target's status is re-derived as it moves on, in the same statement: a fire's
# executions are inserted first, and writing the status in a second update of the
# same rows would cost a new row version and foreign key checks all over again.
_advanced = rederived(_updates, armed=_updates.c.armed)
_ADVANCE = (
    update(invocation_targets)
    .where(
        on_targets(invocation_targets, _advanced),
    )
    .values(
        armed=_advanced.c.armed,
        next_fire_at=_advanced.c.next_fire_at,
        repeats=invocation_targets.c.repeats + _advanced.c.fired,
        overlap_skips=invocation_targets.c.overlap_skips + _advanced.c.overlap_skips,
        misfire_skips=invocation_targets.c.misfire_skips + _advanced.c.misfire_skips,
        paused_skips=invocation_targets.c.paused_skips + _advanced.c.paused_skips,
        status=_advanced.c.new,
        updated_at=func.now(),
    )
    .returning(_advanced.c.invocation_id, _advanced.c.instance_id, _advanced.c.old, _advanced.c.new)
)


async def advance(
    conn: AsyncConnection, updates: list[TargetUpdate]
) -> dict[TargetKey, StatusChange]:
    """Move targets to their next fire, add to their counters and re-derive their
    statuses from their latest executions, in one statement; returns how each
    target's status moved (old and new, the same when it did not), for the counts.

    Each target appears at most once in ``updates``, and the caller holds their
    rows (they are the claimed rows). Insert the round's executions first.
    """
    if not updates:
        return {}
    rows = await conn.execute(
        _ADVANCE,
        _updates.bind(
            invocation_id=[u.invocation_id for u in updates],
            instance_id=[u.instance_id for u in updates],
            armed=[u.armed for u in updates],
            next_fire_at=[u.next_fire_at for u in updates],
            fired=[u.fired for u in updates],
            overlap_skips=[u.overlap_skips for u in updates],
            misfire_skips=[u.misfire_skips for u in updates],
            paused_skips=[u.paused_skips for u in updates],
        ),
    )
    return {
        target_of(row): StatusChange(
            row.invocation_id, InvocationStatus(row.old), InvocationStatus(row.new)
        )
        for row in rows
    }


_EARLIEST_DUE = select(
    extract("epoch", func.min(invocation_targets.c.next_fire_at) - func.clock_timestamp())
).where(invocation_targets.c.next_fire_at.is_not(None), invocation_targets.c.armed)


async def earliest_due(conn: AsyncConnection) -> float | None:
    """Seconds from now until the earliest armed periodic fire (negative when overdue)."""
    value = (await conn.execute(_EARLIEST_DUE)).scalar_one()
    return None if value is None else float(value)


class _Builder:
    """Turns claimed rows into targets, sharing what rows of one invocation or instance share.

    A claim returns one row per target, but an invocation's command, parameters
    and tenant (and an instance's description) are the same on all of its rows:
    they are built once per claim, not once per row.
    """

    def __init__(self) -> None:
        self._invocations: dict[
            str, tuple[Tenant, RepeatMode, Command, dict[str, str], Timing]
        ] = {}
        self._instances: dict[InstanceKey, Instance] = {}

    def target(self, row: Row[Any]) -> ArmedTarget:
        invocation = self._invocations.get(row.invocation_id)
        if invocation is None:
            invocation = self._invocations[row.invocation_id] = (
                Tenant(row.account_id, row.region_id),
                RepeatMode(row.repeat_mode),
                command_of(row),
                dict(row.parameters),
                Timing(max_jitter=row.max_jitter, start_at=row.start_at, end_at=row.end_at),
            )
        tenant, repeat_mode, command, parameters, timing = invocation
        key = InstanceKey(tenant, row.instance_id)
        instance = self._instances.get(key)
        if instance is None:
            # No copy into a dict: a thousand rows a round, it cost a tenth of the round.
            instance = self._instances[key] = instance_from(row._mapping)
        return ArmedTarget(
            tenant=tenant,
            invocation_id=row.invocation_id,
            repeat_mode=repeat_mode,
            frequency=row.frequency,
            created_at=row.created_at,
            command=command,
            parameters=parameters,
            instance=instance,
            next_fire_at=row.next_fire_at,
            repeats=row.repeats,
            max_concurrency=row.max_concurrency,
            timing=timing,
            paused=row.paused_at is not None,
            deregistered=row.deregistered,
            stopped=row.stopped_at is not None,
        )


def _targets(rows: Iterable[Row[Any]]) -> list[ArmedTarget]:
    builder = _Builder()
    return [builder.target(row) for row in rows]
