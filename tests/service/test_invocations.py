"""InvocationService with agents played over real AgentService streams."""

from __future__ import annotations

import asyncio
import base64
import json

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import agent_pb2, common_pb2, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer, make_offline
from tests.service.plays import (
    invocation,
    receive_task,
    report,
    results,
    run_request,
    until_status,
)
from tests.service.refusals import refused

SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT
S = common_pb2


async def test_run_command_delivers_rendered_scripts_and_aggregates(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(
        run_request(
            command_content="echo {{greeting}} {{ ACS::InstanceId }} {{ACS::InvokeId}} {{unset}}",
            enable_parameter=True,
            parameters={"greeting": "hello"},
            instance_ids=["i-1", "i-2"],
            timeout=30,
        )
    )
    assert (
        await invocation(kairos, response.invoke_id)
    ).invocation_status == S.INVOCATION_STATUS_PENDING
    tasks = {}
    for peer in peers[:2]:
        task = await receive_task(peer)
        assert task.script == f"echo hello {peer.instance_id} {response.invoke_id} ".encode()
        assert task.timeout == 30
        assert task.invoke_id == response.invoke_id
        tasks[peer.instance_id] = task
    await report(peers[0], tasks["i-1"], S.INVOCATION_STATUS_SUCCESS, output=b"hello i-1\n")
    state = await invocation(kairos, response.invoke_id)
    assert state.invocation_status == S.INVOCATION_STATUS_PENDING  # i-2 has not started
    await report(peers[1], tasks["i-2"], S.INVOCATION_STATUS_FAILED, exit_code=3)
    state = await invocation(kairos, response.invoke_id)
    assert state.invocation_status == S.INVOCATION_STATUS_PARTIAL_FAILED
    by_instance = await results(kairos, response.invoke_id)
    assert by_instance["i-1"].invocation_status == S.INVOCATION_STATUS_SUCCESS
    assert by_instance["i-1"].output == b"hello i-1\n"
    assert by_instance["i-2"].invocation_status == S.INVOCATION_STATUS_FAILED
    assert (by_instance["i-2"].exit_code, by_instance["i-2"].error_code) == (3, "ExitCodeNonzero")
    assert by_instance["i-2"].HasField("start_time") and by_instance["i-2"].HasField("finish_time")


async def test_unknown_command_instances_and_invocations_are_named(
    kairos: Kairos, peers: list[Peer]
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.invocations.InvokeCommand(
            invocation_pb2.InvokeCommandRequest(command_id="c-nope", instance_ids=["i-1"])
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "c-nope" in (raised.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.invocations.RunCommand(run_request(instance_ids=["i-1", "i-404", "i-405"]))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "i-404, i-405" in (raised.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.invocations.StopInvocation(
            invocation_pb2.StopInvocationRequest(invoke_id="t-nope")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 0


async def test_too_many_instances_is_invalid(servers: ServerFactory) -> None:
    kairos = connect(await servers.start(limits=Limits(max_instances_per_call=2)))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.invocations.RunCommand(run_request(instance_ids=["i-1", "i-2", "i-3"]))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit per call is 2" in (raised.value.details() or "")


async def test_offline_instances_fail_the_whole_invocation(
    kairos: Kairos, peers: list[Peer], servers: ServerFactory
) -> None:
    await make_offline(servers.url, "i-2")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.invocations.RunCommand(run_request(instance_ids=["i-1", "i-2"]))
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "offline" in (raised.value.details() or "") and "i-2" in (raised.value.details() or "")
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 0


async def test_windows_command_on_linux_is_invalid_for_that_instance(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(
        run_request(type=S.COMMAND_TYPE_RUN_POWER_SHELL_SCRIPT, command_content="Get-Date")
    )
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert result.invocation_status == S.INVOCATION_STATUS_INVALID
    assert result.error_code == "InvalidCommandType"
    assert (await invocation(kairos, response.invoke_id)).invocation_status == (
        S.INVOCATION_STATUS_FAILED
    )


async def test_stop_cancels_pending_and_stops_running(kairos: Kairos, peers: list[Peer]) -> None:
    response = await kairos.invocations.RunCommand(run_request(instance_ids=["i-1", "i-2"]))
    first = await receive_task(peers[0])
    await receive_task(peers[1])
    now = Timestamp()
    now.GetCurrentTime()
    await peers[0].send(
        agent_pb2.AgentMessage(
            started=agent_pb2.ExecutionStarted(execution_id=first.execution_id, start_time=now)
        )
    )
    await until_status(kairos, response.invoke_id, "i-1", S.INVOCATION_STATUS_RUNNING)
    await kairos.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=response.invoke_id)
    )
    stop = await peers[0].receive()
    assert stop.WhichOneof("kind") == "stop" and stop.stop.execution_id == first.execution_id
    by_instance = await results(kairos, response.invoke_id)
    assert by_instance["i-1"].invocation_status == S.INVOCATION_STATUS_STOPPING
    assert by_instance["i-2"].invocation_status == S.INVOCATION_STATUS_CANCELLED
    await report(peers[0], first, S.INVOCATION_STATUS_TERMINATED)
    assert (await invocation(kairos, response.invoke_id)).invocation_status == (
        S.INVOCATION_STATUS_STOPPED
    )


async def test_undelivered_executions_abort_after_the_delivery_timeout(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(delivery_timeout=1))
    kairos = connect(address)
    silent = Peer(address, "i-silent")
    await silent.hello()
    gone = Peer(address, "i-gone")
    await gone.hello()
    await gone.close()
    response = await kairos.invocations.RunCommand(run_request(instance_ids=["i-silent", "i-gone"]))
    await until_status(kairos, response.invoke_id, "i-silent", S.INVOCATION_STATUS_ABORTED)
    await until_status(kairos, response.invoke_id, "i-gone", S.INVOCATION_STATUS_ABORTED)
    by_instance = await results(kairos, response.invoke_id)
    assert by_instance["i-silent"].error_code == "DeliveryTimeout"
    assert by_instance["i-gone"].error_code == "ClientNotResponse"
    await silent.close()


async def test_watch_streams_output_and_the_final_status(kairos: Kairos, peers: list[Peer]) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    watch = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=response.invoke_id)
    )
    first = await asyncio.wait_for(watch.read(), 10)
    assert first.result.invocation_status == S.INVOCATION_STATUS_PENDING
    await report(peers[0], task, S.INVOCATION_STATUS_SUCCESS, output=b"live output\n")
    events = []
    while (event := await asyncio.wait_for(watch.read(), 10)) is not grpc.aio.EOF:
        events.append(event)
    chunks = b"".join(e.output.data for e in events if e.WhichOneof("event") == "output")
    assert chunks == b"live output\n"
    assert events[-1].finished == S.INVOCATION_STATUS_SUCCESS
    statuses = [e.result.invocation_status for e in events if e.WhichOneof("event") == "result"]
    assert statuses[-1] == S.INVOCATION_STATUS_SUCCESS


async def test_a_crafted_results_token_is_refused_naming_it(
    kairos: Kairos, peers: list[Peer]
) -> None:
    created = await kairos.invocations.RunCommand(run_request())
    # A key of the right length with text where the repeat number goes: before, it
    # reached PostgreSQL as a comparison of an integer with text, and failed INTERNAL.
    crafted = base64.urlsafe_b64encode(json.dumps(["i-1", "abc"]).encode()).decode()
    refusal = await refused(
        kairos.invocations.DescribeInvocationResults(
            invocation_pb2.DescribeInvocationResultsRequest(
                invoke_id=created.invoke_id, next_token=crafted
            )
        )
    )
    refusal.assert_code(
        grpc.StatusCode.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_NEXT_TOKEN,
        "next_token is not valid",
    )
