"""InvocationService with agents played over real AgentService streams."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY

from kairos.v1 import agent_pb2, common_pb2, invocation_pb2
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer, make_offline

SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT
S = common_pb2


def run_request(**fields: object) -> invocation_pb2.RunCommandRequest:
    values: dict[str, object] = {
        "type": SHELL,
        "command_content": "echo hi",
        "instance_ids": ["i-1"],
    }
    values.update(fields)
    return invocation_pb2.RunCommandRequest(**values)  # type: ignore[arg-type]


async def results(kairos: Kairos, invoke_id: str) -> dict[str, invocation_pb2.InvocationResult]:
    response = await kairos.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=invoke_id, max_results=50)
    )
    return {r.instance_id: r for r in response.results}


async def invocation(kairos: Kairos, invoke_id: str) -> invocation_pb2.Invocation:
    response: invocation_pb2.DescribeInvocationsResponse = (
        await kairos.invocations.DescribeInvocations(
            invocation_pb2.DescribeInvocationsRequest(invoke_id=invoke_id)
        )
    )
    assert response.total_count == 1
    return response.invocations[0]


async def receive_task(peer: Peer) -> agent_pb2.Task:
    message = await peer.receive()
    assert message.WhichOneof("kind") == "task", message
    return message.task


async def report(
    peer: Peer, task: agent_pb2.Task, status: int, *, exit_code: int = 0, output: bytes = b""
) -> None:
    """Play an agent running ``task`` to its end, and wait for the server's ResultAck."""
    now = Timestamp()
    now.GetCurrentTime()
    await peer.send(agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=task.execution_id)))
    await peer.send(
        agent_pb2.AgentMessage(
            started=agent_pb2.ExecutionStarted(execution_id=task.execution_id, start_time=now)
        )
    )
    if output:
        await peer.send(
            agent_pb2.AgentMessage(
                output=agent_pb2.ExecutionOutput(
                    execution_id=task.execution_id, offset=0, data=output
                )
            )
        )
    await peer.send(
        agent_pb2.AgentMessage(
            result=agent_pb2.ExecutionResult(
                execution_id=task.execution_id,
                status=status,  # type: ignore[arg-type]
                exit_code=exit_code,
                error_code="ExitCodeNonzero" if exit_code else "",
                output=output,
                start_time=now,
                finish_time=now,
            )
        )
    )
    ack = await peer.receive()
    assert ack.WhichOneof("kind") == "result_ack"
    assert ack.result_ack.execution_id == task.execution_id


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
    await _until(kairos, response.invoke_id, "i-1", S.INVOCATION_STATUS_RUNNING)
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
    await _until(kairos, response.invoke_id, "i-silent", S.INVOCATION_STATUS_ABORTED)
    await _until(kairos, response.invoke_id, "i-gone", S.INVOCATION_STATUS_ABORTED)
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


async def _until(kairos: Kairos, invoke_id: str, instance_id: str, status: int) -> None:
    """Follow WatchInvocation until the instance reaches ``status``."""
    watch = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=invoke_id)
    )
    async with asyncio.timeout(15):
        async for event in watch:
            if (
                event.WhichOneof("event") == "result"
                and event.result.instance_id == instance_id
                and event.result.invocation_status == status
            ):
                watch.cancel()
                return
    raise AssertionError(f"{instance_id} never reached status {status}")


async def test_a_watch_shows_running_before_the_output_of_an_execution(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    now = Timestamp()
    now.GetCurrentTime()
    for message in (
        agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=task.execution_id)),
        agent_pb2.AgentMessage(
            started=agent_pb2.ExecutionStarted(execution_id=task.execution_id, start_time=now)
        ),
        agent_pb2.AgentMessage(
            output=agent_pb2.ExecutionOutput(
                execution_id=task.execution_id, offset=0, data=b"first line\n"
            )
        ),
    ):
        await peers[0].send(message)
    # The stream is read in order: once a result (of an unknown execution) is
    # acknowledged, started and output are stored, before the watch begins.
    await peers[0].send(
        agent_pb2.AgentMessage(result=agent_pb2.ExecutionResult(execution_id="e-barrier"))
    )
    assert (await peers[0].receive()).result_ack.execution_id == "e-barrier"
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
    now = Timestamp()
    now.GetCurrentTime()
    for message in (
        agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=task.execution_id)),
        agent_pb2.AgentMessage(
            started=agent_pb2.ExecutionStarted(execution_id=task.execution_id, start_time=now)
        ),
        agent_pb2.AgentMessage(
            output=agent_pb2.ExecutionOutput(
                execution_id=task.execution_id, offset=0, data=b"partial\n"
            )
        ),
        # Acknowledged once everything before it is stored: the stream is read in order.
        agent_pb2.AgentMessage(result=agent_pb2.ExecutionResult(execution_id="e-barrier")),
    ):
        await peers[0].send(message)
    assert (await peers[0].receive()).result_ack.execution_id == "e-barrier"
    # The machine goes silent: no heartbeat for longer than --agent-lost-after (120 s).
    await make_offline(servers.url, "i-1")
    await _until(kairos, response.invoke_id, "i-1", S.INVOCATION_STATUS_ERROR)
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
