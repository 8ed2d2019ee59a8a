"""Waits until a started server serves and its agents are online, polling the server's API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kairos.v1 import fleet_pb2
from scheduler.local.stubs import Tls, connect, open_channel

POLL_SECONDS = 0.05
PAGE_SIZE = 50  # DescribeAgentStatus names at most this many instances per call

# gRPC waits longer and longer between attempts to connect to an address that
# refuses (1 s, 1.6 s, … up to 2 min): a server that starts after a few seconds
# would be noticed seconds late. Retry every tenth of a second to half a second.
_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]


class NotReady(TimeoutError):
    """A wait gave up: `gave up waiting for the server at 127.0.0.1:50051 to serve`."""


async def until_serving(address: str, within: float, tls: Tls | None = None) -> None:
    """Poll the gRPC health service at `address` until it reports SERVING (TLS with `tls`)."""
    channel = open_channel(address, tls, _RECONNECT)
    # The health stubs' types declare no methods; the call is checked at run time.
    health: Any = health_pb2_grpc.HealthStub(channel)

    async def serving() -> bool:
        try:
            reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
        except grpc.aio.AioRpcError:
            return False  # not listening yet
        return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)

    try:
        await _poll(serving, f"the server at {address} to serve", within)
    finally:
        await channel.close()


async def until_online(
    address: str,
    instance_ids: list[str],
    within: float,
    *,
    since: datetime | None = None,
    token: str | None = None,
    tls: Tls | None = None,
) -> None:
    """Poll DescribeAgentStatus until every one of `instance_ids` is online.

    With `since` (an aware datetime), each agent must also have been heard from
    at or after it (its Hello counts): an agent that restarts shows online from its
    last run's stream and heartbeats until the server notices it has gone.
    ``token``: the client token of the agents' account, for a server with an auth file;
    ``tls``: for a server that serves TLS.
    """
    kairos = connect(address, token, tls)

    async def online() -> bool:
        count = 0
        for k in range(0, len(instance_ids), PAGE_SIZE):
            request = fleet_pb2.DescribeAgentStatusRequest(
                instance_ids=instance_ids[k : k + PAGE_SIZE], max_results=PAGE_SIZE
            )
            try:
                reply = await kairos.fleet.DescribeAgentStatus(request, metadata=kairos.metadata)
            except grpc.aio.AioRpcError:
                # NOT_FOUND until the agents have said hello; a server that died
                # meanwhile is the supervisor's to report, with its log.
                return False
            count += sum(arrived(agent) for agent in reply.instances)
        return count == len(instance_ids)

    def arrived(agent: fleet_pb2.AgentStatus) -> bool:
        heard = agent.last_heartbeat_time.ToDatetime(tzinfo=UTC)
        return agent.online and (since is None or heard >= since)

    try:
        await _poll(online, f"{len(instance_ids)} agents to come online", within)
    finally:
        await kairos.channel.close()


async def _poll(ready: Callable[[], Awaitable[bool]], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await ready():
        if time.monotonic() > deadline:
            raise NotReady(f"gave up waiting for {what}")
        await asyncio.sleep(POLL_SECONDS)
