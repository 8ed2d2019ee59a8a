"""Agent messages that meet an unavailable database wait for it, on their agent's reader only.

Ending the stream instead would make the agent reconnect, and its Hello fail,
for as long as the database is away. Waiting holds back only this agent's
later messages (each agent's stream is read by its own task); the agent keeps
every result on disk until its ``ResultAck``, which is sent only once the
result is stored, so nothing is lost and nothing is recorded twice.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable

from scheduler.observability import metrics
from scheduler.store.database import is_unavailable

log = logging.getLogger(__name__)

FIRST_RETRY = 0.2
"""Seconds before the first retry; each retry doubles the wait, up to ``MAX_RETRY``."""
MAX_RETRY = 2.0
"""Longest wait between two retries: a returning database is used within this."""
PATIENCE = 300.0
"""Seconds one message may wait for the database before the agent's stream is ended
(the agent then reconnects and re-sends what it holds)."""


async def when_available(
    handle: Callable[[], Awaitable[None]],
    *,
    kind: str,
    instance_id: str,
    patience: float = PATIENCE,
    retrying: Callable[[], None] | None = None,
) -> None:
    """Run ``handle``, again and again while the database is unavailable.

    After ``patience`` seconds the last error propagates. Any other error propagates at once.
    ``retrying`` is called before each retry.
    """
    extra = {"instance_id": instance_id}
    give_up = time.monotonic() + patience
    wait = FIRST_RETRY
    for attempt in itertools.count():
        try:
            await handle()
        except Exception as error:
            if not is_unavailable(error):
                raise
            if attempt == 0:
                metrics.agent_messages_delayed.labels(kind).inc()
                log.warning(
                    "database unavailable; agent %s held until it is back", kind, extra=extra
                )
            if time.monotonic() + wait > give_up:
                raise  # the reader logs it and ends the stream
            await asyncio.sleep(wait)
            wait = min(wait * 2, MAX_RETRY)
            if retrying is not None:
                retrying()
        else:
            if attempt > 0:
                log.info("database back; agent %s recorded", kind, extra=extra)
            return
