"""WatchInvocation: an invocation's status changes and live output, until it is final.

A watch subscribes to its invocation's notices, reads where to start (every
run's status, each instance's latest run whole), then waits: live output goes
out as soon as its notice arrives; a change of executions (or a lost notice,
``GAP``) makes it re-read only the executions that may have changed
(``store.watching``), never the invocation's history. Within an execution, the
watcher is sent its output in offset order with every skip announced as a gap
(``domain.watched_output``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

from kairos.v1 import invocation_pb2
from scheduler.api.results import result_message
from scheduler.domain.enums import ACTIVE_STATUSES, InvocationStatus
from scheduler.domain.tenancy import Tenant
from scheduler.domain.watched_output import Gap, OutputCursor, Piece
from scheduler.operations import invocations as operations
from scheduler.operations.context import Context
from scheduler.rpc.convert import to_proto
from scheduler.store.executions import ExecutionView
from scheduler.store.listener import Listener, Notice, Subscription
from scheduler.store.notices import Channel, about, output_chunk
from scheduler.store.watching import Followed

WATCH_RESYNC_SECONDS = 5.0
"""A watcher re-reads what may have changed this often even without notifications."""

Event = invocation_pb2.WatchInvocationEvent


async def follow(
    ctx: Context, listener: Listener, tenant: Tenant, invoke_id: str
) -> AsyncIterator[Event]:
    """The events of one watch, up to and including ``finished``."""
    # The server's own split of stored output (``domain.reports``): head, then tail.
    watch = Watch(head=ctx.limits.max_output // 2)
    # Subscribe before the first read so no change falls between the two.
    async with listener.subscribe(
        Channel.EXECUTION, Channel.OUTPUT, wanted=about(invoke_id)
    ) as notices:
        status, executions = await operations.watch_start(ctx, tenant, invoke_id)
        while True:
            for event in watch.changes(executions):
                yield event
            if status.is_final:
                yield Event(finished=to_proto(status))  # type: ignore[arg-type]
                return
            reread = False
            while not reread:
                events, reread = await watch.wait(notices, invoke_id)
                for event in events:
                    yield event
            status, executions = await operations.watch_changes(
                ctx, tenant, invoke_id, watch.followed()
            )


class Watch:
    """What one watcher has sent, so that it sends each change and byte once, in order.

    It remembers only the runs that may still change and each instance's latest
    run: a periodic invocation's watch stays small however long it runs.
    """

    def __init__(self, head: int) -> None:
        self._head = head
        self._seen: dict[str, tuple[InvocationStatus, datetime]] = {}
        self._cursors: dict[str, OutputCursor] = {}
        self._latest: dict[str, int] = {}

    def followed(self) -> Followed:
        """What to re-read: the runs seen open, and each instance's latest run."""
        open_ids = [i for i, (status, _) in self._seen.items() if status in ACTIVE_STATUSES]
        return Followed(open_ids=open_ids, latest=dict(self._latest))

    def changes(self, executions: list[ExecutionView]) -> list[Event]:
        """Status changes and stored output not sent yet, execution by execution.

        An execution's output comes after the status that started it (Running) and
        before the status that ends it, as the script itself produced them. A
        final execution's stored head and tail fill what live output did not show.
        """
        events: list[Event] = []
        for execution in executions:
            self._latest[execution.instance_id] = max(
                self._latest.get(execution.instance_id, 0), execution.repeat
            )
            cursor = self._cursors.setdefault(execution.id, OutputCursor())
            output = _output(
                execution.id,
                execution.instance_id,
                cursor.stored(execution.output, execution.dropped, self._head),
            )
            status: list[Event] = []
            state = (execution.status, execution.updated_at)
            if self._seen.get(execution.id) != state:
                self._seen[execution.id] = state
                status.append(Event(result=result_message(execution, output=False)))
            events += output + status if execution.status.is_final else status + output
            if execution.status.is_final:
                # A final status never changes: the watch need not remember it.
                del self._seen[execution.id], self._cursors[execution.id]
        return events

    async def wait(self, notices: Subscription, invoke_id: str) -> tuple[list[Event], bool]:
        """The live output that has arrived, and whether executions must be re-read.

        Returns as soon as a notice comes (with whatever else is already queued),
        so output goes out while the script runs; without any notice for
        ``WATCH_RESYNC_SECONDS`` it asks for a re-read anyway.
        """
        try:
            notice: Notice | None = await asyncio.wait_for(notices.get(), WATCH_RESYNC_SECONDS)
        except TimeoutError:
            return [], True
        events: list[Event] = []
        reread = False
        while notice is not None:
            if notice.channel != Channel.OUTPUT:
                reread = True  # its executions changed, or notices may be lost (GAP)
            elif (chunk := output_chunk(notice.payload)).invoke_id == invoke_id:
                cursor = self._cursors.get(chunk.execution_id)
                if cursor is None or not self._started(chunk.execution_id):
                    # Its Running status is not sent yet: the re-read sends it, then
                    # this output (stored before its notice was sent).
                    reread = True
                else:
                    pieces = cursor.live(chunk.offset, chunk.data)
                    events += _output(chunk.execution_id, chunk.instance_id, pieces)
            notice = notices.get_nowait()
        return events, reread

    def _started(self, execution_id: str) -> bool:
        seen = self._seen.get(execution_id)
        return seen is not None and seen[0] is not InvocationStatus.PENDING


def _output(execution_id: str, instance_id: str, pieces: list[Piece | Gap]) -> list[Event]:
    """Output and gap events of one execution."""
    return [
        Event(
            output=invocation_pb2.OutputChunk(
                execution_id=execution_id,
                instance_id=instance_id,
                offset=piece.offset,
                data=piece.data,
            )
        )
        if isinstance(piece, Piece)
        else Event(
            gap=invocation_pb2.OutputGap(
                execution_id=execution_id,
                instance_id=instance_id,
                offset=piece.offset,
                skipped=piece.skipped,
            )
        )
        for piece in pieces
    ]
