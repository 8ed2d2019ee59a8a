"""A final status never changes, and an agent holding an ended execution is told to stop it.

The delivery timeout aborts an execution its agent took but did not acknowledge in
time; the agent's late acknowledgement gets a stop, and its result is acknowledged
(so it forgets it), counted, and not stored over ``Aborted``.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY

from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.limits import Limits
from scheduler.local import connect
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.plays import (
    receive_task,
    results,
    run_request,
    start_with_output,
    until_status,
)

S = common_pb2


async def test_an_aborted_execution_stays_aborted_and_its_late_agent_is_told_to_stop(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(delivery_timeout=1))
    kairos = connect(address)
    peer = Peer(address, "i-1")
    await peer.hello()
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peer)  # taken, but not acknowledged within the timeout
    await until_status(kairos, response.invoke_id, "i-1", S.INVOCATION_STATUS_ABORTED)

    await peer.send(agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=task.execution_id)))
    assert (await peer.receive()).stop.execution_id == task.execution_id

    before = REGISTRY.get_sample_value("kairos_results_not_stored_total") or 0.0
    now = Timestamp()
    now.GetCurrentTime()
    late = agent_pb2.ExecutionResult(
        execution_id=task.execution_id,
        status=S.INVOCATION_STATUS_SUCCESS,
        output=b"ran anyway\n",
        start_time=now,
        finish_time=now,
    )
    await peer.send(agent_pb2.AgentMessage(result=late))
    assert (await peer.receive()).result_ack.execution_id == task.execution_id
    kept = (await results(kairos, response.invoke_id))["i-1"]
    assert (kept.invocation_status, kept.error_code) == (
        S.INVOCATION_STATUS_ABORTED,
        "DeliveryTimeout",
    )
    assert kept.output == b""
    assert REGISTRY.get_sample_value("kairos_results_not_stored_total") == before + 1
    await peer.close()
    await kairos.channel.close()


async def test_an_execution_its_agent_never_reports_ends_timeout_after_its_timeout_and_grace(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(min_timeout=1, report_grace=1))
    kairos = connect(address)
    peer = Peer(address, "i-1")
    await peer.hello()
    response = await kairos.invocations.RunCommand(run_request(timeout=1))
    task = await receive_task(peer)
    # The agent answers (its stream is open, it is not lost) but never reports the end.
    await start_with_output(peer, task, b"partial\n")

    await until_status(kairos, response.invoke_id, "i-1", S.INVOCATION_STATUS_TIMEOUT)
    ended = (await results(kairos, response.invoke_id))["i-1"]
    assert ended.error_code == "ExecutionTimeout"
    assert "did not report" in ended.error_info
    assert ended.output == b"partial\n"
    await peer.close()
    await kairos.channel.close()


async def test_an_execution_its_agent_acknowledges_and_never_starts_ends_timeout(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(queue_wait=1))
    kairos = connect(address)
    peer = Peer(address, "i-1")
    await peer.hello()
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peer)
    # The agent answers (its stream is open, it is not lost) and takes the task, but
    # never starts it: it would stay Pending for ever.
    await peer.send(agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=task.execution_id)))

    await until_status(kairos, response.invoke_id, "i-1", S.INVOCATION_STATUS_TIMEOUT)
    ended = (await results(kairos, response.invoke_id))["i-1"]
    assert ended.error_code == "ExecutionTimeout"
    assert "never started it within 1 s" in ended.error_info
    await peer.close()
    await kairos.channel.close()
