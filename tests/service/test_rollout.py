"""Rolling rate control through the API, with agents played over real AgentService streams."""

from __future__ import annotations

import grpc

from kairos.v1 import agent_pb2, command_pb2, common_pb2, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.local import Kairos
from tests.service.harness import Peer
from tests.service.plays import invocation, receive_task, report, results, run_request
from tests.service.refusals import refused, violations

S = common_pb2


async def no_task_until_barrier(peer: Peer) -> None:
    """Everything the dispatcher sent ``peer`` so far, up to a barrier: no task among it."""
    name = "e-barrier"
    await peer.send(agent_pb2.AgentMessage(result=agent_pb2.ExecutionResult(execution_id=name)))
    while True:
        message = await peer.receive()
        assert message.WhichOneof("kind") != "task", message
        if name in (message.result_ack.execution_id, *message.result_acks.execution_ids):
            return


async def test_held_executions_go_to_their_agents_only_as_earlier_ones_end(
    kairos: Kairos, peers: list[Peer]
) -> None:
    first, second, third = peers
    response = await kairos.invocations.RunCommand(
        run_request(instance_ids=["i-3", "i-2", "i-1"], max_concurrency="1", max_errors="0")
    )

    # Released by instance id, whatever the request's order: i-1 first, alone.
    task = await receive_task(first)
    await no_task_until_barrier(second)
    await no_task_until_barrier(third)
    described = await invocation(kairos, response.invoke_id)
    assert (described.max_concurrency, described.max_errors) == ("1", "0")
    assert described.invocation_status == S.INVOCATION_STATUS_PENDING

    await report(first, task, S.INVOCATION_STATUS_SUCCESS)
    task = await receive_task(second)
    await no_task_until_barrier(third)
    await report(second, task, S.INVOCATION_STATUS_FAILED, exit_code=1)

    by_instance = await results(kairos, response.invoke_id)
    assert by_instance["i-3"].invocation_status == S.INVOCATION_STATUS_CANCELLED
    assert by_instance["i-3"].error_code == "MaxErrorsExceeded"
    assert not by_instance["i-3"].HasField("start_time")
    await no_task_until_barrier(third)
    assert (await invocation(kairos, response.invoke_id)).invocation_status == (
        S.INVOCATION_STATUS_PARTIAL_FAILED
    )


async def test_malformed_limits_are_refused_naming_the_field(
    kairos: Kairos, peers: list[Peer]
) -> None:
    refusal = await refused(kairos.invocations.RunCommand(run_request(max_concurrency="0")))
    refusal.assert_code(
        grpc.StatusCode.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_MAX_CONCURRENCY,
        "max_concurrency '0' is too small: max_concurrency is a count of at least 1 "
        '(such as "10") or a percentage of the targets from 1% to 100% (such as "25%"), '
        "digits only",
    )
    assert [field for field, _ in violations(refusal)] == ["max_concurrency"]

    command = await kairos.commands.CreateCommand(
        command_pb2.CreateCommandRequest(
            name="c", type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT, command_content="true"
        )
    )
    refusal = await refused(
        kairos.invocations.InvokeCommand(
            invocation_pb2.InvokeCommandRequest(
                command_id=command.command_id, instance_ids=["i-1"], max_errors="2.5%"
            )
        )
    )
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_MAX_ERRORS
    assert [field for field, _ in violations(refusal)] == ["max_errors"]
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 0
