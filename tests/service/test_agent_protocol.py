"""The edge checks what an agent sends after Hello: a message that breaks the protocol
ends the stream with INVALID_ARGUMENT, logged once; what it reports is bounded."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY
from sqlalchemy import select

from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import MAX_OUTPUT_OFFSET
from scheduler.local import Kairos
from scheduler.store.database import create_engine
from scheduler.store.tables import executions
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.plays import barrier, receive_task, results, run_request
from tests.service.refusals import decode, violations

S = common_pb2
A = agent_pb2.AgentMessage
BREAKING = {
    "a second Hello": (A(hello=agent_pb2.Hello(instance_id="i-1")), "hello"),
    "no kind": (A(), "kind"),
    "a NUL in an id": (
        A(result=agent_pb2.ExecutionResult(execution_id="e-\x00")),
        "result.execution_id",
    ),
    "an over-long id": (A(ack=agent_pb2.TaskAck(execution_id="e" * 41)), "ack.execution_id"),
    "an empty id": (A(output=agent_pb2.ExecutionOutput(data=b"x")), "output.execution_id"),
    "a non-ASCII id": (
        A(started=agent_pb2.ExecutionStarted(execution_id="é")),
        "started.execution_id",
    ),
}


@pytest.mark.parametrize("case", sorted(BREAKING))
async def test_a_message_that_breaks_the_protocol_ends_the_stream_and_is_logged_once(
    kairos: Kairos, peers: list[Peer], caplog: pytest.LogCaptureFixture, case: str
) -> None:
    message, field = BREAKING[case]
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    before = (await results(kairos, response.invoke_id))["i-1"]
    with caplog.at_level(logging.WARNING, logger="dispatcher.service"):
        await peers[0].send(message)
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            while True:  # until the stream ends
                await peers[0].receive()
    refusal = decode(ended.value)
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_AGENT_MESSAGE
    assert [name for name, _ in violations(refusal)] == [field]
    refused = [r for r in caplog.records if "agent message refused" in r.getMessage()]
    assert [getattr(r, "instance_id", None) for r in refused] == ["i-1"]
    # Nothing of it was stored: the execution is as it was.
    assert (await results(kairos, response.invoke_id))["i-1"] == before
    assert before.execution_id == task.execution_id


async def test_bytes_that_are_no_message_end_the_stream_invalid_argument(kairos: Kairos) -> None:
    hello = A(hello=agent_pb2.Hello(instance_id="i-raw", boot_id="b-1")).SerializeToString()
    sent = asyncio.Event()

    async def requests() -> AsyncIterator[bytes]:
        yield hello
        yield b"\xff\xff\xff\xff"  # no protobuf message reads like this
        sent.set()
        await asyncio.Event().wait()  # the agent keeps its side open

    async with grpc.aio.insecure_channel(kairos.address) as channel:
        # No serializer: the bytes go out as they are.
        connect: grpc.aio.StreamStreamMultiCallable[bytes, bytes] = channel.stream_stream(
            "/kairos.v1.AgentService/Connect"
        )
        call = connect(requests())
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            async with asyncio.timeout(10):
                async for _ in call:
                    pass
    refusal = decode(ended.value)
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_AGENT_MESSAGE
    assert sent.is_set()


async def test_a_result_for_an_unknown_execution_is_acknowledged_and_dropped(
    kairos: Kairos, peers: list[Peer]
) -> None:
    before = REGISTRY.get_sample_value("kairos_results_not_stored_total") or 0.0
    await barrier(peers[0], "e-nobody-knows")  # its ResultAck is what barrier waits for
    assert REGISTRY.get_sample_value("kairos_results_not_stored_total") == before + 1


async def test_a_dropped_count_beyond_any_output_is_stored_bounded(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    output = b"z" * (30 * 1024)
    await peers[0].send(
        A(
            result=agent_pb2.ExecutionResult(
                execution_id=task.execution_id,
                status=S.INVOCATION_STATUS_SUCCESS,
                output=output,
                dropped=2**63 - 1,  # with the output, more than a BIGINT holds
            )
        )
    )
    assert (await peers[0].receive()).result_ack.execution_id == task.execution_id
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert result.invocation_status == S.INVOCATION_STATUS_SUCCESS
    assert result.dropped == MAX_OUTPUT_OFFSET + len(output) - 24 * 1024


async def test_a_start_time_the_server_does_not_believe_is_replaced_by_its_own(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    year_one = Timestamp(seconds=-62_135_596_800)
    await peers[0].send(
        A(started=agent_pb2.ExecutionStarted(execution_id=task.execution_id, start_time=year_one))
    )
    await barrier(peers[0])
    started = (await results(kairos, response.invoke_id))["i-1"].start_time.ToDatetime(tzinfo=UTC)
    assert abs(started - datetime.now(UTC)) < timedelta(minutes=5)


async def test_a_late_ack_does_not_change_an_execution_that_ended(
    kairos: Kairos, peers: list[Peer], servers: ServerFactory
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    result = agent_pb2.ExecutionResult(
        execution_id=task.execution_id, status=S.INVOCATION_STATUS_SUCCESS
    )
    await peers[0].send(A(result=result))
    assert (await peers[0].receive()).result_ack.execution_id == task.execution_id
    await peers[0].send(A(ack=agent_pb2.TaskAck(execution_id=task.execution_id)))
    await barrier(peers[0])
    engine = create_engine(servers.url)
    async with engine.connect() as conn:
        acked_at = await conn.scalar(
            select(executions.c.acked_at).where(executions.c.id == task.execution_id)
        )
    await engine.dispose()
    assert acked_at is None
    assert (await results(kairos, response.invoke_id))["i-1"].invocation_status == (
        S.INVOCATION_STATUS_SUCCESS
    )
