"""The execution lifecycle as agents and the clock drive it.

An agent registers (a new boot fires its boot triggers) and its executions are
delivered; what it then reports (acknowledged, started, output, result) is
applied in batches by ``operations.reports``. A stop request cancels or stops
executions; the sweep ends what no agent answers for. Each function is one
transaction. The agent stream servicer (``dispatcher``) only translates
messages and calls these; nothing here knows about gRPC.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.codes import QuotaName, RefusalCode
from scheduler.domain.delivery import (
    forgotten_by_agent,
    lost_agent_failure,
    stopped_while_gone,
    unreported_failure,
)
from scheduler.domain.errors import quota_exceeded
from scheduler.domain.firing import agent_zone
from scheduler.domain.models import AgentHello
from scheduler.domain.status import TargetKey
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.operations.changes import invocations_changed
from scheduler.operations.context import Context
from scheduler.operations.firing import Fired, count, fire_boot_triggers
from scheduler.store import dispatch as dispatch_store
from scheduler.store import instances as instance_store
from scheduler.store import leases as lease_store
from scheduler.store import lost as lost_store
from scheduler.store import notices
from scheduler.store import stopping as stopping_store
from scheduler.store.clock import database_now
from scheduler.store.dispatch import TaskView

log = logging.getLogger(__name__)


async def register_agent(
    ctx: Context, tenant: Tenant, hello: AgentHello, *, dispatcher_id: str
) -> None:
    """Record a connecting agent; a new boot id fires the instance's boot triggers.

    The instance is the tenant's own: another tenant may have one of the same id.
    A new instance past the tenant's ``max_instances`` is refused (RESOURCE_EXHAUSTED);
    one it already has never is. A time zone that is not a valid one
    (``domain.firing.agent_zone``) is stored as UTC, with a warning: the instance's
    crons then run in UTC.
    """
    zone = agent_zone(hello.time_zone)
    if zone is None:
        log.warning(
            "agent reported an invalid time zone %r; storing UTC",
            hello.time_zone,
            extra={"instance_id": hello.instance_id},
        )
        zone = "UTC"
    hello = replace(hello, time_zone=zone)

    async def register(conn: AsyncConnection) -> Fired | None:
        registration = await instance_store.register_agent(
            conn,
            tenant,
            hello,
            dispatcher_id=dispatcher_id,
            max_instances=ctx.limits.max_instances,
        )
        if registration.over_quota:
            raise quota_exceeded(
                RefusalCode.QUOTA_EXCEED_INSTANCE,
                QuotaName.MAX_INSTANCE_COUNT,
                f"the account already has {ctx.limits.max_instances} instances in this region; "
                f"instance {hello.instance_id} is not registered",
            )
        if registration.rebooted:
            log.info("instance booted", extra={"instance_id": hello.instance_id})
            return await fire_boot_triggers(
                conn, ctx.limits, InstanceKey(tenant, hello.instance_id)
            )
        return None

    count(await ctx.transaction(register))


async def reconcile(ctx: Context, agent: InstanceKey, held: list[str]) -> list[str]:
    """Match what a connecting agent holds with the records; returns the ids it must stop.

    The agent must stop (and so forget) whatever it holds that is no longer
    open on this instance: ended by the server meanwhile (its agent was lost,
    say) or unknown. What the records say it runs but it no longer holds ends
    (``domain.delivery.forgotten_by_agent``); what it should have but never
    started is delivered again by the usual delivery.
    """

    async def match(conn: AsyncConnection) -> list[str]:
        still_open = await lost_store.active_among(conn, agent, held)
        forgotten = await lost_store.end_forgotten(conn, agent, held, forgotten_by_agent())
        if forgotten:
            log.warning(
                "agent reconnected without executions it was running (in %d invocations); "
                "ended them",
                len(forgotten),
                extra={"instance_id": agent.instance_id},
            )
            await invocations_changed(conn, forgotten)
        return [execution_id for execution_id in held if execution_id not in still_open]

    to_stop = await ctx.transaction(match)
    if to_stop:
        log.info(
            "agent holds %d executions that are no longer open; stopping them",
            len(to_stop),
            extra={"instance_id": agent.instance_id},
        )
    return to_stop


async def hold_lease(ctx: Context, dispatcher_id: str, ttl: timedelta) -> None:
    """Renew this dispatcher replica's lease: its agents count as connected for ``ttl``."""
    await ctx.transaction(lambda conn: lease_store.renew(conn, dispatcher_id, ttl))


async def release_lease(ctx: Context, dispatcher_id: str) -> None:
    """This dispatcher replica stops: its agents are disconnected at once."""
    await ctx.transaction(lambda conn: lease_store.release(conn, dispatcher_id))


async def heartbeats(ctx: Context, agents: list[InstanceKey], *, dispatcher_id: str) -> None:
    """These agents, connected to ``dispatcher_id``, are alive: written in one statement."""
    if agents:
        await ctx.transaction(lambda conn: instance_store.heartbeats(conn, agents, dispatcher_id))


async def disconnect(
    ctx: Context, agent: InstanceKey, *, dispatcher_id: str, last_heard_at: datetime
) -> None:
    """The agent's stream to ``dispatcher_id`` ended (unless it is held elsewhere by now);
    it was last heard from at ``last_heard_at``."""
    await ctx.transaction(
        lambda conn: instance_store.disconnect(conn, agent, dispatcher_id, last_heard_at)
    )


async def agents_with_work(ctx: Context, invoke_ids: list[str]) -> set[InstanceKey]:
    """The instances whose agents have executions of these invocations to run or to stop."""
    return await ctx.transaction(lambda conn: dispatch_store.agents_with_work(conn, invoke_ids))


async def agents_with_stale_work(
    ctx: Context, dispatcher_id: str, *, older_than: float
) -> set[InstanceKey]:
    """The instances held by ``dispatcher_id`` with work older than ``older_than`` seconds
    that was never sent to them (to run), or that is still to stop."""
    return await ctx.transaction(
        lambda conn: dispatch_store.agents_with_stale_work(
            conn, dispatcher_id, timedelta(seconds=older_than)
        )
    )


async def waiting_work(
    ctx: Context, agents: list[InstanceKey], *, stops_only: list[InstanceKey] | None = None
) -> list[TaskView]:
    """Executions waiting for these instances' agents: to run (Pending) or to stop (Stopping).

    For the instances in ``stops_only`` (agents with no room for tasks) only those to stop.
    """
    return await ctx.transaction(lambda conn: dispatch_store.undelivered(conn, agents, stops_only))


async def delivered(ctx: Context, execution_ids: list[str]) -> None:
    """These executions were sent to their agents."""
    if execution_ids:
        await ctx.transaction(lambda conn: dispatch_store.mark_delivered(conn, execution_ids))


async def request_stop(conn: AsyncConnection, invoke_id: str, instance_ids: list[str]) -> None:
    """Stop an invocation on these instances, in the caller's transaction.

    Future fires end; executions not yet started are cancelled; running ones
    become ``Stopping`` and their agents are told.
    """
    to_notify = await stopping_store.stop(conn, invoke_id, instance_ids, stopped_while_gone())
    await invocations_changed(
        conn,
        [TargetKey(invoke_id, instance_id) for instance_id in instance_ids],
        new_work_in=[invoke_id] if to_notify else [],
    )
    await notices.send(conn, notices.schedules_changed(invoke_id))


async def check_database(ctx: Context) -> None:
    """Raise unless the database answers (a cheap round trip)."""
    await ctx.transaction(database_now)


async def end_unanswered(ctx: Context) -> None:
    """End what no agent will answer for: ``Aborted`` what no agent took within the
    delivery timeout, ``Error`` what agents that stopped answering held, ``Timeout``
    what agents never reported within its timeout and the report grace."""
    limits = ctx.limits

    async def sweep(conn: AsyncConnection) -> None:
        aborted = await dispatch_store.abort_undelivered(
            conn, limits.delivery_timeout, limits.offline_after
        )
        lost = await lost_store.end_lost(
            conn,
            limits.agent_lost_after,
            lost_agent_failure(lost_after=limits.agent_lost_after),
        )
        unreported = await lost_store.end_unreported(
            conn, limits.report_grace, unreported_failure(grace=limits.report_grace)
        )
        if aborted or lost or unreported:
            await invocations_changed(conn, aborted + lost + unreported)

    await ctx.transaction(sweep)
