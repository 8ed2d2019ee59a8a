"""The dispatcher's clockwork: its lease, silent streams, and what no agent answers for."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from dispatcher.session import AgentSession
from scheduler.domain.liveness import record_age, silent_after
from scheduler.operations import lifecycle
from scheduler.operations.context import Context
from scheduler.store.database import log_failure

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 1.0
"""Seconds between checks for executions past their delivery timeout or held by lost agents."""
SILENCE_CHECK = 5.0
"""Seconds between looks for silent streams (at most): a look costs a pass over every
session, and the silence it looks for lasts minutes."""
LEASE_TTL = timedelta(seconds=15)
"""How long this replica's agents count as connected after its last lease renewal."""
LEASE_RENEWAL = 5.0
"""Seconds between lease renewals: a few chances to renew before the lease lapses."""
HEARTBEAT_FLUSH = 5.0
"""Seconds between bulk records of the agents held here as alive (those due): "online"
means a sign of life within minutes, so writing each one more often buys nothing."""


class Upkeep:
    """Keeps this replica's lease and ends what no agent will answer for, every second."""

    def __init__(
        self, ctx: Context, dispatcher_id: str, sessions: Callable[[], Iterable[AgentSession]]
    ) -> None:
        self._ctx = ctx
        self._id = dispatcher_id
        self._sessions = sessions
        # A tenth of the silence looked for at most, so a stream is closed close to it.
        self._silence_check = min(SILENCE_CHECK, silent_after(ctx.limits) / 10)

    async def take_lease(self) -> None:
        """Hold this replica's lease: its agents count as connected from now on."""
        await lifecycle.hold_lease(self._ctx, self._id, LEASE_TTL)

    async def release_lease(self) -> None:
        """Give the lease up (shutdown): this replica's agents count as gone at once."""
        try:
            await lifecycle.release_lease(self._ctx, self._id)
        except Exception:  # the lease lapses by itself: the agents count as gone a bit later
            log.warning("could not release the dispatcher lease", exc_info=True)

    async def renew_lease(self) -> None:
        """Renew the lease every few seconds, for ever."""
        while True:
            await asyncio.sleep(LEASE_RENEWAL)
            try:
                await lifecycle.hold_lease(self._ctx, self._id, LEASE_TTL)
            except Exception as error:
                log_failure(log, "dispatcher lease renewal", error)

    async def record_alive(self) -> None:
        """Every few seconds, record alive, in one statement, the agents held here whose
        last record is older than ``liveness.record_age``: their streams are open, and
        the pings on their connections say they are alive. For ever."""
        age = record_age(self._ctx.limits)
        while True:
            await asyncio.sleep(HEARTBEAT_FLUSH)
            now = time.monotonic()
            due = [s for s in list(self._sessions()) if s.recorded_before(now - age)]
            try:
                await lifecycle.heartbeats(
                    self._ctx, [session.key for session in due], dispatcher_id=self._id
                )
            except Exception as error:
                log_failure(log, "recording agents alive", error)
                continue  # still due at the next flush
            for session in due:
                session.recorded(now)

    async def sweep(self) -> None:
        """Close silent streams and end unanswered executions every second, for ever."""
        # Seconds of working database before this replica ends anything as unanswered after
        # an outage: every replica must first renew its lease and every agent record what it
        # could not meanwhile (acks, heartbeats), or their agents would look lost.
        grace = LEASE_TTL.total_seconds()
        reachable_since = time.monotonic() - grace
        silence_checked = time.monotonic()
        while True:
            if time.monotonic() - silence_checked >= self._silence_check:
                silence_checked = time.monotonic()
                self._close_silent()
            try:
                if time.monotonic() - reachable_since >= grace:
                    await lifecycle.end_unanswered(self._ctx)
                else:
                    await lifecycle.check_database(self._ctx)
            except Exception as error:
                log_failure(log, "delivery timeout sweep", error)
                reachable_since = time.monotonic()
            await asyncio.sleep(SWEEP_INTERVAL)

    def _close_silent(self) -> None:
        """Close the streams of agents silent for two backstop heartbeats
        (``liveness.silent_after``).

        No execution of theirs ends as lost while a live replica holds their stream;
        the pings end a stream whose connection is dead, but not one through a proxy
        that answers pings for an agent that is gone: once such a stream ends, the
        agent's executions are lost, and the agent, if it is there, reconnects and
        reconciles.
        """
        silence = silent_after(self._ctx.limits)
        cutoff = time.monotonic() - silence
        for session in list(self._sessions()):
            if session.silent_since(cutoff):
                session.give_up(f"it sent nothing for more than {silence} s", silent=True)
