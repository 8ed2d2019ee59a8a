"""Agent reports are applied in batches: what gathers while one batch is written goes in the
next, a result is acknowledged once stored, and a slow database holds agents back without
closing their streams.

The database is made slow for one execution by a transaction of the test's that holds
its row: the dispatcher's batch that touches it waits, and reports gather behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from kairos.v1 import agent_pb2
from kairos.v1 import common_pb2 as S
from scheduler.domain.limits import Limits
from scheduler.local import connect
from scheduler.store.database import create_engine
from scheduler.store.tables import executions
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.locks import row_held, until_blocked, until_gauge
from tests.service.plays import receive_task, results, run_request, start_with_output

AGENTS = 20
WAIT = 30.0
REPORTS_WAITING = "kairos_agent_reports_waiting"


class FinishStatements:
    """Statements that store agents' results, sent by any engine of this process."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE EXECUTIONS SET STATUS") and (
            "exit_code" in statement
        ):
            self.count += 1


@pytest.fixture
def finish_statements() -> Iterator[FinishStatements]:
    counter = FinishStatements()
    event.listen(Engine, "after_cursor_execute", counter)
    yield counter
    event.remove(Engine, "after_cursor_execute", counter)


async def until_output(database_url: str, execution_id: str, expected: bytes) -> None:
    engine = create_engine(database_url)
    query = select(executions.c.output).where(executions.c.id == execution_id)
    try:
        async with asyncio.timeout(WAIT):
            while True:
                async with engine.connect() as conn:
                    if (await conn.execute(query)).scalar_one() == expected:
                        return
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


def result_message(execution_id: str) -> agent_pb2.AgentMessage:
    now = Timestamp()
    now.GetCurrentTime()
    return agent_pb2.AgentMessage(
        result=agent_pb2.ExecutionResult(
            execution_id=execution_id,
            status=S.INVOCATION_STATUS_SUCCESS,
            output=b"done\n",
            start_time=now,
            finish_time=now,
        )
    )


async def test_results_that_gather_while_a_batch_is_written_are_stored_together(
    servers: ServerFactory, finish_statements: FinishStatements
) -> None:
    address = await servers.start()
    kairos = connect(address)
    peers = [Peer(address, f"i-{n}") for n in range(AGENTS)]
    for peer in peers:
        await peer.hello()
    run = await kairos.invocations.RunCommand(
        run_request(instance_ids=[peer.instance_id for peer in peers])
    )
    tasks = [await receive_task(peer) for peer in peers]

    async with row_held(servers.url, executions, tasks[0].execution_id):
        await peers[0].send(result_message(tasks[0].execution_id))
        await until_blocked(servers.url)
        for peer, task in zip(peers[1:], tasks[1:], strict=True):
            await peer.send(result_message(task.execution_id))
        # One result in the batch that waits, the others gathered behind it.
        await until_gauge(REPORTS_WAITING, AGENTS)

    for peer, task in zip(peers, tasks, strict=True):
        assert (await peer.receive()).result_ack.execution_id == task.execution_id
    stored = await results(kairos, run.invoke_id)
    assert {r.invocation_status for r in stored.values()} == {S.INVOCATION_STATUS_SUCCESS}
    assert len(stored) == AGENTS
    # The blocked batch, then one for all the others (one per result before batching).
    assert finish_statements.count == 2
    for peer in peers:
        await peer.close()
    await kairos.channel.close()


async def test_an_agent_held_back_by_a_slow_database_keeps_its_stream(
    servers: ServerFactory,
) -> None:
    # Silent for 2 s closes a stream; the row is held for longer than that.
    address = await servers.start(limits=Limits(agent_lost_after=2), heartbeat_interval=1)
    kairos = connect(address)
    peer = Peer(address, "i-1")
    await peer.hello()
    run = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peer)
    await start_with_output(peer, task, b"")
    chunks = [f"line {n}\n".encode() for n in range(40)]
    beat = agent_pb2.AgentMessage(heartbeat=agent_pb2.Heartbeat())

    async with row_held(servers.url, executions, task.execution_id):
        offset = 0
        for chunk in chunks:
            await peer.send(
                agent_pb2.AgentMessage(
                    output=agent_pb2.ExecutionOutput(
                        execution_id=task.execution_id, offset=offset, data=chunk
                    )
                )
            )
            offset += len(chunk)
        await until_blocked(servers.url)
        # The agent goes on beating; its stream is read no further while it has its most
        # reports waiting, so the beats wait too: that must not count as silence.
        for _ in range(8):
            await peer.send(beat)
            await asyncio.sleep(0.5)  # the agent's own pace, longer than --agent-lost-after

    # Every chunk stored, in order: the first alone, the others joined in one batch.
    await until_output(servers.url, task.execution_id, b"".join(chunks))
    await peer.send(result_message(task.execution_id))
    while (message := await peer.receive()).WhichOneof("kind") != "result_ack":
        pass
    assert message.result_ack.execution_id == task.execution_id
    stored = await results(kairos, run.invoke_id)
    assert stored["i-1"].invocation_status == S.INVOCATION_STATUS_SUCCESS
    await peer.close()
    await kairos.channel.close()
