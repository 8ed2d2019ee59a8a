"""Playing an agent over a real AgentService stream, and reading back what the server made of it."""

from __future__ import annotations

import asyncio

from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import agent_pb2, common_pb2, invocation_pb2
from scheduler.local import Kairos
from tests.service.harness import Peer

SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT


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
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=invoke_id, max_results=50),
        metadata=kairos.metadata,
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
    if ack.WhichOneof("kind") == "stop":
        # The execution had ended (or was never this agent's): it was told to stop it.
        assert ack.stop.execution_id == task.execution_id
        ack = await peer.receive()
    assert ack.WhichOneof("kind") == "result_ack"
    assert ack.result_ack.execution_id == task.execution_id


async def start_with_output(peer: Peer, task: agent_pb2.Task, output: bytes) -> None:
    """Play an agent that took ``task``, started it and printed ``output``: all stored on return.

    The stream is read in order, so once a result (of an unknown execution) is
    acknowledged, everything sent before it has been recorded.
    """
    now = Timestamp()
    now.GetCurrentTime()
    for message in (
        agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=task.execution_id)),
        agent_pb2.AgentMessage(
            started=agent_pb2.ExecutionStarted(execution_id=task.execution_id, start_time=now)
        ),
        agent_pb2.AgentMessage(
            output=agent_pb2.ExecutionOutput(execution_id=task.execution_id, offset=0, data=output)
        ),
    ):
        await peer.send(message)
    await barrier(peer)


async def barrier(peer: Peer, name: str = "e-barrier") -> None:
    """Return once the dispatcher has handled everything ``peer`` sent so far.

    The stream is read in order: once a result for an execution nobody knows
    (``name``) is acknowledged, every message before it has been recorded.
    Tasks and other messages on the way are skipped. The acknowledgement is a
    ResultAck, or one of a ResultAcks on protocol 2.
    """
    await peer.send(agent_pb2.AgentMessage(result=agent_pb2.ExecutionResult(execution_id=name)))
    while True:
        message = await peer.receive()
        if name in (message.result_ack.execution_id, *message.result_acks.execution_ids):
            return


async def until_status(kairos: Kairos, invoke_id: str, instance_id: str, status: int) -> None:
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
