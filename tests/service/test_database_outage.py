"""A database that cannot be reached: health says so, calls are UNAVAILABLE, agents wait.

The outage is real for the server: its database stops accepting connections
and every connection it holds is terminated (``outage``), which is what a
restarting PostgreSQL looks like to it, while the other tests' databases on
the same PostgreSQL go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import psycopg
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY
from psycopg import sql
from sqlalchemy.engine import make_url

from kairos.v1 import agent_pb2, common_pb2
from scheduler.local import Kairos
from scheduler.server.health import LIVENESS
from scheduler.store.embedded import EmbeddedPostgres
from tests.service.harness import Peer
from tests.service.plays import receive_task, results, run_request

S = common_pb2
Health = health_pb2.HealthCheckResponse
WAIT = 10.0


@contextlib.asynccontextmanager
async def outage(postgres: EmbeddedPostgres, database_url: str) -> AsyncIterator[None]:
    """The test's database refuses connections and loses those it had, until the block ends."""
    name = sql.Identifier(str(make_url(database_url).database))
    admin_url = postgres.url_for("postgres").replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as admin:
        await admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (str(make_url(database_url).database),),
        )
        try:
            yield
        finally:
            await admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(name))


def _health(kairos: Kairos) -> Any:
    return health_pb2_grpc.HealthStub(kairos.channel)


async def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.05)


def _delayed(kind: str) -> float:
    return REGISTRY.get_sample_value("kairos_agent_messages_delayed_total", {"kind": kind}) or 0.0


async def test_health_follows_the_database_and_calls_are_unavailable(
    kairos: Kairos, postgres: EmbeddedPostgres, database_url: str
) -> None:
    watch = _health(kairos).Watch(health_pb2.HealthCheckRequest(service=""))
    assert (await watch.read()).status == Health.SERVING
    async with outage(postgres, database_url):
        async with asyncio.timeout(WAIT):
            assert (await watch.read()).status == Health.NOT_SERVING
        assert REGISTRY.get_sample_value("kairos_database_up") == 0
        # Liveness does not follow: restarting the server would not bring the database back.
        liveness = await _health(kairos).Check(health_pb2.HealthCheckRequest(service=LIVENESS))
        assert liveness.status == Health.SERVING
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await kairos.invocations.RunCommand(run_request())
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "database is unavailable" in (refused.value.details() or "")
    async with asyncio.timeout(WAIT):
        assert (await watch.read()).status == Health.SERVING
    watch.cancel()
    assert REGISTRY.get_sample_value("kairos_database_up") == 1


async def test_an_agent_keeps_its_stream_and_its_result_is_stored_once_the_database_is_back(
    kairos: Kairos, peers: list[Peer], postgres: EmbeddedPostgres, database_url: str
) -> None:
    peer = peers[0]
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peer)
    await peer.send(agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=task.execution_id)))
    # The stream is read in order: once this is acknowledged, the ack above is stored.
    await peer.send(agent_pb2.AgentMessage(result=agent_pb2.ExecutionResult(execution_id="e-0")))
    assert (await peer.receive()).result_ack.execution_id == "e-0"
    now = Timestamp()
    now.GetCurrentTime()
    result = agent_pb2.ExecutionResult(
        execution_id=task.execution_id,
        status=S.INVOCATION_STATUS_SUCCESS,
        output=b"done\n",
        start_time=now,
        finish_time=now,
    )
    results_held = _delayed("result")
    async with outage(postgres, database_url):
        # A heartbeat costs the database nothing now (written in bulk later): not held.
        await peer.send(agent_pb2.AgentMessage(heartbeat=agent_pb2.Heartbeat(agent_time=now)))
        await peer.send(agent_pb2.AgentMessage(result=result))
        # Held, not acknowledged: the agent keeps it, the dispatcher retries it.
        await _until(lambda: _delayed("result") > results_held, "the result met the outage")
    # The same stream, still open: the acknowledgement comes once the result is stored.
    ack = await peer.receive()
    assert ack.WhichOneof("kind") == "result_ack"
    assert ack.result_ack.execution_id == task.execution_id
    stored = (await results(kairos, response.invoke_id))["i-1"]
    assert stored.invocation_status == S.INVOCATION_STATUS_SUCCESS
    assert stored.output == b"done\n"
    # And it goes on carrying work.
    await kairos.invocations.RunCommand(run_request())
    assert (await receive_task(peer)).execution_id != task.execution_id


async def test_a_stream_that_ends_during_an_outage_is_recorded_once_the_database_is_back(
    kairos: Kairos, postgres: EmbeddedPostgres, database_url: str
) -> None:
    peer = Peer(kairos.address, "i-gone")
    await peer.hello()
    assert await _holder(database_url, "i-gone") is not None
    async with outage(postgres, database_url):
        await peer.close()
        # Before, the failed departure was dropped: the instance stayed recorded as
        # connected to this replica for as long as it lived.
        await _until(lambda: _gauge("kairos_agent_disconnects_waiting") >= 1, "waiting")
    deadline = time.monotonic() + WAIT
    while await _holder(database_url, "i-gone") is not None:
        assert time.monotonic() < deadline, "the ended stream was never recorded"
        await asyncio.sleep(0.05)
    await _until(lambda: _gauge("kairos_agent_disconnects_waiting") == 0, "recorded")


def _gauge(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def _holder(database_url: str, instance_id: str) -> str | None:
    """The dispatcher replica the instance is recorded as connected to."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(url) as conn:
        row = await (
            await conn.execute("SELECT dispatcher_id FROM instances WHERE id = %s", (instance_id,))
        ).fetchone()
    assert row is not None
    held: str | None = row[0]
    return held
