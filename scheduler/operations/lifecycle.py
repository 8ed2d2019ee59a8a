"""The execution lifecycle as agents and the clock drive it.

Agents register and leave in batches (``operations.connections``) and their
executions are delivered; what they then report (acknowledged, started, output, result) is
applied in batches by ``operations.reports``. A stop request cancels or stops
executions; the sweep ends what no agent answers for. Each function is one
transaction. The agent stream servicer (``dispatcher``) only translates
messages and calls these; nothing here knows about gRPC.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.delivery import (
    lost_agent_failure,
    stopped_while_gone,
    unreported_failure,
    unstarted_failure,
)
from scheduler.domain.status import TargetKey
from scheduler.domain.tenancy import InstanceKey
from scheduler.operations.changes import invocations_changed
from scheduler.operations.context import Context
from scheduler.store import dispatch as dispatch_store
from scheduler.store import instances as instance_store
from scheduler.store import leases as lease_store
from scheduler.store import lost as lost_store
from scheduler.store import notices
from scheduler.store import stopping as stopping_store
from scheduler.store.clock import database_now
from scheduler.store.dispatch import TaskView

log = logging.getLogger(__name__)


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
    ctx: Context,
    agents: list[InstanceKey],
    *,
    stops_only: list[InstanceKey] | None = None,
    new_only: bool = False,
) -> list[TaskView]:
    """Executions waiting for these instances' agents: to run (Pending) or to stop (Stopping).

    For the instances in ``stops_only`` (agents with no room for tasks) only those to stop;
    ``new_only``: of those to run, only the ones never sent.
    """
    return await ctx.transaction(
        lambda conn: dispatch_store.undelivered(conn, agents, stops_only, new_only=new_only)
    )


async def delivered(ctx: Context, execution_ids: list[str]) -> None:
    """These executions were sent to their agents."""
    if execution_ids:
        await ctx.transaction(lambda conn: dispatch_store.mark_delivered(conn, execution_ids))


async def request_stop(
    conn: AsyncConnection, invoke_id: str, instance_ids: list[str], *, whole: bool
) -> None:
    """Stop an invocation on these instances, in the caller's transaction; ``whole``: they
    are all its instances, and the invocation itself is stopped (a selector takes in
    nobody any more).

    Future fires end; executions not yet started are cancelled; running ones
    become ``Stopping`` and their agents are told.
    """
    to_notify = await stopping_store.stop(
        conn, invoke_id, instance_ids, stopped_while_gone(), whole=whole
    )
    await invocations_changed(
        conn,
        [TargetKey(invoke_id, instance_id) for instance_id in instance_ids],
        new_work_in=[invoke_id] if to_notify else [],
        # A stopped selector invocation awaits no more members (``overall_status``).
        rederive=[invoke_id],
    )
    await notices.send(conn, notices.schedules_changed(invoke_id))


async def check_database(ctx: Context) -> None:
    """Raise unless the database answers (a cheap round trip)."""
    await ctx.transaction(database_now)


async def end_unanswered(ctx: Context) -> None:
    """End what no agent will answer for: ``Aborted`` what no agent took within the
    delivery timeout, ``Error`` what agents that stopped answering held, ``Timeout``
    what agents never reported within its timeout and the report grace, and what they
    acknowledged but never started within the queue wait."""
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
        unstarted = await lost_store.end_unstarted(
            conn, limits.queue_wait, unstarted_failure(wait=limits.queue_wait)
        )
        if aborted or lost or unreported or unstarted:
            await invocations_changed(conn, aborted + lost + unreported + unstarted)

    await ctx.transaction(sweep)
