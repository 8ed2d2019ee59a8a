"""Agent protocol versions against a real server: an agent from before versions speaks 1
as it always did; one that says 2 may pack reports into Reports messages and gets the
results of one batch acknowledged in one ResultAcks; a Reports message that breaks the
protocol ends the stream and none of it is served."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.protocol import MAX_REPORTS_PER_MESSAGE
from scheduler.local import Kairos, connect
from scheduler.store.tables import executions
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.locks import row_held, until_blocked, until_gauge
from tests.service.plays import receive_task, results, run_request
from tests.service.refusals import decode, violations

S = common_pb2
A = agent_pb2.AgentMessage
R = agent_pb2.Report
REPORTS_WAITING = "kairos_agent_reports_waiting"


def seconds_ago(seconds: int) -> Timestamp:
    """A whole second in the recent past (an instant the server believes)."""
    return Timestamp(seconds=int(time.time()) - seconds)


def ack(execution_id: str) -> agent_pb2.TaskAck:
    return agent_pb2.TaskAck(execution_id=execution_id)


def started(execution_id: str, when: Timestamp | None = None) -> agent_pb2.ExecutionStarted:
    return agent_pb2.ExecutionStarted(execution_id=execution_id, start_time=when)


def result(execution_id: str, finished: Timestamp | None = None) -> agent_pb2.ExecutionResult:
    return agent_pb2.ExecutionResult(
        execution_id=execution_id,
        status=S.INVOCATION_STATUS_SUCCESS,
        output=b"done\n",
        finish_time=finished,
    )


def reports(*packed: agent_pb2.Report) -> agent_pb2.AgentMessage:
    return A(reports=agent_pb2.Reports(reports=packed))


def whole_run(execution_id: str) -> list[agent_pb2.Report]:
    """An execution's ack, start and result, as one Reports message carries them."""
    return [
        R(ack=ack(execution_id)),
        R(started=started(execution_id)),
        R(result=result(execution_id)),
    ]


async def test_an_agent_from_before_versions_speaks_1_and_gets_a_result_ack_each(
    kairos: Kairos, peers: list[Peer]
) -> None:
    # ``peers`` said Hello without a protocol, as every agent before versions did.
    late = Peer(kairos.address, "i-4")
    assert (await late.hello()).protocol == 1
    first = await kairos.invocations.RunCommand(run_request())
    second = await kairos.invocations.RunCommand(run_request())
    tasks = [await receive_task(peers[0]), await receive_task(peers[0])]
    for task in tasks:
        await peers[0].send(A(ack=ack(task.execution_id)))
        await peers[0].send(A(started=started(task.execution_id)))
        await peers[0].send(A(result=result(task.execution_id)))
    acks = [await peers[0].receive() for _ in tasks]
    assert [m.WhichOneof("kind") for m in acks] == ["result_ack", "result_ack"]
    assert [m.result_ack.execution_id for m in acks] == [t.execution_id for t in tasks]
    for response in (first, second):
        stored = (await results(kairos, response.invoke_id))["i-1"]
        assert stored.invocation_status == S.INVOCATION_STATUS_SUCCESS
    await late.close()


async def test_an_agent_that_says_2_is_answered_2(kairos: Kairos) -> None:
    peer = Peer(kairos.address, "i-new")
    assert (await peer.hello(protocol=2)).protocol == 2
    newer = Peer(kairos.address, "i-newer")
    assert (await newer.hello(protocol=9)).protocol == 2  # the server's own, no more
    await peer.close()
    await newer.close()


async def test_a_negative_version_ends_the_stream_invalid_argument_naming_it(
    kairos: Kairos,
) -> None:
    peer = Peer(kairos.address, "i-odd")
    await peer.send(A(hello=agent_pb2.Hello(instance_id="i-odd", protocol=-1)))
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await peer.receive()
    refusal = decode(ended.value)
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_HELLO
    assert [name for name, _ in violations(refusal)] == ["hello.protocol"]
    await peer.close()


async def test_ack_start_and_result_in_one_reports_message_end_the_execution_success(
    kairos: Kairos,
) -> None:
    peer = Peer(kairos.address, "i-1")
    await peer.hello(protocol=2)
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peer)
    execution_id = task.execution_id
    began, ended = seconds_ago(10), seconds_ago(7)
    await peer.send(
        reports(
            R(ack=ack(execution_id)),
            R(started=started(execution_id, began)),
            # The result has no start instant of its own: the start report's is kept.
            R(result=result(execution_id, ended)),
        )
    )
    answer = await peer.receive()
    assert answer.WhichOneof("kind") == "result_acks"
    assert list(answer.result_acks.execution_ids) == [execution_id]
    stored = (await results(kairos, response.invoke_id))["i-1"]
    assert stored.invocation_status == S.INVOCATION_STATUS_SUCCESS
    assert (stored.start_time, stored.finish_time) == (began, ended)
    assert stored.output == b"done\n"
    await peer.close()


async def test_the_results_of_one_batch_are_acknowledged_in_one_message_on_protocol_2_only(
    servers: ServerFactory,
) -> None:
    address = await servers.start()
    kairos = connect(address)
    blocker, old, new = Peer(address, "i-0"), Peer(address, "i-1"), Peer(address, "i-2")
    await blocker.hello()
    await old.hello()
    await new.hello(protocol=2)
    everyone = ["i-0", "i-1", "i-2"]
    for _ in range(2):
        await kairos.invocations.RunCommand(run_request(instance_ids=everyone))
    [held, _] = [await receive_task(blocker) for _ in range(2)]
    old_tasks = [(await receive_task(old)).execution_id for _ in range(2)]
    new_tasks = [(await receive_task(new)).execution_id for _ in range(2)]

    async with row_held(servers.url, executions, held.execution_id):
        await blocker.send(A(result=result(held.execution_id)))
        await until_blocked(servers.url)
        # Both agents send their two results as single messages: they gather behind the
        # blocked batch and are applied in the next one.
        for peer, execution_ids in ((old, old_tasks), (new, new_tasks)):
            for execution_id in execution_ids:
                await peer.send(A(result=result(execution_id)))
        await until_gauge(REPORTS_WAITING, 5)

    old_acks = [await old.receive() for _ in old_tasks]
    assert [m.result_ack.execution_id for m in old_acks] == old_tasks
    new_ack = await new.receive()
    assert new_ack.WhichOneof("kind") == "result_acks"
    assert list(new_ack.result_acks.execution_ids) == new_tasks
    for peer in (blocker, old, new):
        await peer.close()
    await kairos.channel.close()


async def test_a_report_of_another_instances_execution_changes_nothing_of_it(
    kairos: Kairos, peers: list[Peer]
) -> None:
    mine = Peer(kairos.address, "i-9")
    await mine.hello(protocol=2)
    own_run = await kairos.invocations.RunCommand(run_request(instance_ids=["i-9"]))
    other_run = await kairos.invocations.RunCommand(run_request(instance_ids=["i-2"]))
    own = (await receive_task(mine)).execution_id
    other = (await receive_task(peers[1])).execution_id
    before = (await results(kairos, other_run.invoke_id))["i-2"]
    await mine.send(reports(R(ack=ack(other)), *whole_run(own)))
    # As the same messages alone: its own run is stored, and the other's ack is answered
    # with a stop (it is not this agent's to run).
    answers = {m.WhichOneof("kind"): m for m in [await mine.receive() for _ in range(2)]}
    assert answers.keys() == {"stop", "result_acks"}
    assert answers["stop"].stop.execution_id == other
    assert list(answers["result_acks"].result_acks.execution_ids) == [own]
    # A result for it is acknowledged (so that the agent forgets it), and not stored.
    await mine.send(reports(R(started=started(other)), R(result=result(other))))
    assert list((await mine.receive()).result_acks.execution_ids) == [other]
    own_stored = (await results(kairos, own_run.invoke_id))["i-9"]
    assert own_stored.invocation_status == S.INVOCATION_STATUS_SUCCESS
    assert (await results(kairos, other_run.invoke_id))["i-2"] == before
    await mine.close()


BREAKING: dict[str, tuple[Callable[[str], agent_pb2.AgentMessage], str]] = {
    "an empty Reports": (lambda execution_id: reports(), "reports.reports"),
    "an unset report": (
        lambda execution_id: reports(*whole_run(execution_id), R()),
        "reports.reports[3]",
    ),
    "257 reports": (
        lambda execution_id: reports(
            R(result=result(execution_id)),
            *[R(ack=ack(execution_id))] * MAX_REPORTS_PER_MESSAGE,
        ),
        "reports.reports",
    ),
    "a malformed id in a report": (
        lambda execution_id: reports(*whole_run(execution_id), R(ack=ack("é"))),
        "reports.reports[3].ack.execution_id",
    ),
}


async def refused_whole(peer: Peer, message: agent_pb2.AgentMessage) -> list[str]:
    """Send ``message``, which must end the stream ``InvalidParam.AgentMessage``; the fields
    the refusal names."""
    await peer.send(message)
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        while True:  # until the stream ends
            await peer.receive()
    refusal = decode(ended.value)
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_AGENT_MESSAGE
    return [name for name, _ in violations(refusal)]


@pytest.mark.parametrize("case", sorted(BREAKING))
async def test_a_reports_message_that_breaks_the_protocol_ends_the_stream_and_none_is_served(
    kairos: Kairos, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    make, field = BREAKING[case]
    peer = Peer(kairos.address, "i-1")
    await peer.hello(protocol=2)
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peer)
    before = (await results(kairos, response.invoke_id))["i-1"]
    with caplog.at_level(logging.WARNING, logger="dispatcher.service"):
        assert await refused_whole(peer, make(task.execution_id)) == [field]
    refused = [r for r in caplog.records if "agent message refused" in r.getMessage()]
    assert [getattr(r, "instance_id", None) for r in refused] == ["i-1"]
    # Not even the well-formed reports before the bad one were served.
    assert (await results(kairos, response.invoke_id))["i-1"] == before
    assert before.invocation_status == S.INVOCATION_STATUS_PENDING


async def test_reports_from_an_agent_that_said_protocol_1_end_its_stream(
    kairos: Kairos, peers: list[Peer]
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    before = (await results(kairos, response.invoke_id))["i-1"]
    fields = await refused_whole(peers[0], reports(*whole_run(task.execution_id)))
    assert fields == ["reports"]
    assert (await results(kairos, response.invoke_id))["i-1"] == before
