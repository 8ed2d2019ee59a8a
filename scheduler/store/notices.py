"""PostgreSQL NOTIFY between replicas: the channels, their payloads, and sending them.

Every notice is sent inside the transaction that made the change, so it is
delivered when (and only if) that transaction commits. ``store.listener``
receives them; the encoders and decoders here are the only places that know a
payload's shape.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Text, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.store.arrays import Unnested
from scheduler.store.listener import Notice as Received


class Channel(StrEnum):
    """The NOTIFY channels Kairos listens on."""

    DISPATCH = "kairos_dispatch"
    """An invocation with new work for agents (to run or to stop): its id.

    A key, not the instances: a payload's size must not grow with their number
    or the length of their ids (PostgreSQL allows 8000 bytes). Each dispatcher
    reads which of its agents the work is for (``store.dispatch.agents_with_work``).
    """
    EXECUTION = "kairos_execution"
    """An invocation whose executions changed: its id."""
    SCHEDULE = "kairos_schedule"
    """Schedules were added or stopped (tickers recompute when to wake): an invocation id."""
    OUTPUT = "kairos_output"
    """One live output chunk: JSON of ``OutputChunk``, data in Base64."""


OUTPUT_CHUNK = 3000
"""Bytes of output per OUTPUT notice: Base64 of it, in JSON, stays under the 8000-byte limit."""


@dataclass(frozen=True, kw_only=True)
class OutputChunk:
    """A piece of an execution's live output, as the OUTPUT channel carries it."""

    invoke_id: str
    execution_id: str
    instance_id: str
    offset: int
    data: bytes


Notice = tuple[Channel, str]
"""A channel and the payload to send on it."""


def dispatch(invoke_ids: Iterable[str]) -> list[Notice]:
    """DISPATCH notices, one per invocation with new work for agents."""
    return [(Channel.DISPATCH, invoke_id) for invoke_id in invoke_ids]


def executions_changed(invoke_ids: Iterable[str]) -> list[Notice]:
    """EXECUTION notices, one per invocation."""
    return [(Channel.EXECUTION, invoke_id) for invoke_id in invoke_ids]


def schedules_changed(invoke_id: str) -> list[Notice]:
    """A SCHEDULE notice about one invocation."""
    return [(Channel.SCHEDULE, invoke_id)]


def output(chunk: OutputChunk) -> list[Notice]:
    """OUTPUT notices carrying ``chunk``, split so that each fits a payload."""
    notices: list[Notice] = []
    for start in range(0, len(chunk.data), OUTPUT_CHUNK):
        payload = {
            "invoke_id": chunk.invoke_id,
            "execution_id": chunk.execution_id,
            "instance_id": chunk.instance_id,
            "offset": chunk.offset + start,
            "data": base64.b64encode(chunk.data[start : start + OUTPUT_CHUNK]).decode(),
        }
        notices.append((Channel.OUTPUT, json.dumps(payload)))
    return notices


def about(invoke_id: str) -> Callable[[Received], bool]:
    """Whether a notice is about this invocation's executions or output (``subscribe``'s filter).

    Decided without decoding the payload: an OUTPUT payload starts with its
    invocation id (``output`` writes it first), so a watcher filters every
    other invocation's output cheaply, before anything is queued for it.
    """
    output_prefix = json.dumps({"invoke_id": invoke_id})[:-1] + ","

    def wanted(notice: Received) -> bool:
        if notice.channel == Channel.OUTPUT:
            return notice.payload.startswith(output_prefix)
        return notice.channel != Channel.EXECUTION or notice.payload == invoke_id

    return wanted


def output_chunk(payload: str) -> OutputChunk:
    """The chunk an OUTPUT payload carries."""
    fields = json.loads(payload)
    return OutputChunk(
        invoke_id=fields["invoke_id"],
        execution_id=fields["execution_id"],
        instance_id=fields["instance_id"],
        offset=fields["offset"],
        data=base64.b64decode(fields["data"]),
    )


async def send(conn: AsyncConnection, notices: list[Notice]) -> None:
    """Send the notices, in order, in one statement; delivered when the transaction commits."""
    if not notices:
        return
    await conn.execute(
        _SEND,
        _notices.bind(channel=[str(n[0]) for n in notices], payload=[n[1] for n in notices]),
    )


_notices = Unnested("n", channel=Text(), payload=Text())
_SEND = select(func.count(func.pg_notify(_notices.c.channel, _notices.c.payload)))
