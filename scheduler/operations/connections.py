"""Agents connecting and leaving, recorded many at a time in one transaction.

The dispatcher gathers the Hellos and the ended streams of a moment
(``dispatcher.connections``) and records them here with a fixed number of
statements whatever their number: a storm of reconnecting agents costs a few
transactions, not one per agent. The rules are those of a single agent:
a new instance past its tenant's ``max_instances`` is refused (one it already
has never is), a new boot id fires the instance's boot triggers, and what an
agent holds is reconciled with the records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.arrivals import Arrival, beyond_quota, is_boot, new_per_tenant
from scheduler.domain.codes import QuotaName, RefusalCode
from scheduler.domain.delivery import forgotten_by_agent
from scheduler.domain.errors import KairosError, quota_exceeded
from scheduler.domain.firing import agent_zone
from scheduler.domain.status import TargetKey
from scheduler.domain.tenancy import InstanceKey
from scheduler.operations.changes import invocations_changed
from scheduler.operations.context import Context
from scheduler.operations.firing import Fired, count, fire_boot_triggers
from scheduler.operations.selectors import Membership, instances_retagged
from scheduler.store import lost as lost_store
from scheduler.store import quota
from scheduler.store import registrations as registration_store
from scheduler.store import tags as tag_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Departure:
    """An agent whose stream to this dispatcher ended."""

    agent: InstanceKey
    last_heard_at: datetime
    """When it last sent anything, by the wall clock."""


Outcome = list[str] | KairosError
"""What became of an arrival: the executions its agent must stop, or why it is refused."""


async def record(
    ctx: Context,
    arrivals: Sequence[Arrival],
    departures: Sequence[Departure],
    *,
    dispatcher_id: str,
) -> list[Outcome]:
    """Record these agents' streams to ``dispatcher_id`` ended and these connected, in one
    transaction; each arrival's outcome, in order.

    The departures are recorded first: an agent's stream ends before its next one
    can be recorded as gone. Instances must be distinct within ``arrivals``.
    A time zone that is not a valid one (``domain.firing.agent_zone``) is stored
    as UTC, with a warning: the instance's crons then run in UTC.
    """
    arrivals = [_valid_zone(arrival) for arrival in arrivals]

    async def apply(conn: AsyncConnection) -> tuple[list[Outcome], Fired | None]:
        if departures:
            await registration_store.disconnect(
                conn, [(d.agent, d.last_heard_at) for d in departures], dispatcher_id
            )
        if not arrivals:
            return [], None
        refused = await _admit(ctx, conn, arrivals)
        welcomed = [a for a in arrivals if a.key not in refused]
        to_stop, forgotten = await _reconcile(conn, welcomed)
        # One refresh for all the transaction changed: its locks go in one fixed order.
        fired = await _boot(ctx, conn, welcomed, dispatcher_id, changed=forgotten)
        outcomes = [refused.get(a.key) or to_stop.get(a.key, []) for a in arrivals]
        return outcomes, fired

    outcomes, fired = await ctx.transaction(apply)
    count(fired)
    return outcomes


async def _admit(
    ctx: Context, conn: AsyncConnection, arrivals: Sequence[Arrival]
) -> dict[InstanceKey, KairosError]:
    """Create the new instances, within their tenants' quota; those refused, and why."""
    # In key order, like every lock of this transaction: no circular wait between replicas.
    ordered = sorted(arrivals, key=_order)
    created = await registration_store.insert_new(conn, ordered)
    if not created:
        return {}
    new = [a.key for a in arrivals if a.key in created]
    limit = ctx.limits.max_instances
    granted = await quota.take_instance_slots(conn, new_per_tenant(new), limit)
    refused = beyond_quota(new, granted)
    if refused:
        await registration_store.forget(conn, sorted(refused, key=_key_order))
    return {
        key: quota_exceeded(
            RefusalCode.QUOTA_EXCEED_INSTANCE,
            QuotaName.MAX_INSTANCE_COUNT,
            f"the account already has {limit} instances in this region; "
            f"instance {key.instance_id} is not registered",
        )
        for key in refused
    }


async def _boot(
    ctx: Context,
    conn: AsyncConnection,
    arrivals: Sequence[Arrival],
    dispatcher_id: str,
    *,
    changed: set[TargetKey],
) -> Fired | None:
    """Record the Hellos and their reported tags (instances whose tags changed join or
    leave selector invocations); fire the boot triggers of the instances that booted, in
    one round that also refreshes the ``changed`` targets. None when none booted."""
    previous = await registration_store.record(conn, sorted(arrivals, key=_order), dispatcher_id)
    membership = await _replace_reported_tags(conn, arrivals)
    changed = changed | set(membership.targets)
    booted = [a.key for a in arrivals if is_boot(previous.get(a.key, ""), a.hello.boot_id)]
    if not booted:
        if changed or membership.created:
            await invocations_changed(
                conn, [*changed, *membership.created], derived=membership.created
            )
        return None
    await registration_store.booted(conn, booted)
    for key in booted:
        log.info("instance booted", extra={"instance_id": key.instance_id})
    return await fire_boot_triggers(
        conn,
        ctx.limits,
        sorted(booted, key=_key_order),
        changed=changed,
        created=membership.created,
    )


async def _replace_reported_tags(conn: AsyncConnection, arrivals: Sequence[Arrival]) -> Membership:
    """Replace each instance's reported tags by its Hello's: one statement for the batch,
    which writes only the tags that changed (a reconnect storm rewrites nothing); the
    instances whose tags changed (a new one's first tags too) join or leave selectors."""
    retagged = await tag_store.replace_reported(
        conn,
        [
            (a.tenant, a.hello.instance_id, [(t.key, t.value) for t in a.hello.tags])
            for a in sorted(arrivals, key=_order)
        ],
    )
    return await instances_retagged(
        conn, [InstanceKey(tenant, instance_id) for tenant, instance_id in retagged]
    )


async def _reconcile(
    conn: AsyncConnection, arrivals: Sequence[Arrival]
) -> tuple[dict[InstanceKey, list[str]], set[TargetKey]]:
    """Match what the agents hold with the records; the ids each must stop, and the
    targets of the executions it ended (to refresh).

    An agent must stop (and so forget) whatever it holds that is no longer open
    on its instance: ended by the server meanwhile (its agent was lost, say) or
    unknown. What the records say it runs but it no longer holds ends
    (``domain.delivery.forgotten_by_agent``); what it should have but never
    started is delivered again by the usual delivery. Only agents that say what
    they hold are reconciled.
    """
    held = {a.key: a.held for a in arrivals if a.held is not None}
    if not held:
        return {}, set()
    still_open = await lost_store.active_among(conn, held)
    forgotten = await lost_store.end_forgotten(conn, held, forgotten_by_agent())
    for agent, invoke_ids in forgotten.items():
        log.warning(
            "agent reconnected without executions it was running (in %d invocations); ended them",
            len(invoke_ids),
            extra={"instance_id": agent.instance_id},
        )
    to_stop = {
        agent: [execution_id for execution_id in ids if execution_id not in still_open[agent]]
        for agent, ids in held.items()
    }
    for agent, ids in to_stop.items():
        if ids:
            log.info(
                "agent holds %d executions that are no longer open; stopping them",
                len(ids),
                extra={"instance_id": agent.instance_id},
            )
    return to_stop, set().union(*forgotten.values())


def _valid_zone(arrival: Arrival) -> Arrival:
    zone = agent_zone(arrival.hello.time_zone)
    if zone is not None:
        return replace(arrival, hello=replace(arrival.hello, time_zone=zone))
    log.warning(
        "agent reported an invalid time zone %r; storing UTC",
        arrival.hello.time_zone,
        extra={"instance_id": arrival.hello.instance_id},
    )
    return replace(arrival, hello=replace(arrival.hello, time_zone="UTC"))


def _order(arrival: Arrival) -> tuple[str, str, str]:
    return _key_order(arrival.key)


def _key_order(key: InstanceKey) -> tuple[str, str, str]:
    return (key.tenant.account_id, key.tenant.region_id, key.instance_id)
