"""Agent reports applied in batches: one transaction for what many agent streams said.

A dispatcher gathers the acknowledgements, starts, output and results of all
its agent streams and applies them here (``dispatcher.reports``): a handful of
set-based statements per batch whatever its size, then each invocation's status
once. Nothing here knows about gRPC; the dispatcher answers the agents (stops,
result acks) once the batch has committed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.agent_reports import AgentReport, ExecutionKey, Grouped, grouped
from scheduler.observability import metrics
from scheduler.operations.changes import invocations_changed
from scheduler.operations.context import Context
from scheduler.store import notices
from scheduler.store import reports as report_store
from scheduler.store.reports import Changed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    """What the agents must be told once the batch has committed."""

    must_stop: set[ExecutionKey]
    """Acknowledged or started, but not to run: ended meanwhile, being stopped, or not
    the agent's own."""


async def apply(ctx: Context, reports: Sequence[AgentReport]) -> Applied:
    """Apply one batch of agent reports in one transaction (``domain.agent_reports``)."""
    batch = grouped(reports)

    async def record(conn: AsyncConnection) -> tuple[set[ExecutionKey], list[Changed]]:
        still_open = await report_store.acknowledge(conn, batch.acknowledged)
        started, running = await report_store.start(conn, batch.started)
        await _relay(
            conn, batch, await report_store.append_output(conn, batch.output, ctx.limits.max_output)
        )
        finished = await report_store.finish(conn, batch.finished)
        await invocations_changed(conn, [c.target for c in started + finished])
        acked = {(r.agent, r.execution_id) for r in batch.acknowledged}
        reported_started = {(r.agent, r.execution_id) for r in batch.started}
        must_stop = (acked - still_open) | (reported_started - running)
        return must_stop, finished

    must_stop, finished = await ctx.transaction(record)
    _count(batch, finished)
    return Applied(must_stop=must_stop)


async def _relay(conn: AsyncConnection, batch: Grouped, still_open: list[Changed]) -> None:
    """Pass on to watchers what each execution's live rate admits of its new output.

    Watchers get at most the live rate of each execution: the rest of a chunk is
    skipped, and they see the skip as a gap before the next piece (or, at the
    latest, when the execution ends and they are given its stored head and tail).
    """
    invocation_of = {change.key: change.invocation_id for change in still_open}
    now = time.monotonic()
    relayed: list[notices.Notice] = []
    for chunk in batch.output:
        invoke_id = invocation_of.get((chunk.agent, chunk.execution_id))
        if invoke_id is None:
            continue
        # Each unbroken stretch at its own offset: a skip the agent made between two
        # chunks of the batch reaches watchers as the gap it is.
        for offset, data in chunk.runs:
            admitted = chunk.live.admit(chunk.execution_id, len(data), now)
            if admitted:
                relayed += notices.output(
                    notices.OutputChunk(
                        invoke_id=invoke_id,
                        execution_id=chunk.execution_id,
                        instance_id=chunk.agent.instance_id,
                        offset=offset,
                        data=data[:admitted],
                    )
                )
    await notices.send(conn, relayed)


def _count(batch: Grouped, finished: list[Changed]) -> None:
    stored = {change.key for change in finished}
    for report in batch.finished:
        agent, result = report.agent, report.result
        if (agent, result.execution_id) not in stored:
            # A resend, or too late: the execution already ended (lost agent, say).
            metrics.results_not_stored.inc()
            continue
        metrics.executions_finished.labels(result.status.value).inc()
        log.info(
            "execution finished: %s",
            result.status.value,
            extra={"execution_id": result.execution_id, "instance_id": agent.instance_id},
        )
