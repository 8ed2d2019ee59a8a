"""The ticker: turns due schedules into executions, on time, on any number of replicas.

Each round claims due targets with ``FOR UPDATE SKIP LOCKED``, decides every
fire with the pure rules of ``scheduler.domain.firing`` (misfire grace,
overlap), creates the executions in one insert, advances the targets and
wakes the dispatchers, all in one transaction. Between rounds it sleeps
until the earliest due instant or a notification about a changed schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.firing import instance_zone, plan_fire
from scheduler.operations.context import Context
from scheduler.operations.firing import Fire, create_executions
from scheduler.schedule import Schedule, ScheduleError, parse_frequency
from scheduler.store import invocations as invocation_store
from scheduler.store import targets as target_store
from scheduler.store.listener import Listener
from scheduler.store.targets import ArmedTarget, TargetUpdate

log = logging.getLogger(__name__)

BATCH_SIZE = 500
"""Targets claimed per transaction."""
MAX_IDLE = 30.0
"""Longest sleep without a due fire; a notification wakes the ticker sooner."""
CONTENDED_RETRY = 0.05
"""Sleep when a due target is held by another replica."""


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
        return await self.context.transaction(self._round)

    async def _run(self) -> None:
        async with self.listener.subscribe(invocation_store.SCHEDULE_CHANNEL) as notices:
            while True:
                try:
                    while await self.tick() == self._batch_size:
                        pass
                    delay = await self.context.transaction(_until_due)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("ticker round failed")
                    delay = 1.0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(notices.get(), delay)

    async def _round(self, conn: AsyncConnection) -> int:
        now: datetime = (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()
        due = await target_store.claim_due(conn, now, self._batch_size)
        if not due:
            return 0
        busy = await target_store.busy(conn, [(t.invocation_id, t.instance.id) for t in due])
        fires: list[Fire] = []
        updates: list[TargetUpdate] = []
        for target in due:
            fire, update = self._decide(
                target, now, (target.invocation_id, target.instance.id) in busy
            )
            if fire is not None:
                fires.append(fire)
            updates.append(update)
        await target_store.advance(conn, updates)
        await create_executions(conn, self.context.limits, fires, now.date())
        for invoke_id in sorted({u.invocation_id for u in updates if not u.armed}):
            await invocation_store.refresh_status(conn, invoke_id)
        return len(due)

    def _decide(
        self, target: ArmedTarget, now: datetime, busy: bool
    ) -> tuple[Fire | None, TargetUpdate]:
        assert target.next_fire_at is not None
        try:
            schedule = _schedule(target.frequency, target.created_at)
        except ScheduleError as error:
            # Validated at creation; only a rule tightened by an upgrade gets here.
            log.error(
                "disarming target with an invalid schedule: %s",
                error,
                extra={"invocation_id": target.invocation_id, "instance_id": target.instance.id},
            )
            return None, TargetUpdate(
                target.invocation_id, target.instance.id, False, None, 0, 0, 0
            )
        plan = plan_fire(
            schedule,
            target.next_fire_at,
            now,
            grace=self._grace,
            zone=instance_zone(target.instance.time_zone),
        )
        fire = None
        overlap = 0
        if plan.fire_at is not None:
            if busy:
                overlap = 1  # the previous run still goes on: this fire is skipped
            else:
                fire = Fire(target, plan.fire_at)
        update = TargetUpdate(
            invocation_id=target.invocation_id,
            instance_id=target.instance.id,
            armed=plan.next_fire_at is not None,
            next_fire_at=plan.next_fire_at,
            fired=1 if fire else 0,
            overlap_skips=overlap,
            misfire_skips=plan.misfire_skips,
        )
        return fire, update


@functools.lru_cache(maxsize=4096)
def _schedule(frequency: str, created_at: datetime) -> Schedule:
    return parse_frequency(frequency, anchor=created_at)


async def _until_due(conn: AsyncConnection) -> float:
    seconds = await target_store.earliest_due(conn)
    if seconds is None:
        return MAX_IDLE
    if seconds <= 0:
        return CONTENDED_RETRY
    return min(seconds, MAX_IDLE)
