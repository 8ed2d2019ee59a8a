"""New work is announced only to the dispatcher replica that holds the agent, and work
whose announcement missed its agent's replica is still delivered within seconds."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import select

from kairos.v1 import common_pb2 as S
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.models import PlannedExecution
from scheduler.domain.tenancy import DEFAULT_TENANT
from scheduler.local import Kairos, connect
from scheduler.server.config import ServerRole
from scheduler.store.database import create_engine
from scheduler.store.executions import NewExecution, insert_executions
from scheduler.store.notices import dispatch_channel
from scheduler.store.tables import instances
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.plays import receive_task, report, run_request

DISPATCHER_ONLY = frozenset({ServerRole.DISPATCHER})
API_ONLY = frozenset({ServerRole.API})


@contextlib.asynccontextmanager
async def listening(database_url: str, held_by: dict[str, str]) -> AsyncIterator[Listening]:
    """Listening on the dispatch channels of the replicas holding these instances."""
    channels = {dispatch_channel(dispatcher): i for i, dispatcher in held_by.items()}
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as listen:
        for channel in channels:
            await listen.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        yield Listening(listen, channels)


@dataclass(frozen=True)
class Listening:
    listen: psycopg.AsyncConnection[Any]
    channels: dict[str, str]

    async def until(self, last: str) -> list[tuple[str, str]]:
        """The dispatch notices heard, as (instance, invocation id), up to ``last``'s."""
        heard = []
        async for notice in self.listen.notifies(timeout=30.0):
            heard.append((self.channels[notice.channel], notice.payload))
            if notice.payload == last:
                break
        return heard


async def holders(database_url: str) -> dict[str, str]:
    """The dispatcher id holding each instance's agent."""
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        rows = await conn.execute(select(instances.c.id, instances.c.dispatcher_id))
        found = {row.id: row.dispatcher_id for row in rows}
    await engine.dispose()
    return found


async def test_new_work_is_announced_only_to_the_replica_holding_the_agent(
    servers: ServerFactory, database_url: str
) -> None:
    api = await servers.start(roles=API_ONLY)
    first = await servers.start(roles=DISPATCHER_ONLY)
    second = await servers.start(roles=DISPATCHER_ONLY)
    kairos = connect(api)
    peers = [Peer(first, "i-1"), Peer(second, "i-2")]
    for peer in peers:
        await peer.hello()
    held_by = await holders(servers.url)
    assert held_by["i-1"] != held_by["i-2"]

    async with listening(database_url, held_by) as notices:
        on_first = await kairos.invocations.RunCommand(run_request(instance_ids=["i-1"]))
        on_second = await kairos.invocations.RunCommand(run_request(instance_ids=["i-2"]))
        heard = await notices.until(on_second.invoke_id)
    # In commit order: each invocation told to its agent's replica, and to no other.
    assert heard == [("i-1", on_first.invoke_id), ("i-2", on_second.invoke_id)]
    for peer in peers:
        assert (await receive_task(peer)).invoke_id in (on_first.invoke_id, on_second.invoke_id)
        await peer.close()
    await kairos.channel.close()


async def test_work_for_agents_of_the_calls_own_replica_is_handed_over_unannounced(
    servers: ServerFactory, database_url: str
) -> None:
    both = await servers.start()
    other = await servers.start(roles=DISPATCHER_ONLY)
    kairos = connect(both)
    peers = [Peer(both, "i-1"), Peer(other, "i-2")]
    for peer in peers:
        await peer.hello()
    held_by = await holders(servers.url)

    async with listening(database_url, held_by) as notices:
        here = await kairos.invocations.RunCommand(run_request(instance_ids=["i-1", "i-2"]))
        assert (await receive_task(peers[0])).invoke_id == here.invoke_id
        elsewhere = await kairos.invocations.RunCommand(run_request(instance_ids=["i-2"]))
        heard = await notices.until(elsewhere.invoke_id)
    # Notices come in commit order: the replica holding i-1 was told nothing.
    assert heard == [("i-2", here.invoke_id), ("i-2", elsewhere.invoke_id)]
    for _ in range(2):
        assert (await receive_task(peers[1])).invoke_id in (here.invoke_id, elsewhere.invoke_id)
    for peer in peers:
        await peer.close()
    await kairos.channel.close()


async def test_work_that_no_notice_announced_is_delivered_within_seconds(
    kairos: Kairos, servers: ServerFactory
) -> None:
    peer = Peer(kairos.address, "i-1")
    await peer.hello()
    run = await kairos.invocations.RunCommand(run_request())
    await report(peer, await receive_task(peer), S.INVOCATION_STATUS_SUCCESS)

    # Another run of the same target, written as a replica would whose notice went
    # to the agent's previous dispatcher: no notice reaches this one.
    engine = create_engine(servers.url)
    async with engine.begin() as conn:
        await insert_executions(
            conn,
            [
                NewExecution(
                    tenant=DEFAULT_TENANT,
                    invocation_id=run.invoke_id,
                    plan=PlannedExecution(
                        id="e-unannounced",
                        instance_id="i-1",
                        script=b"echo again",
                        status=InvocationStatus.PENDING,
                    ),
                    scheduled_at=datetime.now(UTC),
                    repeat=2,
                )
            ],
        )
    await engine.dispose()
    assert (await receive_task(peer)).execution_id == "e-unannounced"
    await peer.close()
