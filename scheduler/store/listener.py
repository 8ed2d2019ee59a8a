"""LISTEN/NOTIFY fan-out: one connection per process, many in-process subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

_RECONNECT_DELAY = 1.0
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
        self._subscribers: dict[str, set[asyncio.Queue[Notice]]] = defaultdict(set)
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
    async def subscribe(self, *channels: str) -> AsyncIterator[asyncio.Queue[Notice]]:
        """One queue of the channels' notices for the duration of the block."""
        queue: asyncio.Queue[Notice] = asyncio.Queue()
        for channel in channels:
            self._subscribers[channel].add(queue)
        try:
            yield queue
        finally:
            for channel in channels:
                self._subscribers[channel].discard(queue)

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
                        for queue in self._subscribers.get(notice.channel, ()):
                            queue.put_nowait(Notice(notice.channel, notice.payload))
            except psycopg.OperationalError as error:
                log.warning("notification listener lost its connection: %s", error)
                await asyncio.sleep(_RECONNECT_DELAY)

    def _broadcast_gap(self) -> None:
        queues = {q for subscribers in self._subscribers.values() for q in subscribers}
        for queue in queues:
            queue.put_nowait(Notice(GAP, ""))
