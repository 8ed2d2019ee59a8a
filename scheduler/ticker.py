"""The ticker: turns due schedules into executions, on time, on any number of replicas.

Each round claims due targets with ``FOR UPDATE SKIP LOCKED``, decides every
fire (``operations.firing.decide``: misfire grace, overlap), then creates the
executions, advances the targets and wakes the dispatchers
(``operations.firing.fire``), all in one transaction. Between rounds it sleeps
until the earliest due instant or a notification about a changed schedule.

The running loop wakes ``LEAD`` before the earliest due instant and claims
what falls due within ``LOOKAHEAD``: claiming, deciding and the overlap check
are done before the instant, in the round's transaction, which then waits on
an in-memory timer until the last claimed instant and only writes (advance,
executions, quota, statuses, notifications) and commits. The locks are held
meanwhile, so exactly-once and crash safety are those of any round: nothing is
advanced without its executions, in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.operations import firing
from scheduler.operations.context import Context
from scheduler.store import targets as target_store
from scheduler.store.clock import database_now
from scheduler.store.database import log_failure
from scheduler.store.listener import Listener
from scheduler.store.notices import Channel
from scheduler.store.targets import ArmedTarget

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
"""Targets claimed per transaction."""
MAX_IDLE = 30.0
"""Longest sleep without a due fire; a notification wakes the ticker sooner."""
CONTENDED_RETRY = 0.05
"""Sleep when a due target is held by another replica."""
LEAD = 0.02
"""Seconds before the earliest due instant the running loop starts its round."""
LOOKAHEAD = 0.02
"""Seconds ahead of now a round of the running loop claims (``tick()`` claims none ahead)."""


@dataclass(frozen=True, kw_only=True)
class _Outcome:
    """What a round did and when the next fire is due."""

    claimed: int
    fired: firing.Fired | None
    """What the round's fires did, counted once the round has committed."""
    until_due: float | None
    """Seconds from the round's end to the earliest armed fire (None: none; < 0: overdue)."""
    contended: bool = False
    """Nothing claimed though a fire was due within reach: another replica holds it."""


class Ticker:
    """One ticker replica."""

    def __init__(self, ctx: Context, listener: Listener, *, batch_size: int = BATCH_SIZE) -> None:
        self.context = ctx
        self.listener = listener
        self._batch_size = batch_size
        self._grace = timedelta(seconds=ctx.limits.misfire_grace)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start firing in the background."""
        self._task = asyncio.create_task(self._run(), name="kairos-ticker")

    async def shutdown(self) -> None:
        """Stop after the current round; its transaction commits or rolls back whole."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def tick(self) -> int:
        """One round: fire what is due now; returns how many targets it claimed."""
        outcome = await self.context.transaction(self._now_round)
        firing.count(outcome.fired)
        return outcome.claimed

    async def tick_in(self, conn: AsyncConnection) -> int:
        """``tick`` in the caller's transaction, which holds the claimed targets until it ends.

        Its fires are not counted in the metrics: only the caller knows if it commits.
        """
        return (await self._now_round(conn)).claimed

    async def _now_round(self, conn: AsyncConnection) -> _Outcome:
        return await self._round(conn, ahead=0.0, until_due=False)

    async def _run(self) -> None:
        round_ = functools.partial(self._round, ahead=LOOKAHEAD, until_due=True)
        async with self.listener.subscribe(Channel.SCHEDULE) as notices:
            while True:
                try:
                    outcome = await self.context.transaction(round_)
                    firing.count(outcome.fired)
                    if outcome.claimed == self._batch_size:
                        continue  # more is due at once
                    delay = _delay(outcome)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log_failure(log, "ticker round", error)
                    delay = 1.0
                if delay <= 0:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(notices.get(), delay)

    async def _round(self, conn: AsyncConnection, *, ahead: float, until_due: bool) -> _Outcome:
        now = await database_now(conn)
        read_at = time.monotonic()
        due = await target_store.claim_due(conn, now + timedelta(seconds=ahead), self._batch_size)
        fired = await self._fire(conn, due, now, read_at) if due else None
        if not until_due:
            return _Outcome(claimed=len(due), fired=fired, until_due=None)
        seconds = await target_store.earliest_due(conn)
        reached = seconds is not None and seconds + (time.monotonic() - read_at) <= ahead
        return _Outcome(
            claimed=len(due), fired=fired, until_due=seconds, contended=not due and reached
        )

    async def _fire(
        self, conn: AsyncConnection, due: list[ArmedTarget], now: datetime, read_at: float
    ) -> firing.Fired:
        """Decide the claimed targets' fires; at the last one's instant, write them all."""
        round_ = await firing.decide(conn, due, now, grace=self._grace)
        if round_.fires:
            # Claimed ahead: no execution exists before its instant (its jittered start).
            latest = max(f.starts_at for f in round_.fires)
            wait = (latest - now).total_seconds() - (time.monotonic() - read_at)
            if wait > 0:
                await asyncio.sleep(wait)
        today = (now + timedelta(seconds=time.monotonic() - read_at)).date()
        return await firing.fire(conn, self.context.limits, round_, today, trigger="schedule")


def _delay(outcome: _Outcome) -> float:
    """How long the running loop sleeps after a round that claimed less than a batch."""
    if outcome.until_due is None:
        return MAX_IDLE
    if outcome.contended:
        return CONTENDED_RETRY
    return min(max(outcome.until_due - LEAD, 0.0), MAX_IDLE)
