"""The reports of all this replica's agent streams, applied in batches (group commit).

Each stream's reader turns its agent's messages into reports
(``domain.agent_reports``) and submits them; one worker takes whatever gathered
while the previous batch was being written and applies it in one transaction
(``operations.reports``). A lone report is written at once, as it would be
alone; under load the batches grow, and the database does a few statements per
batch instead of one transaction per message. Once a batch has committed the
agents are answered: a result is acknowledged only when it is stored (an agent
that speaks protocol 2 gets its results of the batch in one ResultAcks), and what
an agent must not run is stopped.

Back-pressure, never a killed stream: an agent has at most
``session.REPORTS_PER_AGENT`` reports waiting, then its reader waits, and
gRPC's flow control slows that agent alone. A database that is away holds the
batch (``dispatcher.patience``) and, through the same limit, each agent's later
reports; heartbeats go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from dispatcher.messages import result_ack_messages
from dispatcher.patience import when_available
from dispatcher.session import AgentSession
from scheduler.domain.agent_reports import AgentReport, Finished, Output
from scheduler.observability import metrics
from scheduler.operations import reports
from scheduler.operations.context import Context
from scheduler.store.database import is_unavailable

log = logging.getLogger(__name__)

MAX_BATCH = 1_000
"""Reports in one transaction, at most."""
MAX_BATCH_BYTES = 8 * 1024 * 1024
"""Output bytes in one transaction, at most (one report more if a single one is bigger)."""


@dataclass(frozen=True)
class _Submitted:
    session: AgentSession
    report: AgentReport


class ReportBatches:
    """Gathers the streams' reports and applies them, a batch at a time."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        # Bounded by each stream's room (``submit``), not by a size of its own: a
        # full shared queue would make one agent wait for the others.
        self._queue: asyncio.Queue[_Submitted] = asyncio.Queue()

    async def submit(self, session: AgentSession, report: AgentReport) -> None:
        """Queue one report of ``session``'s agent; waits while it has its most queued."""
        await session.room_for_report()
        self._queue.put_nowait(_Submitted(session, report))
        metrics.agent_reports_waiting.inc()

    async def run(self) -> None:
        """Apply the reports as they come, each batch what gathered during the last one."""
        while True:
            batch = [await self._queue.get()]
            size = _size(batch[0].report)
            while not self._queue.empty() and len(batch) < MAX_BATCH and size < MAX_BATCH_BYTES:
                batch.append(self._queue.get_nowait())
                size += _size(batch[-1].report)
            metrics.agent_report_batch_size.observe(len(batch))
            try:
                await self._apply(batch)
            finally:
                metrics.agent_reports_waiting.dec(len(batch))
                for item in batch:
                    item.session.report_done()

    async def _apply(self, batch: Sequence[_Submitted]) -> None:
        try:
            applied = await when_available(
                lambda: reports.apply(self._ctx, [item.report for item in batch]),
                what=f"{len(batch)} agent reports",
                delayed=lambda: _count_delayed(batch),
            )
        except Exception as error:
            if not is_unavailable(error) and len(batch) > 1:
                log.exception("a batch of %d agent reports failed; applying each alone", len(batch))
                for item in batch:
                    await self._apply([item])
                return
            if not is_unavailable(error):
                log.exception("an agent report failed; ending its stream")
            # The agents reconnect and send what they hold again.
            for item in batch:
                item.session.fail(error)
            return
        stored: dict[AgentSession, list[str]] = {}
        for item in batch:
            report, session = item.report, item.session
            if isinstance(report, Finished):
                # Acknowledged even when nothing changed (a resend): the agent may forget it.
                session.finished(report.execution_id)
                stored.setdefault(session, []).append(report.execution_id)
            elif (report.agent, report.execution_id) in applied.must_stop:
                session.stop(report.execution_id)
        for session, execution_ids in stored.items():
            # One message for them all to an agent that speaks protocol 2.
            for message in result_ack_messages(execution_ids, session.protocol):
                session.send(message)


def _size(report: AgentReport) -> int:
    if isinstance(report, Output):
        return len(report.data)
    if isinstance(report, Finished):
        return len(report.result.output)
    return 0


def _count_delayed(batch: Sequence[_Submitted]) -> None:
    for kind, number in Counter(item.report.kind for item in batch).items():
        metrics.agent_messages_delayed.labels(kind).inc(number)
