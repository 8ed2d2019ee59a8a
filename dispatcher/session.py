"""One connected agent: its bounded outbox and what it was already sent."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from dispatcher.messages import stop_message, task_message
from kairos.v1 import agent_pb2
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.hello import MAX_HELD
from scheduler.domain.protocol import OLDEST_PROTOCOL
from scheduler.domain.tenancy import InstanceKey
from scheduler.observability import metrics
from scheduler.store.dispatch import TaskView

OUTBOX_SIZE = 256
"""Messages an agent's outbox holds before tasks for it wait in the database."""
REPORTS_PER_AGENT = 32
"""Reports an agent may have waiting for the database (``dispatcher.reports``) before
its stream is read no further."""


class AgentSession:
    """The dispatcher's side of one agent stream.

    Messages for the agent go through a bounded outbox that only the stream
    drains; nothing else ever waits on it. A task that does not fit stays
    undelivered (``Pending``, not marked delivered) and is offered again when the
    stream has drained the outbox below half (``wants_work``). Stops and result
    acks may use more room (an outbox-size, and at least a Welcome and a stop for
    each execution a Hello may list as held); beyond that the stream is stuck
    and is closed (the agent re-sends unacknowledged results and gets its stops
    again when it reconnects). An outbox that stays full with nothing taken for
    ``send_timeout`` seconds calls ``on_stuck``: the stream is to be closed.

    Within a session each task and each stop is sent once; a new session
    (reconnect) sends everything still waiting again, and the agent deduplicates
    by execution id. What was sent is forgotten once a reading of the waiting
    work no longer finds it (it was started or finished) and no older reading is
    still under way: an older one may have read the database before the start
    or the result was written, and must still find it sent. So a session holds
    only the work in flight.
    """

    # Thousands of sessions per replica: no per-instance __dict__.
    __slots__ = (
        "_capacity",
        "_changed",
        "_closed",
        "_closed_at",
        "_finishing",
        "_full_since",
        "_held_back",
        "_last_heard",
        "_last_taken",
        "_messages",
        "_on_stuck",
        "_readings",
        "_recorded",
        "_report_room",
        "_send_timeout",
        "_sends",
        "_sent_at",
        "_sent_stops",
        "_sent_tasks",
        "_stuck",
        "_timer",
        "_wants_work",
        "failure",
        "key",
        "peer",
        "protocol",
        "silent",
        "stuck_reason",
    )

    def __init__(
        self,
        key: InstanceKey,
        *,
        protocol: int = OLDEST_PROTOCOL,
        queue_size: int = OUTBOX_SIZE,
        send_timeout: float = 30.0,
        on_stuck: Callable[[AgentSession], None] | None = None,
        peer: str = "",
    ) -> None:
        self.key = key
        """The agent's instance: the tenant's, as its token says, and the id its Hello gave."""
        self.peer = peer
        """The address the stream comes from, as gRPC gives it (``ipv4:10.0.0.5:41234``)."""
        self.protocol = protocol
        """The protocol version the server speaks with the agent (``domain.protocol``)."""
        self._capacity = queue_size
        self._send_timeout = send_timeout
        self._on_stuck = on_stuck
        self._messages: deque[agent_pb2.DispatcherMessage] = deque()
        self._changed = asyncio.Event()
        self._closed = False
        self._stuck = False
        self.stuck_reason = ""
        """Why the stream is being closed (stuck, or silent), for the log and the agent."""
        self.silent = False
        """The stream is closed because the agent sent nothing (not because it read nothing)."""
        self._wants_work = False
        self._full_since: float | None = None
        self._closed_at: float | None = None
        self._last_taken = time.monotonic()
        self._last_heard = time.monotonic()
        self._held_back = False
        self._report_room = asyncio.Semaphore(REPORTS_PER_AGENT)
        self.failure: Exception | None = None
        """Why the server ended the stream, when a report of it could not be applied."""
        # Its Hello was recorded as it connected: that is its first record.
        self._recorded = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None
        self._sends = 0
        # Execution id -> the send number: which were sent before a reading of the work.
        self._sent_tasks: dict[str, int] = {}
        self._sent_stops: dict[str, int] = {}
        self._sent_at: dict[str, float] = {}
        # The marks of the readings under way (``mark``, then ``offer`` or ``unmark``).
        # A list: rarely more than one, and a set costs four times the memory per agent.
        self._readings: list[int] = []
        # Execution id -> the send number when its result was stored (``finished``).
        self._finishing: dict[str, int] = {}

    @property
    def stuck(self) -> bool:
        """The stream took nothing from the full outbox for ``send_timeout``, or overflowed."""
        return self._stuck

    def pending(self) -> int:
        """Messages queued and not yet taken by the stream."""
        return len(self._messages)

    def tracked(self) -> int:
        """Tasks and stops this session remembers having sent (the work in flight)."""
        return len(self._sent_tasks) + len(self._sent_stops)

    def heard(self) -> None:
        """The agent sent a message."""
        self._last_heard = time.monotonic()

    def silent_since(self, moment: float) -> bool:
        """True when the agent sent nothing since ``moment`` (``time.monotonic``) and its
        stream is not held back; ``silent_for`` without a clock read per session."""
        return not self._held_back and self._last_heard < moment

    def silent_for(self) -> float:
        """Seconds since the agent last sent anything (0 while its stream is held back:
        the dispatcher is not reading it, so the agent's silence tells nothing)."""
        if self._held_back:
            return 0.0
        return time.monotonic() - self._last_heard

    async def room_for_report(self) -> None:
        """Wait until the agent has fewer than ``REPORTS_PER_AGENT`` reports waiting."""
        if not self._report_room.locked():
            await self._report_room.acquire()
            return
        self._held_back = True
        try:
            await self._report_room.acquire()
        finally:
            self._held_back = False
            self.heard()  # its silence counts again from now on

    def report_done(self) -> None:
        """A report of this agent was applied (or given up on): room for the next."""
        self._report_room.release()

    def fail(self, error: Exception) -> None:
        """A report of the agent could not be applied: end the stream with ``error``."""
        if self.failure is None:
            self.failure = error
        self.close()

    def last_heard_at(self) -> datetime:
        """When the agent last sent anything, by the wall clock."""
        return datetime.now(UTC) - timedelta(seconds=self.silent_for())

    def recorded_before(self, moment: float) -> bool:
        """True when the agent was last recorded alive before ``moment`` (``time.monotonic``)."""
        return self._recorded < moment

    def recorded(self, moment: float) -> None:
        """The agent was recorded alive as of ``moment`` (its Hello, or a bulk record)."""
        self._recorded = moment

    def mark(self) -> int:
        """Call before reading the waiting work that is then given to ``offer`` (or, if the
        reading failed, to ``unmark``)."""
        self._sends += 1  # a mark of its own: readings are ordered among the sends
        self._readings.append(self._sends)
        return self._sends

    def unmark(self, mark: int) -> None:
        """The reading that began at ``mark`` is over (offered, or failed)."""
        if mark in self._readings:
            self._readings.remove(mark)
        self._forget_finished()

    def offer(
        self, waiting: Iterable[TaskView], *, as_of: int | None = None, complete: bool = True
    ) -> list[str]:
        """Queue the tasks and stops not yet sent in this session; never waits.

        Returns the ids of the tasks queued now. A task that does not fit in the
        outbox is left for later (``wants_work``). With ``as_of`` (the ``mark``
        taken before ``waiting`` was read) and ``complete``, ``waiting`` is all the
        agent's waiting work, and whatever was sent before and no longer waits is
        forgotten, unless an older reading is still under way. A reading of only
        the new work (not ``complete``) forgets nothing.
        """
        tasks = list(waiting)
        queued = []
        for task in tasks:
            if task.status is InvocationStatus.PENDING:
                if task.execution_id in self._sent_tasks:
                    continue
                if self._closed or len(self._messages) >= self._capacity:
                    self._wants_work = not self._closed
                    continue
                self._sends += 1
                self._sent_tasks[task.execution_id] = self._sends
                self._sent_at[task.execution_id] = time.monotonic()
                self._put(task_message(task))
                lateness = (datetime.now(UTC) - task.due_at).total_seconds()
                metrics.scheduling_lateness.observe(max(0.0, lateness))
                queued.append(task.execution_id)
            elif task.status is InvocationStatus.STOPPING:
                self.stop(task.execution_id)
        if as_of is not None:
            self.unmark(as_of)
            if complete and not any(mark < as_of for mark in self._readings):
                self._forget_unless(as_of, {task.execution_id for task in tasks})
        return queued

    def _forget_unless(self, as_of: int, still: set[str]) -> None:
        for sent in (self._sent_tasks, self._sent_stops):
            for execution_id in [i for i, n in sent.items() if n <= as_of and i not in still]:
                del sent[execution_id]
                self._sent_at.pop(execution_id, None)

    def has_room(self) -> bool:
        """True while a task fits in the outbox."""
        return not self._closed and len(self._messages) < self._capacity

    def left_out(self) -> None:
        """Work for the agent was not read because the outbox was full: read it on drain."""
        self._wants_work = not self._closed

    def wants_work(self) -> bool:
        """True once, when a task was left out for lack of room and the outbox has drained
        below half: the caller reads the waiting work and offers it again."""
        if self._wants_work and not self._closed and len(self._messages) < self._capacity // 2:
            self._wants_work = False
            return True
        return False

    def acknowledged(self, execution_id: str) -> None:
        """The agent took a task: record how long delivery took."""
        sent = self._sent_at.pop(execution_id, None)
        if sent is not None:
            metrics.delivery_latency.observe(time.monotonic() - sent)

    def finished(self, execution_id: str) -> None:
        """The execution's result is stored: it is forgotten once no reading that began
        before is under way (such a reading may have found it still waiting)."""
        self._sent_at.pop(execution_id, None)
        self._sends += 1
        self._finishing[execution_id] = self._sends
        self._forget_finished()

    def _forget_finished(self) -> None:
        oldest = min(self._readings, default=None)
        done = [i for i, n in self._finishing.items() if oldest is None or n < oldest]
        for execution_id in done:
            del self._finishing[execution_id]
            self._sent_tasks.pop(execution_id, None)
            self._sent_stops.pop(execution_id, None)

    def stop(self, execution_id: str) -> None:
        """Ask the agent to stop an execution (once per session)."""
        if execution_id not in self._sent_stops and self.send(stop_message(execution_id)):
            self._sends += 1
            self._sent_stops[execution_id] = self._sends

    def send(self, message: agent_pb2.DispatcherMessage) -> bool:
        """Queue a control message (stop, result ack, shutdown); never waits.

        Control messages may use room beyond the tasks: an outbox-size, and at least
        enough for a Welcome and a stop for every execution a Hello may list as held
        (``MAX_HELD``, all queued before the stream is read); a stream that lets even
        that fill up is stuck: it is closed and False returned.
        """
        if self._closed:
            return False
        if len(self._messages) >= self._capacity + max(self._capacity, MAX_HELD + 1):
            self.give_up(f"its outbox overflowed ({len(self._messages)} messages)")
            return False
        self._put(message)
        return True

    def send_nowait_shutdown(self, reconnect_after_ms: int) -> None:
        """Queue a Shutdown telling the agent to reconnect after a delay."""
        self.send(
            agent_pb2.DispatcherMessage(
                shutdown=agent_pb2.Shutdown(
                    reconnect_after_ms=reconnect_after_ms, reason="server shutting down"
                )
            )
        )

    async def next_message(self) -> agent_pb2.DispatcherMessage | None:
        """The next message for the agent; None when the session is closed."""
        while not self._messages and not self._closed:
            self._changed.clear()
            await self._changed.wait()
        if self._stuck or not self._messages:
            return None
        message = self._messages.popleft()
        self._last_taken = time.monotonic()
        if len(self._messages) < self._capacity:
            self._full_since = None
        return message

    def close(self) -> None:
        """End the stream after the messages already queued (at once when it is stuck).

        Nothing waits on the outbox, so nothing is left hanging; a stream that
        cannot take even the queued messages is still closed by the send timeout.
        """
        self._closed = True
        self._changed.set()
        if self._messages and not self._stuck:
            # From now on it must take what is queued, however little: watch it as a
            # full outbox is watched.
            self._closed_at = time.monotonic()
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(
                    self._send_timeout, self._check_stuck
                )

    def ended(self) -> None:
        """The stream is over: drop what it did not take, and stop watching it."""
        self.close()
        self._messages.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _put(self, message: agent_pb2.DispatcherMessage) -> None:
        self._messages.append(message)
        self._changed.set()
        if len(self._messages) >= self._capacity and self._full_since is None:
            self._full_since = time.monotonic()
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(
                    self._send_timeout, self._check_stuck
                )

    def _check_stuck(self) -> None:
        self._timer = None
        draining = self._closed_at if self._closed and self._messages else None
        watched = [since for since in (self._full_since, draining) if since is not None]
        if self._stuck or not watched:
            return
        idle_since = max(min(watched), self._last_taken)
        left = idle_since + self._send_timeout - time.monotonic()
        if left > 0:
            self._timer = asyncio.get_running_loop().call_later(left, self._check_stuck)
            return
        self.give_up(f"its outbox stayed full for {self._send_timeout:g} s")

    def give_up(self, reason: str, *, silent: bool = False) -> None:
        """Close the stream at once, dropping what is queued, and call ``on_stuck``.

        ``silent``: the agent sent nothing for too long (rather than took nothing).
        """
        if self._stuck:
            return
        self._stuck = True
        self.stuck_reason = reason
        self.silent = silent
        self._messages.clear()  # redelivered to the next stream: nothing is lost
        self.close()
        if self._on_stuck is not None:
            self._on_stuck(self)
