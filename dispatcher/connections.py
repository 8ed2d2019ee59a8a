"""Agents connecting and leaving this replica, recorded in batches (group commit).

A connect storm (a dispatcher restarts, a network heals) brings thousands of
Hellos at once. Each stream submits its agent's checked Hello and waits; one
worker takes whatever gathered while the previous batch was being written and
records it in one transaction (``operations.connections``), then welcomes the
batch's agents together: one reading of their waiting work for all. Ended
streams are recorded the same way, in the same batches, before the Hellos.

The same instance twice in a batch (an agent reconnecting before its Hello was
recorded) is recorded once per Hello, in order: the later Hello waits for the
next batch, and its stream wins the session, as it would alone.

A batch that fails for a reason other than an unavailable database is recorded
again one arrival or departure at a time, so one bad Hello ends only its own
stream. An unavailable database refuses the batch's Hellos (UNAVAILABLE): the
agents reconnect with back-off, as they would after a failed connect.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dispatcher.session import AgentSession
from scheduler.domain.arrivals import Arrival
from scheduler.domain.tenancy import InstanceKey
from scheduler.observability import metrics
from scheduler.operations import connections
from scheduler.operations.connections import Departure, Outcome
from scheduler.operations.context import Context
from scheduler.store.database import is_unavailable

log = logging.getLogger(__name__)

MAX_BATCH = 1_000
"""Hellos (and, apart, ended streams) in one transaction, at most."""
DEPARTURE_RETRY = 1.0
"""Seconds before ended streams the database could not take are recorded again."""

Welcome = Callable[[Sequence[tuple[AgentSession, list[str]]]], Awaitable[None]]
"""Takes the recorded agents' sessions, each with the executions its agent must stop."""


@dataclass(frozen=True)
class _Arriving:
    session: AgentSession
    arrival: Arrival
    done: asyncio.Future[None] = field(default_factory=asyncio.Future)


@dataclass(frozen=True)
class _Leaving:
    departure: Departure
    done: asyncio.Future[None] = field(default_factory=asyncio.Future)


class ConnectionBatches:
    """Gathers this replica's Hellos and ended streams and records them, a batch at a time."""

    def __init__(
        self,
        ctx: Context,
        dispatcher_id: str,
        welcome: Welcome,
        holds: Callable[[InstanceKey], bool],
    ) -> None:
        """``holds``: whether this replica holds a (welcomed) stream of the agent now."""
        self._ctx = ctx
        self._id = dispatcher_id
        self._welcome = welcome
        self._holds = holds
        # Unbounded: each stream has at most one item here, and waits for it.
        self._arriving: deque[_Arriving] = deque()
        self._leaving: deque[_Leaving] = deque()
        self._gathered = asyncio.Event()
        self._stopped = False

    def arrive(self, session: AgentSession, arrival: Arrival) -> asyncio.Future[None]:
        """Queue an agent's Hello; done once its session is welcomed (``welcome``), or
        failed with why it is refused. Its stream should await it shielded: the
        session may be welcomed after the stream ended, and must then be forgotten."""
        arriving = _Arriving(session, arrival)
        if self._stopped:  # the server is shutting down: its streams end anyway
            arriving.done.cancel()
            return arriving.done
        self._arriving.append(arriving)
        metrics.agent_connects_waiting.inc()
        self._gathered.set()
        return arriving.done

    async def leave(self, agent: InstanceKey, last_heard_at: datetime) -> None:
        """Record that the agent's stream ended; returns once it is recorded."""
        if self._stopped:
            return  # released with this replica's lease: its agents are all disconnected
        leaving = _Leaving(Departure(agent, last_heard_at))
        self._leaving.append(leaving)
        self._gathered.set()
        await leaving.done

    async def run(self) -> None:
        """Record what comes, each batch what gathered during the last one."""
        arriving: list[_Arriving] = []
        leaving: list[_Leaving] = []
        try:
            while True:
                await self._gathered.wait()
                self._gathered.clear()
                while self._arriving or self._leaving:
                    arriving, leaving = self._take()
                    metrics.agent_connect_batch_size.observe(len(arriving))
                    try:
                        kept = await self._apply(arriving, leaving)
                    finally:
                        metrics.agent_connects_waiting.dec(len(arriving))
                    arriving, leaving = [], []
                    metrics.agent_disconnects_waiting.set(len(self._leaving))
                    if kept:
                        await asyncio.sleep(DEPARTURE_RETRY)
        finally:
            # Stopped with the dispatcher: nothing waits for a batch that will not come.
            self._stopped = True
            for pending in self._arriving:
                pending.done.cancel()
                metrics.agent_connects_waiting.dec()
            for pending in arriving:
                pending.done.cancel()
            for departing in [*leaving, *self._leaving]:
                departing.done.cancel()

    def _take(self) -> tuple[list[_Arriving], list[_Leaving]]:
        """The next batch: distinct instances; a repeated one waits for the next batch."""
        arriving: dict[InstanceKey, _Arriving] = {}
        later: list[_Arriving] = []
        while self._arriving and len(arriving) < MAX_BATCH:
            item = self._arriving.popleft()
            if item.arrival.key in arriving:
                later.append(item)
            else:
                arriving[item.arrival.key] = item
        self._arriving.extendleft(reversed(later))
        leaving: dict[InstanceKey, _Leaving] = {}
        while self._leaving and len(leaving) < MAX_BATCH:
            gone = self._leaving.popleft()
            if gone.departure.agent in leaving:
                self._leaving.appendleft(gone)
                break
            leaving[gone.departure.agent] = gone
        return list(arriving.values()), list(leaving.values())

    async def _apply(self, arriving: list[_Arriving], leaving: list[_Leaving]) -> bool:
        """Record a batch; True when its ended streams wait for the database, queued again."""
        # An agent whose stream ended and that reconnected here since (its new Hello
        # recorded by an earlier batch) is not gone: its old stream's end is not recorded.
        for item in leaving:
            if self._holds(item.departure.agent):
                _succeed(item.done)
        leaving = [item for item in leaving if not item.done.done()]
        try:
            outcomes = await connections.record(
                self._ctx,
                [item.arrival for item in arriving],
                [item.departure for item in leaving],
                dispatcher_id=self._id,
            )
        except Exception as error:
            if not is_unavailable(error) and len(arriving) + len(leaving) > 1:
                log.exception(
                    "recording %d connects and %d disconnects failed; recording each alone",
                    len(arriving),
                    len(leaving),
                )
                kept = False
                for one in arriving:
                    kept |= await self._apply([one], [])
                for gone in leaving:
                    kept |= await self._apply([], [gone])
                return kept
            if not is_unavailable(error):
                log.exception("recording an agent's connect or disconnect failed")
            for one in arriving:
                _fail(one.done, error)
            if is_unavailable(error) and leaving:
                # An ended stream left unrecorded leaves its agent "connected" here for
                # as long as this replica lives: it waits for the database instead.
                self._leaving.extendleft(reversed(leaving))
                return True
            for gone in leaving:
                _fail(gone.done, error)
            return False
        for item in leaving:
            _succeed(item.done)
        await self._welcome_all(arriving, outcomes)
        return False

    async def _welcome_all(self, arriving: list[_Arriving], outcomes: list[Outcome]) -> None:
        welcomed: list[tuple[AgentSession, list[str]]] = []
        for item, outcome in zip(arriving, outcomes, strict=True):
            if isinstance(outcome, Exception):
                _fail(item.done, outcome)
            else:
                welcomed.append((item.session, outcome))
        try:
            await self._welcome(welcomed)
        finally:
            for item, outcome in zip(arriving, outcomes, strict=True):
                if not isinstance(outcome, Exception):
                    _succeed(item.done)


def _succeed(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


def _fail(done: asyncio.Future[None], error: Exception) -> None:
    if not done.done():
        done.set_exception(error)
