"""One connected agent: its outbound queue and what it was already sent."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from dispatcher.messages import stop_message, task_message
from kairos.v1 import agent_pb2
from scheduler.domain.enums import InvocationStatus
from scheduler.observability import metrics
from scheduler.store.dispatch import TaskView


class AgentSession:
    """The dispatcher's side of one agent stream.

    Messages for the agent go through a bounded queue that the stream drains;
    ``close`` ends the stream. Within a session each task and each stop is
    sent once; a new session (reconnect) sends everything still waiting again,
    and the agent deduplicates by execution id.
    """

    def __init__(self, instance_id: str, *, queue_size: int = 256) -> None:
        self.instance_id = instance_id
        self._outbox: asyncio.Queue[agent_pb2.DispatcherMessage | None] = asyncio.Queue(queue_size)
        self._sent_tasks: set[str] = set()
        self._sent_at: dict[str, float] = {}
        self._sent_stops: set[str] = set()

    async def send(self, message: agent_pb2.DispatcherMessage) -> None:
        """Queue a message for the agent (waits while the queue is full: back-pressure)."""
        await self._outbox.put(message)

    def send_nowait_shutdown(self, reconnect_after_ms: int) -> None:
        """Queue a Shutdown telling the agent to reconnect after a delay."""
        self._outbox.put_nowait(
            agent_pb2.DispatcherMessage(
                shutdown=agent_pb2.Shutdown(
                    reconnect_after_ms=reconnect_after_ms, reason="server shutting down"
                )
            )
        )

    async def offer(self, tasks: list[TaskView]) -> list[str]:
        """Send the tasks and stops not yet sent in this session; returns the new task ids."""
        delivered = []
        for task in tasks:
            if (
                task.status is InvocationStatus.PENDING
                and task.execution_id not in self._sent_tasks
            ):
                self._sent_tasks.add(task.execution_id)
                await self.send(task_message(task))
                self._sent_at[task.execution_id] = time.monotonic()
                lateness = (datetime.now(UTC) - task.scheduled_at).total_seconds()
                metrics.scheduling_lateness.observe(max(0.0, lateness))
                delivered.append(task.execution_id)
            elif task.status is InvocationStatus.STOPPING:
                await self.stop(task.execution_id)
        return delivered

    def acknowledged(self, execution_id: str) -> None:
        """The agent took a task: record how long delivery took."""
        sent = self._sent_at.pop(execution_id, None)
        if sent is not None:
            metrics.delivery_latency.observe(time.monotonic() - sent)

    async def stop(self, execution_id: str) -> None:
        """Ask the agent to stop an execution (once per session)."""
        if execution_id not in self._sent_stops:
            self._sent_stops.add(execution_id)
            await self.send(stop_message(execution_id))

    async def next_message(self) -> agent_pb2.DispatcherMessage | None:
        """The next message for the agent; None when the session is closed."""
        return await self._outbox.get()

    def close(self) -> None:
        """End the stream after the messages already queued."""
        try:
            self._outbox.put_nowait(None)
        except asyncio.QueueFull:
            # The stream is stuck; dropping queued work is safe, it is redelivered.
            self._outbox = asyncio.Queue(1)
            self._outbox.put_nowait(None)
