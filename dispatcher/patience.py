"""Agent reports that meet an unavailable database wait for it.

Ending the streams instead would make the agents reconnect, and their Hellos
fail, for as long as the database is away. Waiting holds back the batch of
reports (``dispatcher.reports``), and each agent's stream only once that agent
has its most reports waiting; heartbeats go on. The agent keeps every result
on disk until its ``ResultAck``, which is sent only once the result is stored,
so nothing is lost and nothing is recorded twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from scheduler.store.database import is_unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_RETRY = 0.2
"""Seconds before the first retry; each retry doubles the wait, up to ``MAX_RETRY``."""
MAX_RETRY = 2.0
"""Longest wait between two retries: a returning database is used within this."""
PATIENCE = 300.0
"""Seconds a batch of reports may wait for the database before its agents' streams are
ended (they then reconnect and re-send what they hold)."""


async def when_available(
    handle: Callable[[], Awaitable[T]],
    *,
    what: str,
    patience: float = PATIENCE,
    delayed: Callable[[], None] | None = None,
) -> T:
    """Run ``handle``, again and again while the database is unavailable; its result.

    After ``patience`` seconds the last error propagates. Any other error propagates
    at once. ``delayed`` is called once, when ``what`` first meets the outage.
    """
    give_up = time.monotonic() + patience
    wait = FIRST_RETRY
    for attempt in itertools.count():
        try:
            done = await handle()
        except Exception as error:
            if not is_unavailable(error):
                raise
            if attempt == 0:
                if delayed is not None:
                    delayed()
                log.warning("database unavailable; %s held until it is back", what)
            if time.monotonic() + wait > give_up:
                raise  # the caller ends the streams concerned
            await asyncio.sleep(wait)
            wait = min(wait * 2, MAX_RETRY)
        else:
            if attempt > 0:
                log.info("database back; %s recorded", what)
            return done
    raise AssertionError("unreachable")  # itertools.count never ends
