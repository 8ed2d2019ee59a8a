"""What agents report, as the server keeps it and as watchers see it, over real streams."""

from __future__ import annotations

import asyncio
import itertools

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY
from sqlalchemy import select

from kairos.v1 import agent_pb2, common_pb2, invocation_pb2
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from scheduler.store.database import create_engine
from scheduler.store.tables import instances
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer, make_offline
from tests.service.plays import (
    invocation,
    receive_task,
    report,
    results,
    run_request,
    start_with_output,
    until_status,
)

S = common_pb2


async def test_a_watch_shows_running_before_the_output_of_an_execution(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    # Started and output are stored before the watch begins: its first read has both.
    await start_with_output(peers[0], task, b"first line\n")
    watch = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=response.invoke_id)
    )
    kinds = []
    async with asyncio.timeout(10):
        async for event in watch:
            kind = event.WhichOneof("event")
            kinds.append(f"status {event.result.invocation_status}" if kind == "result" else kind)
            if kind == "output":
                watch.cancel()
                break
    assert kinds == [f"status {S.INVOCATION_STATUS_RUNNING}", "output"]


async def test_a_hostile_result_is_stored_within_the_servers_bounds(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    huge = bytes(range(256)) * (3_000_000 // 256)
    impossible = Timestamp(seconds=2**40)  # beyond year 9999: no datetime holds it
    await peers[0].send(
        agent_pb2.AgentMessage(
            result=agent_pb2.ExecutionResult(
                execution_id=task.execution_id,
                status=S.INVOCATION_STATUS_PARTIAL_FAILED,
                exit_code=1,
                error_code="X" * 300 + "\x00",
                error_info="bad\x00info",
                output=huge,
                dropped=-5,
                start_time=impossible,
                finish_time=impossible,
            )
        )
    )
    ack = await peers[0].receive()
    assert ack.result_ack.execution_id == task.execution_id
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert result.invocation_status == S.INVOCATION_STATUS_ERROR
    assert len(result.output) == 24 * 1024
    assert result.output == huge[: 12 * 1024] + huge[-12 * 1024 :]
    assert result.dropped == len(huge) - 24 * 1024
    assert result.error_code == "X" * 64
    assert "\x00" not in result.error_info
    assert result.finish_time.seconds < 2**40


async def test_live_output_reaches_the_watcher_while_the_script_runs(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    watch = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=response.invoke_id)
    )
    now = Timestamp()
    now.GetCurrentTime()
    await peers[0].send(
        agent_pb2.AgentMessage(
            started=agent_pb2.ExecutionStarted(execution_id=task.execution_id, start_time=now)
        )
    )
    offset = 0
    for line in (b"line 1\n", b"line 2\n", b"line 3\n"):
        await peers[0].send(
            agent_pb2.AgentMessage(
                output=agent_pb2.ExecutionOutput(
                    execution_id=task.execution_id, offset=offset, data=line
                )
            )
        )
        offset += len(line)
        # Each line reaches the watcher while the execution still runs: no status change,
        # no other notice comes to flush it (the watch used to hold it for 5 s).
        async with asyncio.timeout(3):
            while True:
                event = await watch.read()
                assert event is not grpc.aio.EOF
                if event.WhichOneof("event") == "output":
                    assert event.output.data.endswith(line)
                    break
    watch.cancel()


async def test_an_execution_whose_agent_is_lost_ends_and_a_late_result_changes_nothing(
    kairos: Kairos, peers: list[Peer], servers: ServerFactory
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    await start_with_output(peers[0], task, b"partial\n")
    # The machine goes silent: no heartbeat for longer than --agent-lost-after (120 s).
    await make_offline(servers.url, "i-1")
    await until_status(kairos, response.invoke_id, "i-1", S.INVOCATION_STATUS_ERROR)
    lost = (await results(kairos, response.invoke_id))["i-1"]
    assert lost.error_code == "ClientNotResponse"
    assert lost.output == b"partial\n"
    assert (await invocation(kairos, response.invoke_id)).invocation_status == (
        S.INVOCATION_STATUS_FAILED
    )
    # The agent comes back with its result: acknowledged (it may forget it), not stored.
    before = REGISTRY.get_sample_value("kairos_results_not_stored_total") or 0.0
    await report(peers[0], task, S.INVOCATION_STATUS_SUCCESS, output=b"partial\ndone\n")
    assert (await results(kairos, response.invoke_id))["i-1"].error_code == "ClientNotResponse"
    assert REGISTRY.get_sample_value("kairos_results_not_stored_total") == before + 1


async def test_output_after_the_end_or_at_an_impossible_offset_changes_nothing(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    await report(peers[0], task, S.INVOCATION_STATUS_SUCCESS, output=b"done\n")
    for offset, data in ((5, b"late\n"), (2**63 - 3, b"overflow")):
        await peers[0].send(
            agent_pb2.AgentMessage(
                output=agent_pb2.ExecutionOutput(
                    execution_id=task.execution_id, offset=offset, data=data
                )
            )
        )
    # The stream still serves the agent: a result after them is acknowledged.
    await peers[0].send(
        agent_pb2.AgentMessage(result=agent_pb2.ExecutionResult(execution_id="e-barrier"))
    )
    assert (await peers[0].receive()).result_ack.execution_id == "e-barrier"
    assert (await results(kairos, response.invoke_id))["i-1"].output == b"done\n"


async def _until_disconnected(database_url: str, instance_id: str) -> None:
    """Wait until no dispatcher holds the instance's agent any more."""
    engine = create_engine(database_url)
    held = select(instances.c.dispatcher_id).where(instances.c.id == instance_id)
    try:
        async with asyncio.timeout(10):
            for _ in itertools.count():
                async with engine.connect() as conn:
                    if (await conn.execute(held)).scalar_one() is None:
                        return
                await asyncio.sleep(0.05)  # polling: no event says the dispatcher noticed
    finally:
        await engine.dispose()


async def test_stopping_an_execution_whose_agent_is_gone_terminates_it_at_once(
    kairos: Kairos, peers: list[Peer], servers: ServerFactory
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    await start_with_output(peers[0], task, b"partial\n")
    await peers[0].close()
    await _until_disconnected(servers.url, "i-1")
    await kairos.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=response.invoke_id)
    )
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert result.invocation_status == S.INVOCATION_STATUS_TERMINATED
    assert result.error_code == "ExecutionInterrupted"
    assert result.output == b"partial\n"
    assert (await invocation(kairos, response.invoke_id)).invocation_status == (
        S.INVOCATION_STATUS_STOPPED
    )


async def test_watches_per_account_are_capped_and_a_closed_one_frees_its_slot(
    servers: ServerFactory, peers: list[Peer]
) -> None:
    kairos = connect(await servers.start(limits=Limits(max_watches=2)))
    response = await kairos.invocations.RunCommand(run_request())
    request = invocation_pb2.WatchInvocationRequest(invoke_id=response.invoke_id)
    open_watches = [kairos.invocations.WatchInvocation(request) for _ in range(2)]
    for watch in open_watches:
        await watch.read()  # served: it holds its slot
    refused = kairos.invocations.WatchInvocation(request)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await refused.read()
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (raised.value.details() or "").startswith("Quota.ExceedWatch: ")
    open_watches[0].cancel()
    async with asyncio.timeout(10):
        while True:  # the server notices the cancellation a moment later
            again = kairos.invocations.WatchInvocation(request)
            try:
                await again.read()
                break
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    again.cancel()
    open_watches[1].cancel()
