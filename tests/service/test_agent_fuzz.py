"""Generated agent streams against a real server: whatever an agent sends, the server holds.

Each example opens a real ``AgentService.Connect`` stream for account 111 with a
drawn Hello and a drawn sequence of messages naming the agent's own executions,
another account's, unknown and malformed ids, at any offset, with any status,
text and instant, in any order. Properties: the stream ends ``OK`` exactly
when the agent closes it after messages the protocol allows, and otherwise
with a clear refusal (never ``UNKNOWN`` or ``INTERNAL``); a refused message
stores nothing; another account's executions and every final one never change.
Afterwards the server is ``SERVING`` and account 222's agent runs a command.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.enums import FINAL_STATUSES
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from scheduler.store.database import create_engine
from scheduler.store.tables import executions, instances, invocation_targets, invocations
from tests.service.agent_strategies import Known, agent_messages, breaks_protocol, hellos
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer
from tests.service.plays import barrier, receive_task, report, results, run_request

S = common_pb2
T = TypeVar("T")
REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.FAILED_PRECONDITION,
}
"""How a stream the server will not serve may end."""
NEVER_CHANGE = {status.value for status in FINAL_STATUSES}
"""Execution statuses no report may replace: every final one."""
STEP_TIMEOUT = 30.0
"""Seconds one example may take: a stuck one fails instead of hanging the thread."""
QUIET = Limits(delivery_timeout=3600, agent_lost_after=3600, offline_after=3600)
"""Nothing but agents' messages changes an execution during the test."""

Rows = dict[str, frozenset[tuple[Any, ...]]]


async def stored(engine: AsyncEngine) -> Rows:
    """Every row of the tables an agent's messages may change."""
    found = {}
    async with engine.connect() as conn:
        for table in (instances, invocations, invocation_targets, executions):
            rows = await conn.execute(select(table))
            found[table.name] = frozenset(tuple(map(_hashable, row)) for row in rows)
    return found


def _hashable(value: Any) -> Any:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else value


def untouchable(rows: Rows) -> frozenset[tuple[Any, ...]]:
    """The executions no agent of account 111 may change: account 222's, and final ones."""
    columns = list(executions.c.keys())
    account, status = columns.index("account_id"), columns.index("status")
    return frozenset(
        row for row in rows["executions"] if row[account] == "222" or row[status] in NEVER_CHANGE
    )


def unbelievable(rows: Rows) -> list[datetime]:
    """Start and finish instants stored before 2000 or more than a day from now."""
    columns = list(executions.c.keys())
    at = [columns.index("started_at"), columns.index("finished_at")]
    latest = datetime.now(UTC) + timedelta(days=1)
    moments = [row[i] for row in rows["executions"] for i in at if row[i] is not None]
    return [m for m in moments if not datetime(2000, 1, 1, tzinfo=UTC) <= m <= latest]


def brief(message: agent_pb2.AgentMessage) -> str:
    """A message as a failure shows it: its first few hundred characters."""
    text = str(message)
    return text if len(text) < 400 else f"{text[:400]}…"


def changes(kept: frozenset[tuple[Any, ...]], rows: Rows) -> dict[str, dict[str, Any]]:
    """What changed in the ``kept`` execution rows: by id, each changed column's values."""
    columns = list(executions.c.keys())
    now = {row[0]: row for row in rows["executions"]}
    return {
        old[0]: {
            name: (was, now[old[0]][i])
            for i, (name, was) in enumerate(zip(columns, old, strict=True))
            if was != now[old[0]][i]
        }
        for old in kept
        if old != now[old[0]]
    }


def without_instances(rows: Rows) -> Rows:
    # A stream's end records its agent as gone: the instance row is the one that may change.
    return {name: found for name, found in rows.items() if name != instances.name}


class World:
    """The server under test, its two accounts' clients, and what the examples share."""

    def __init__(self, address: str, engine: AsyncEngine) -> None:
        self.address = address
        self.engine = engine
        self.client_a = connect(address, "client-a")
        self.client_b = connect(address, "client-b")
        self.agent_b = Peer(address, "i-b", token="agent-b")
        self.foreign = ""
        self.own: list[str] = []
        self._barriers = (f"e-barrier-{n}" for n in itertools.count())

    async def start(self) -> None:
        # Account 222's agent holds a running execution: a target for foreign reports.
        await self.agent_b.hello()
        self.foreign = await _running_execution(self.client_b, self.agent_b, "i-b")
        # Account 111's instance, registered once; the fuzzed agents may connect as it.
        agent_a = Peer(self.address, "i-fuzz", token="agent-a")
        await agent_a.hello()
        await agent_a.close()

    async def new_execution(self) -> Known:
        """A new execution of account 111's instance; the ids messages may name."""
        response = await self.client_a.invocations.RunCommand(
            run_request(instance_ids=["i-fuzz"]), metadata=self.client_a.metadata
        )
        self.own.append((await results(self.client_a, response.invoke_id))["i-fuzz"].execution_id)
        return Known(own=self.own[-3:], foreign=[self.foreign])

    async def stream(self, hello: agent_pb2.Hello, messages: list[agent_pb2.AgentMessage]) -> None:
        """One agent stream: ``hello`` then ``messages``; checks how it ends and what changed."""
        before = await stored(self.engine)
        peer = Peer(self.address, hello.instance_id, token="agent-a")
        try:
            await self._play(peer, hello, messages, before)
        finally:
            await peer.close()
        after = await stored(self.engine)
        assert changes(untouchable(before), after) == {}, "a final or foreign execution changed"
        assert unbelievable(after) == [], "an instant the server should not believe was stored"

    async def _play(
        self,
        peer: Peer,
        hello: agent_pb2.Hello,
        messages: list[agent_pb2.AgentMessage],
        before: Rows,
    ) -> None:
        await peer.send(agent_pb2.AgentMessage(hello=hello))
        try:
            first = await peer.receive()
        except grpc.aio.AioRpcError as refused:
            assert refused.code() in REFUSALS, f"Hello: {refused.code()} {refused.details()}"
            assert await stored(self.engine) == before, "a refused Hello stored something"
            return
        assert first.WhichOneof("kind") == "welcome"
        protocol = first.welcome.protocol
        assert protocol == min(hello.protocol or 1, 2), "the lower of the agent's and 2"
        allowed = list(itertools.takewhile(lambda m: not breaks_protocol(m, protocol), messages))
        for message in allowed:
            await peer.send(message)
        if len(allowed) == len(messages):
            code = await peer.ending(half_close=True)
            assert code == grpc.StatusCode.OK, f"{code} after messages the protocol allows"
            return
        # Everything before the message that breaks the protocol is recorded...
        await barrier(peer, next(self._barriers))
        recorded = without_instances(await stored(self.engine))
        breaking = messages[len(allowed)]
        await peer.send(breaking)
        try:
            code = await peer.ending()
        except TimeoutError:
            raise AssertionError(f"the stream stayed open after {brief(breaking)}") from None
        # ...and the stream ends with a refusal that stored nothing of that message.
        assert code in REFUSALS, f"{code} after {brief(breaking)}"
        assert without_instances(await stored(self.engine)) == recorded, f"stored {brief(breaking)}"

    async def still_serving(self) -> None:
        """Health is SERVING and account 222's agent runs a command end to end."""
        health: Any = health_pb2_grpc.HealthStub(self.client_a.channel)
        assert (await health.Check(health_pb2.HealthCheckRequest())).status == (
            health_pb2.HealthCheckResponse.SERVING
        )
        client = self.client_b
        response = await client.invocations.RunCommand(
            run_request(instance_ids=["i-b"]), metadata=client.metadata
        )
        task = await receive_task(self.agent_b)
        await report(self.agent_b, task, S.INVOCATION_STATUS_SUCCESS, output=b"still here\n")
        done = (await results(client, response.invoke_id))["i-b"]
        assert (done.invocation_status, done.output) == (
            S.INVOCATION_STATUS_SUCCESS,
            b"still here\n",
        )

    async def close(self) -> None:
        await self.agent_b.close()
        for client in (self.client_a, self.client_b):
            await client.channel.close()
        await self.engine.dispose()


async def test_no_agent_stream_breaks_the_server(servers: ServerFactory, tmp_path: Path) -> None:
    auth_file = tmp_path / "auth.toml"
    auth_file.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(limits=QUIET, auth_file=auth_file)
    world = World(address, create_engine(servers.url))
    await world.start()
    loop = asyncio.get_running_loop()

    def run(step: Coroutine[Any, Any, T]) -> T:
        # Hypothesis drives the examples from a worker thread; the server's loop runs them.
        return asyncio.run_coroutine_threadsafe(step, loop).result(timeout=STEP_TIMEOUT)

    @settings(
        max_examples=200,
        # No shrinking: a stream left open costs seconds per attempt; the example
        # as generated names the message that failed.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def one_stream(data: st.DataObject) -> None:
        known = run(world.new_execution())
        hello = data.draw(hellos("i-fuzz", ["i-b"]), label="hello")
        messages = data.draw(st.lists(agent_messages(known), max_size=8), label="messages")
        run(world.stream(hello, messages))

    try:
        await asyncio.to_thread(one_stream)
        await world.still_serving()
    finally:
        await world.close()


async def _running_execution(client: Kairos, agent: Peer, instance_id: str) -> str:
    response = await client.invocations.RunCommand(
        run_request(instance_ids=[instance_id]), metadata=client.metadata
    )
    task = await receive_task(agent)
    now = Timestamp()
    now.GetCurrentTime()
    await agent.send(
        agent_pb2.AgentMessage(
            started=agent_pb2.ExecutionStarted(execution_id=task.execution_id, start_time=now)
        )
    )
    await barrier(agent)
    assert (await results(client, response.invoke_id))[instance_id].invocation_status == (
        S.INVOCATION_STATUS_RUNNING
    )
    return task.execution_id
