"""Liveness from the transport, rare heartbeats, and "online = connected or recently heard".

A real server on a real socket, agents played over real streams (``Peer``) or in raw
HTTP/2 (``raw_agent``), instance rows aged in the database to stand for a long silence.
"""

from __future__ import annotations

import asyncio
import time

import grpc
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from kairos.v1 import fleet_pb2
from scheduler.domain.limits import Limits
from scheduler.domain.liveness import PING_TIMEOUT
from scheduler.domain.tenancy import DEFAULT_TENANT
from scheduler.local import Kairos, connect, until_online
from scheduler.store.database import create_engine
from scheduler.store.tables import dispatchers, instances
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer, until_disconnected
from tests.service.plays import receive_task, run_request
from tests.service.raw_agent import raw_agent

ACCOUNT = DEFAULT_TENANT.account_id
"""The one account of a server without an auth file."""
LONG_AGO = func.now() - func.make_interval(0, 0, 0, 0, 0, 3)
"""Three minutes ago: past the 120 s after which a disconnected agent counts as offline."""
PING_INTERVAL = 1
"""--heartbeat-interval of the keepalive test: the server pings every second."""
ENDED_WITHIN = PING_INTERVAL + PING_TIMEOUT + 14
"""Seconds within which a connection that stops answering pings must be closed: a ping
and its timeout, and room for a loaded machine (well short of the 30 s pings before)."""


async def heard_long_ago(database_url: str, instance_id: str, *, held_by: str | None) -> None:
    """Record the instance's last heartbeat three minutes ago and its stream as held by
    ``held_by`` (the live replica's id as it is; or a replica whose lease lapsed)."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        values: dict[str, object] = {"last_heartbeat_at": LONG_AGO}
        if held_by is not None:
            values["dispatcher_id"] = held_by
            await conn.execute(
                insert(dispatchers)
                .values(
                    id=held_by,
                    renewed_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 1),
                    expires_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 0, 30),
                )
                .on_conflict_do_nothing()
            )
        await conn.execute(update(instances).where(instances.c.id == instance_id).values(values))
    await engine.dispose()


async def holder(database_url: str, instance_id: str) -> str | None:
    """The replica the instance's row says holds its agent's stream."""
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        held_by: str | None = (
            await conn.execute(
                select(instances.c.dispatcher_id).where(instances.c.id == instance_id)
            )
        ).scalar_one()
    await engine.dispose()
    return held_by


async def agent_status(kairos: Kairos, instance_id: str) -> fleet_pb2.AgentStatus:
    reply = await kairos.fleet.DescribeAgentStatus(
        fleet_pb2.DescribeAgentStatusRequest(instance_ids=[instance_id])
    )
    [status] = reply.instances
    assert isinstance(status, fleet_pb2.AgentStatus)
    return status


async def test_a_connected_agent_with_an_old_heartbeat_is_online_and_gets_its_run(
    kairos: Kairos, servers: ServerFactory
) -> None:
    peer = Peer(kairos.address, "i-1")
    await peer.hello()
    await heard_long_ago(servers.url, "i-1", held_by=None)

    status = await agent_status(kairos, "i-1")
    assert status.online
    heard = status.last_heartbeat_time.ToSeconds()
    assert time.time() - heard > 120  # the last recorded sign of life, as it is
    response = await kairos.invocations.RunCommand(run_request(instance_ids=["i-1"]))
    task = await receive_task(peer)
    assert task.invoke_id == response.invoke_id
    await peer.close()


async def test_an_agent_whose_replica_lapsed_and_heartbeat_is_old_is_offline(
    kairos: Kairos, servers: ServerFactory
) -> None:
    peer = Peer(kairos.address, "i-1")
    await peer.hello()
    # Its row names a replica that crashed: its lease lapsed, nobody cleared the row.
    await heard_long_ago(servers.url, "i-1", held_by="d-crashed")

    assert not (await agent_status(kairos, "i-1")).online
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.invocations.RunCommand(run_request(instance_ids=["i-1"]))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "offline" in (raised.value.details() or "")
    await peer.close()


@pytest.mark.parametrize(
    ("limits", "told"),
    [
        (Limits(), 120),  # --agent-lost-after, not --heartbeat-interval (5 here)
        (Limits(agent_lost_after=20), 20),
    ],
)
async def test_the_welcome_tells_agents_the_backstop_heartbeat_interval(
    servers: ServerFactory, limits: Limits, told: int
) -> None:
    address = await servers.start(limits=limits, heartbeat_interval=5)
    peer = Peer(address, "i-1")
    welcome = await peer.hello()
    assert welcome.heartbeat_interval_seconds == told
    await peer.close()


async def test_a_connection_that_stops_answering_pings_is_closed_and_its_agent_let_go(
    servers: ServerFactory,
) -> None:
    # No application heartbeat would notice for --agent-lost-after (120 s): only the pings.
    address = await servers.start(heartbeat_interval=PING_INTERVAL)
    kairos = connect(address)
    healthy = Peer(address, "i-healthy")
    await healthy.hello()
    async with raw_agent(address, "i-deaf") as deaf:
        await until_online(address, ["i-deaf"], 10)
        assert await holder(servers.url, "i-deaf") is not None
        deaf.go_deaf()
        started = time.monotonic()
        async with asyncio.timeout(ENDED_WITHIN):
            await deaf.closed.wait()
        # Its stream ended, and with it the session: no replica holds the agent.
        await until_disconnected(servers.url, account_id=ACCOUNT, instance_id="i-deaf")
        assert time.monotonic() - started >= PING_INTERVAL  # not closed for another reason
    # An agent that answers, pinged every second all along, is still connected.
    await kairos.invocations.RunCommand(run_request(instance_ids=["i-healthy"]))
    await receive_task(healthy)
    await healthy.close()
    await kairos.channel.close()
