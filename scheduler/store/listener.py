"""LISTEN/NOTIFY fan-out: one connection per process, many in-process subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

_RECONNECT_DELAY = 1.0
SUBSCRIPTION_SIZE = 256
"""Notices one subscriber may have waiting before it falls behind (and gets a GAP)."""
GAP = ""
"""Pseudo-channel of the notice sent after (re)connecting: notifications may be lost."""


@dataclass(frozen=True)
class Notice:
    """One notification."""

    channel: str
    payload: str


def conninfo(url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """Delivers NOTIFY payloads of some channels to asyncio queues.

    A dropped connection is re-established; subscribers then get a notice on
    the ``GAP`` pseudo-channel so they can re-read state they may have missed.
    """

    def __init__(self, conninfo: str, channels: list[str]) -> None:
        self._conninfo = conninfo
        self._channels = channels
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self) -> None:
        """Connect and listen; returns once the first LISTEN is in place."""
        self._task = asyncio.create_task(self._run(), name="kairos-listener")
        await self._ready.wait()

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def subscribe(
        self,
        *channels: str,
        wanted: Callable[[Notice], bool] | None = None,
        size: int = SUBSCRIPTION_SIZE,
    ) -> AsyncIterator[Subscription]:
        """The channels' notices (those ``wanted``) for the duration of the block.

        The subscription is bounded: one that falls behind loses what was queued
        for a single ``GAP`` notice and re-reads what it follows, so a subscriber
        that stops reading costs ``size`` notices at most.
        """
        subscription = Subscription(wanted, size)
        for channel in channels:
            self._subscribers[channel].add(subscription)
        try:
            yield subscription
        finally:
            for channel in channels:
                self._subscribers[channel].discard(subscription)

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True
                ) as conn:
                    for channel in self._channels:
                        # Not SQLAlchemy: only a raw psycopg connection yields notifications.
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._broadcast_gap()
                    self._ready.set()
                    async for notice in conn.notifies():
                        received = Notice(notice.channel, notice.payload)
                        for subscription in self._subscribers.get(notice.channel, ()):
                            subscription.offer(received)
            except (psycopg.Error, OSError) as error:
                # Any failure of the connection, not only a lost one: a listener that
                # gave up would leave every subscriber waiting for good.
                log.warning("notification listener lost its connection: %s", error)
                await asyncio.sleep(_RECONNECT_DELAY)

    def _broadcast_gap(self) -> None:
        subscriptions = {s for subscribers in self._subscribers.values() for s in subscribers}
        for subscription in subscriptions:
            subscription.gap()


class Subscription:
    """One subscriber's notices: filtered before they are queued, and bounded."""

    def __init__(self, wanted: Callable[[Notice], bool] | None, size: int) -> None:
        self._wanted = wanted
        self._queue: asyncio.Queue[Notice] = asyncio.Queue(size)

    async def get(self) -> Notice:
        """The next notice, waiting for one."""
        return await self._queue.get()

    def get_nowait(self) -> Notice | None:
        """The next notice if one is queued, else None."""
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def offer(self, notice: Notice) -> None:
        """Queue ``notice`` if wanted; when full, replace what is queued with one ``GAP``."""
        if self._wanted is not None and not self._wanted(notice):
            return
        try:
            self._queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.gap()

    def gap(self) -> None:
        """Tell the subscriber that notices may be lost: it must re-read what it follows."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(Notice(GAP, ""))
