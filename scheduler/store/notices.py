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

from sqlalchemy import Text, and_, any_, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import InvocationStatus
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.listener import Notice as Received
from scheduler.store.tables import executions, instances, of_instance


class Channel(StrEnum):
    """The NOTIFY channels Kairos listens on."""

    EXECUTION = "kairos_execution"
    """An invocation whose executions changed: its id."""
    SCHEDULE = "kairos_schedule"
    """Schedules were added or stopped (tickers recompute when to wake): an invocation id."""
    OUTPUT = "kairos_output"
    """One live output chunk: JSON of ``OutputChunk``, data in Base64."""
    DEREGISTERED = "kairos_deregistered"
    """A managed instance was deregistered (its stream is to close): JSON of its account,
    region and instance id (``deregistered``, ``deregistered_instance``)."""


DISPATCH_PREFIX = "kairos_dispatch_"
"""Each dispatcher replica's own channel is this and its id (``dispatch_channel``)."""


def dispatch_channel(dispatcher_id: str) -> str:
    """The channel on which ``dispatcher_id`` hears of new work for its agents (to run or
    to stop): an invocation id.

    A key, not the instances: a payload's size must not grow with their number or
    the length of their ids (PostgreSQL allows 8000 bytes). Only the replicas that
    hold agents of the invocation are told (``send_dispatch``); each reads which of
    its agents the work is for (``store.dispatch.agents_with_work``).
    """
    return DISPATCH_PREFIX + dispatcher_id


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


def deregistered(instance: InstanceKey) -> list[Notice]:
    """The DEREGISTERED notice of a managed instance."""
    tenant = instance.tenant
    return [
        (
            Channel.DEREGISTERED,
            json.dumps([tenant.account_id, tenant.region_id, instance.instance_id]),
        )
    ]


def deregistered_instance(payload: str) -> InstanceKey:
    """The instance a DEREGISTERED payload names."""
    account_id, region_id, instance_id = json.loads(payload)
    return InstanceKey(Tenant(account_id, region_id), instance_id)


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


_new_work = (
    select(executions.c.invocation_id, instances.c.dispatcher_id)
    .distinct()
    .select_from(executions.join(instances, of_instance(executions)))
    .where(
        executions.c.invocation_id == any_(array_parameter("invocation_ids", Text())),
        # What was sent already (handed over by the call that made it, say) is no news:
        # a replica reads only the work never sent, and the stops.
        or_(
            executions.c.status == InvocationStatus.STOPPING.value,
            and_(
                executions.c.status == InvocationStatus.PENDING.value,
                executions.c.delivered_at.is_(None),
                executions.c.released_at.is_not(None),
            ),
        ),
        instances.c.dispatcher_id.is_not(None),
    )
    .subquery("w")
)
_SEND_DISPATCH = select(
    func.count(
        func.pg_notify(
            literal(DISPATCH_PREFIX) + _new_work.c.dispatcher_id, _new_work.c.invocation_id
        )
    )
)


async def send_dispatch(conn: AsyncConnection, invoke_ids: Iterable[str]) -> None:
    """Tell the dispatchers holding agents with work of these invocations (to run or to
    stop), each on its own channel; delivered when the transaction commits.

    Agents held by no replica are told nothing: they are sent their work when they
    connect. A replica an agent connects to while this transaction is open may miss
    the notice; its periodic look for forgotten work
    (``store.dispatch.agents_with_stale_work``) catches that within seconds.
    """
    ids = sorted(set(invoke_ids))
    if ids:
        await conn.execute(_SEND_DISPATCH, {"invocation_ids": array(ids)})


_notices = Unnested("n", channel=Text(), payload=Text())
_SEND = select(func.count(func.pg_notify(_notices.c.channel, _notices.c.payload)))
