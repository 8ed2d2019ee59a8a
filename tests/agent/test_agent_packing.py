"""The agent's writer on protocol 2: reports already queued go out in one Reports message;
on protocol 1 (a server from before versions) every message goes alone."""

from __future__ import annotations

import asyncio

from agent.packing import AGENT_PROTOCOL, PACK_BYTES, Pack, packs, request_stream, spoken
from kairos.v1 import agent_pb2
from scheduler.domain.protocol import MAX_REPORTS_PER_MESSAGE

A = agent_pb2.AgentMessage


def ack(n: int) -> agent_pb2.AgentMessage:
    return A(ack=agent_pb2.TaskAck(execution_id=f"e-{n}"))


def started(n: int) -> agent_pb2.AgentMessage:
    return A(started=agent_pb2.ExecutionStarted(execution_id=f"e-{n}"))


def output(n: int, size: int) -> agent_pb2.AgentMessage:
    return A(output=agent_pb2.ExecutionOutput(execution_id=f"e-{n}", data=b"o" * size))


def result(n: int) -> agent_pb2.AgentMessage:
    return A(result=agent_pb2.ExecutionResult(execution_id=f"e-{n}"))


HELLO = A(hello=agent_pb2.Hello(instance_id="i-1"))
BEAT = A(heartbeat=agent_pb2.Heartbeat(running=1))


async def written(queued: list[agent_pb2.AgentMessage], protocol: int) -> list[A]:
    """What the writer sends of ``queued`` (all queued before it runs) on ``protocol``."""
    queue: asyncio.Queue[agent_pb2.AgentMessage | None] = asyncio.Queue()
    for message in [*queued, None]:
        queue.put_nowait(message)
    return [message async for message in request_stream(queue, lambda: protocol)]


def kinds(messages: list[agent_pb2.AgentMessage]) -> list[object]:
    """Each message's kind; a Reports message as the list of its reports' kinds."""
    return [
        [r.WhichOneof("report") for r in m.reports.reports]
        if m.WhichOneof("kind") == "reports"
        else m.WhichOneof("kind")
        for m in messages
    ]


def test_the_agent_speaks_what_the_welcome_says_and_1_to_a_server_from_before_versions() -> None:
    assert AGENT_PROTOCOL == 2
    assert spoken(agent_pb2.Welcome()) == 1  # an old server says no protocol
    assert spoken(agent_pb2.Welcome(protocol=1)) == 1
    assert spoken(agent_pb2.Welcome(protocol=2)) == 2
    assert spoken(agent_pb2.Welcome(protocol=7)) == AGENT_PROTOCOL  # never more than it speaks


def test_only_reports_are_packed_and_only_on_protocol_2() -> None:
    for report in (ack(1), started(1), output(1, 3), result(1)):
        assert packs(report, 2)
        assert not packs(report, 1)
    assert not packs(HELLO, 2)
    assert not packs(BEAT, 2)


async def test_on_protocol_2_the_queued_reports_go_in_one_message_in_their_order() -> None:
    sent = await written([ack(1), started(1), output(1, 5), result(1), ack(2)], protocol=2)
    [message] = sent
    assert [r.WhichOneof("report") for r in message.reports.reports] == [
        "ack",
        "started",
        "output",
        "result",
        "ack",
    ]
    assert message.reports.reports[4].ack.execution_id == "e-2"
    assert message.reports.reports[2].output.data == b"ooooo"


async def test_hello_and_heartbeats_go_alone_and_keep_their_place() -> None:
    sent = await written([HELLO, ack(1), started(1), BEAT, result(1), BEAT], protocol=2)
    assert kinds(sent) == ["hello", ["ack", "started"], "heartbeat", "result", "heartbeat"]
    assert sent[3] == result(1)  # a lone report goes as the message it is


async def test_on_protocol_1_every_message_goes_alone() -> None:
    queued = [HELLO, ack(1), started(1), output(1, 4), result(1), BEAT, ack(2)]
    assert await written(queued, protocol=1) == queued


async def test_a_message_holds_at_most_256_reports() -> None:
    sent = await written([ack(n) for n in range(MAX_REPORTS_PER_MESSAGE + 3)], protocol=2)
    assert [len(m.reports.reports) for m in sent[:1]] == [MAX_REPORTS_PER_MESSAGE]
    assert kinds(sent[1:]) == [["ack", "ack", "ack"]]
    ids = [r.ack.execution_id for m in sent for r in m.reports.reports]
    assert ids == [f"e-{n}" for n in range(MAX_REPORTS_PER_MESSAGE + 3)]


async def test_a_message_holds_at_most_a_mebibyte_of_reports() -> None:
    chunk = 300 * 1024
    sent = await written([output(n, chunk) for n in range(7)], protocol=2)
    assert kinds(sent) == [["output"] * 3, ["output"] * 3, "output"]
    assert all(m.ByteSize() <= PACK_BYTES + 64 for m in sent)


def test_a_report_bigger_than_the_budget_still_goes_alone() -> None:
    pack = Pack(output(1, PACK_BYTES + 1))
    assert not pack.add(ack(2))
    assert pack.message() == output(1, PACK_BYTES + 1)


async def test_the_writer_never_waits_to_gather_more() -> None:
    queue: asyncio.Queue[agent_pb2.AgentMessage | None] = asyncio.Queue()
    writer = request_stream(queue, lambda: 2)
    queue.put_nowait(ack(1))
    # Nothing else is queued: the ack goes at once, alone.
    assert await asyncio.wait_for(anext(writer), 5) == ack(1)
    queue.put_nowait(started(1))
    queue.put_nowait(result(1))
    assert kinds([await asyncio.wait_for(anext(writer), 5)]) == [["started", "result"]]
    queue.put_nowait(None)
    assert [m async for m in writer] == []
