"""The retention job: deletes what is older than ``--retention-days``, in small batches.

It runs beside the ticker, in every process with the ticker role, as a task of its
own: it never runs inside a ticker round, and each batch is one short transaction
on a pooled connection of its own, so firing and delivery never wait for it
beyond a batch's row locks, which it takes only on rows nobody else holds
(``store.retention``: ``SKIP LOCKED``). Replicas running it at once share the work
the same way; a batch that finds nothing left ends the round.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.observability import metrics
from scheduler.operations.context import Context
from scheduler.store import retention
from scheduler.store.database import log_failure

log = logging.getLogger(__name__)

BATCH_SIZE = 500
"""Rows one statement deletes at most: a transaction of a few milliseconds."""
INTERVAL = 60.0
"""Seconds between rounds: rows come due for deletion a little at a time."""
PAUSE = 0.05
"""Seconds between two batches of a round, so that other work gets the database."""


@dataclass(frozen=True, kw_only=True)
class Deleted:
    """What one round deleted, by table."""

    executions: int = 0
    invocations: int = 0
    commands: int = 0
    idempotency_keys: int = 0
    daily_usage: int = 0


class Retention:
    """One replica's retention job."""

    def __init__(self, ctx: Context, *, batch_size: int = BATCH_SIZE) -> None:
        self.context = ctx
        self._batch = batch_size
        self._days = ctx.limits.retention_days
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start deleting in the background, a round every ``INTERVAL``."""
        self._task = asyncio.create_task(self._run(), name="kairos-retention")

    async def shutdown(self) -> None:
        """Stop; a batch in flight commits or rolls back whole."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def round(self) -> Deleted:
        """Delete everything due, batch by batch, until a batch finds nothing left."""
        days, batch = self._days, self._batch
        executions = await self._drain(
            "executions", functools.partial(retention.old_executions, days=days, batch=batch)
        )
        old_invocations = functools.partial(retention.old_invocations, days=days, batch=batch)
        invocations = rows = 0
        while True:
            gone, with_rows = await self.context.transaction(old_invocations)
            invocations, rows = invocations + gone, rows + with_rows
            metrics.retention_deleted.labels("invocations").inc(gone)
            metrics.retention_deleted.labels("executions").inc(with_rows)
            if not gone:
                break
            await asyncio.sleep(PAUSE)
        commands = await self._drain(
            "commands", functools.partial(retention.old_commands, days=days, batch=batch)
        )
        keys = await self._drain(
            "idempotency_keys", functools.partial(retention.expired_keys, batch=batch)
        )
        usage = await self._drain(
            "daily_usage", functools.partial(retention.old_usage, batch=batch)
        )
        deleted = Deleted(
            executions=executions + rows,
            invocations=invocations,
            commands=commands,
            idempotency_keys=keys,
            daily_usage=usage,
        )
        if deleted != Deleted():
            log.info(
                "retention deleted %d executions, %d invocations, %d unkept commands, "
                "%d idempotency keys, %d daily usage counts",
                deleted.executions,
                deleted.invocations,
                deleted.commands,
                deleted.idempotency_keys,
                deleted.daily_usage,
            )
        return deleted

    async def _drain(self, table: str, batch: Callable[[AsyncConnection], Awaitable[int]]) -> int:
        """Run ``batch`` until it deletes less than a batch; returns the rows it deleted."""
        total = 0
        while True:
            deleted = await self.context.transaction(batch)
            total += deleted
            metrics.retention_deleted.labels(table).inc(deleted)
            if deleted < self._batch:
                return total
            await asyncio.sleep(PAUSE)

    async def _run(self) -> None:
        while True:
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                metrics.retention_errors.inc()
                log_failure(log, "retention round", error)
            await asyncio.sleep(INTERVAL)
