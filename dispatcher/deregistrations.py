"""Streams of deregistered managed instances, closed wherever they are held.

DeregisterManagedInstance may be served by any replica; it sends a DEREGISTERED notice
in its transaction. Each dispatcher closes its stream of that instance, if it holds
one, with ``UNAUTHENTICATED`` (the agent's credential is refused from then on, so it
cannot come back). A listener that reconnected may have missed notices (``GAP``): the
dispatcher then asks which of its managed instances were deregistered.

A stream whose credential was read just before the deregistration committed may be
welcomed only after the notice was handled: the instances deregistered in the last
``REMEMBERED`` seconds are remembered, and such a stream is closed as it is welcomed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from dispatcher.session import AgentSession
from scheduler.domain.codes import RefusalCode
from scheduler.domain.credentials import is_managed
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.tenancy import InstanceKey
from scheduler.operations import managed_instances
from scheduler.operations.context import Context
from scheduler.store import notices
from scheduler.store.database import log_failure
from scheduler.store.listener import GAP, Listener

log = logging.getLogger(__name__)

REMEMBERED = 60.0
"""Seconds a deregistered instance is remembered: far longer than a credential's read
takes to become a welcomed stream."""


class Deregistrations:
    """Closes this replica's streams of deregistered instances."""

    def __init__(
        self,
        ctx: Context,
        listener: Listener,
        sessions: Callable[[], Mapping[InstanceKey, AgentSession]],
    ) -> None:
        """``sessions``: the streams this replica holds, by instance."""
        self._ctx = ctx
        self._listener = listener
        self._sessions = sessions
        # Instance -> when its notice was handled (time.monotonic); rare, and pruned.
        self._recent: dict[InstanceKey, float] = {}

    async def run(self) -> None:
        """Forever: close the streams of the instances deregistered."""
        async with self._listener.subscribe(notices.Channel.DEREGISTERED) as queue:
            while True:
                notice = await queue.get()
                try:
                    gone = await self._gone(notice.channel, notice.payload)
                except Exception as error:
                    log_failure(log, "closing the streams of deregistered instances", error)
                    continue
                now = time.monotonic()
                self._recent = {k: at for k, at in self._recent.items() if now - at < REMEMBERED}
                for key in gone:
                    self._recent[key] = now
                    session = self._sessions().get(key)
                    if session is not None:
                        _close(session)

    def close_if_gone(self, session: AgentSession) -> None:
        """Close a stream just welcomed if its instance was deregistered meanwhile."""
        at = self._recent.get(session.key)
        if at is not None and time.monotonic() - at < REMEMBERED:
            _close(session)

    async def _gone(self, channel: str, payload: str) -> set[InstanceKey]:
        if channel != GAP:
            return {notices.deregistered_instance(payload)}
        held = [key for key in self._sessions() if is_managed(key.instance_id)]
        return await managed_instances.deregistered_among(self._ctx, held)


def _close(session: AgentSession) -> None:
    log.info(
        "closing the stream of a deregistered instance",
        extra={"instance_id": session.key.instance_id},
    )
    session.fail(
        KairosError(
            kind=ErrorKind.UNAUTHENTICATED,
            code=RefusalCode.UNAUTHENTICATED,
            message="the managed instance was deregistered: its credential is refused",
        )
    )
