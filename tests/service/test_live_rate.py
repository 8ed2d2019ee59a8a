"""One huge output message of an agent does not become hundreds of NOTIFYs (issue 9)."""

from __future__ import annotations

import asyncio
import math

import psycopg
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import agent_pb2
from scheduler.domain.limits import Limits
from scheduler.local import Kairos
from scheduler.store.listener import conninfo
from scheduler.store.notices import OUTPUT_CHUNK, Channel
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer, output_notices
from tests.service.plays import receive_task, run_request

SENTINEL = "sentinel"


async def test_a_4_mb_output_message_goes_live_only_up_to_the_rate(
    kairos: Kairos, peers: list[Peer], servers: ServerFactory
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    now = Timestamp()
    now.GetCurrentTime()
    async with output_notices(servers.url) as notices:
        for message in (
            agent_pb2.AgentMessage(
                started=agent_pb2.ExecutionStarted(execution_id=task.execution_id, start_time=now)
            ),
            agent_pb2.AgentMessage(
                output=agent_pb2.ExecutionOutput(
                    execution_id=task.execution_id, offset=0, data=b"x" * 4_000_000
                )
            ),
            # Answered only once everything before it is recorded (the stream is read in order).
            agent_pb2.AgentMessage(result=agent_pb2.ExecutionResult(execution_id="e-barrier")),
        ):
            await peers[0].send(message)
        assert (await peers[0].receive()).result_ack.execution_id == "e-barrier"
        # Notices arrive in commit order: once ours is in, the server's came before it.
        async with await psycopg.AsyncConnection.connect(
            conninfo(servers.url), autocommit=True
        ) as conn:
            await conn.execute(f"NOTIFY {Channel.OUTPUT.value}, '{SENTINEL}'")
        async with asyncio.timeout(10):
            await notices.until(SENTINEL)
    mine = [n for n in notices.payloads if response.invoke_id in n]
    # 4 MB would be 1,334 notices of 3,000 bytes; the default rate's burst (64 KiB) goes.
    assert len(mine) == 22
    assert len(mine) == math.ceil(Limits().live_output_rate / OUTPUT_CHUNK)
