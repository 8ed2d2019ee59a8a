"""Streams of deregistered managed instances, closed wherever they are held.

DeregisterManagedInstance may be served by any replica; it sends a DEREGISTERED notice
in its transaction. Each dispatcher closes its stream of that instance, if it holds
one, with ``UNAUTHENTICATED`` (the agent's credential is refused from then on, so it
cannot come back). A listener that reconnected may have missed notices (``GAP``): the
dispatcher then asks which of its managed instances were deregistered.
"""

from __future__ import annotations

import logging
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


async def close_deregistered(
    ctx: Context, listener: Listener, sessions: Callable[[], Mapping[InstanceKey, AgentSession]]
) -> None:
    """Forever: close the streams of the instances deregistered (``sessions``: those held)."""
    async with listener.subscribe(notices.Channel.DEREGISTERED) as queue:
        while True:
            notice = await queue.get()
            try:
                if notice.channel == GAP:
                    held = [key for key in sessions() if is_managed(key.instance_id)]
                    gone = await managed_instances.deregistered_among(ctx, held)
                else:
                    gone = {notices.deregistered_instance(notice.payload)}
            except Exception as error:
                log_failure(log, "closing the streams of deregistered instances", error)
                continue
            for key in gone:
                session = sessions().get(key)
                if session is not None:
                    log.info(
                        "closing the stream of a deregistered instance",
                        extra={"instance_id": key.instance_id},
                    )
                    session.fail(_refused())


def _refused() -> KairosError:
    return KairosError(
        kind=ErrorKind.UNAUTHENTICATED,
        code=RefusalCode.UNAUTHENTICATED,
        message="the managed instance was deregistered: its credential is refused",
    )
