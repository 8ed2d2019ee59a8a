"""Reconciliation on reconnect, and silent streams, over real agent streams.

An agent's Hello lists what it holds; the server stops what it has already
ended, ends what the agent no longer has, and delivers again what it should
have. A stream on which the agent says nothing for --agent-lost-after is closed,
so that the agent, once back, reconnects and reconciles.
"""

from __future__ import annotations

import asyncio

import grpc
import pytest

from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.hello import MAX_HELD
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.plays import (
    receive_task,
    report,
    results,
    run_request,
    start_with_output,
    until_status,
)

S = common_pb2


async def reconnect(peer: Peer, held: list[str] | None) -> Peer:
    """The same agent on a new stream, after its old one ended."""
    await peer.close()
    again = Peer(peer.address, peer.instance_id)
    await again.hello(held=held)
    return again


async def test_an_agent_is_told_to_stop_what_the_server_already_ended(
    kairos: Kairos, peers: list[Peer]
) -> None:
    ended = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    await report(peers[0], task, S.INVOCATION_STATUS_SUCCESS)

    again = await reconnect(peers[0], held=[task.execution_id, "e-unknown"])
    stops = [(await again.receive()).stop.execution_id for _ in range(2)]
    assert stops == [task.execution_id, "e-unknown"]
    # Nothing changed on the server's side.
    assert (await results(kairos, ended.invoke_id))["i-1"].invocation_status == (
        S.INVOCATION_STATUS_SUCCESS
    )
    await again.close()


async def test_what_the_agent_no_longer_holds_ends_or_is_delivered_again(
    kairos: Kairos, peers: list[Peer]
) -> None:
    running = await kairos.invocations.RunCommand(run_request())
    started = await receive_task(peers[0])
    await start_with_output(peers[0], started, b"partial\n")
    acked = await kairos.invocations.RunCommand(run_request())
    taken = await receive_task(peers[0])
    await peers[0].send(
        agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=taken.execution_id))
    )

    # The agent lost its state (reinstalled, say): it holds nothing.
    again = await reconnect(peers[0], held=[])
    redelivered = await receive_task(again)
    assert redelivered.execution_id == taken.execution_id
    assert (await results(kairos, acked.invoke_id))["i-1"].invocation_status == (
        S.INVOCATION_STATUS_PENDING
    )
    lost = (await results(kairos, running.invoke_id))["i-1"]
    assert lost.invocation_status == S.INVOCATION_STATUS_ERROR
    assert lost.error_code == "ClientRestarted"
    assert lost.output == b"partial\n"
    await again.close()


async def test_an_agent_that_lists_nothing_is_not_reconciled(
    kairos: Kairos, peers: list[Peer]
) -> None:
    running = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    await start_with_output(peers[0], task, b"partial\n")

    again = await reconnect(peers[0], held=None)  # an older agent
    await report(again, task, S.INVOCATION_STATUS_SUCCESS, output=b"partial\ndone\n")
    assert (await results(kairos, running.invoke_id))["i-1"].invocation_status == (
        S.INVOCATION_STATUS_SUCCESS
    )
    await again.close()


@pytest.mark.parametrize(
    ("held", "rule"),
    [
        ([f"e-{n}" for n in range(MAX_HELD + 1)], "the limit is 1000"),
        (["e-1", ""], "1-40 printable ASCII characters"),
        (["e-1\x00"], "1-40 printable ASCII characters"),
        (["e-" + "x" * 39], "1-40 printable ASCII characters"),
    ],
)
async def test_a_hello_listing_held_executions_beyond_the_rules_is_refused(
    kairos: Kairos, held: list[str], rule: str
) -> None:
    peer = Peer(kairos.address, "i-9")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await peer.hello(held=held)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "held" in (refused.value.details() or "")
    assert rule in (refused.value.details() or "")
    await peer.close()


async def test_a_silent_stream_is_closed_and_its_executions_end_as_lost(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(agent_lost_after=2), heartbeat_interval=1)
    kairos = connect(address)
    peer = Peer(address, "i-1")
    await peer.hello()
    running = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peer)
    await start_with_output(peer, task, b"partial\n")

    # The agent says nothing more (a half-open connection, a frozen machine).
    with pytest.raises(grpc.aio.AioRpcError) as closed:
        async with asyncio.timeout(30):
            while True:
                await peer.receive()
    assert closed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "sent nothing for more than 4 s" in (closed.value.details() or "")  # 2 heartbeats
    await until_status(kairos, running.invoke_id, "i-1", S.INVOCATION_STATUS_ERROR)
    lost = (await results(kairos, running.invoke_id))["i-1"]
    assert (lost.invocation_status, lost.error_code) == (
        S.INVOCATION_STATUS_ERROR,
        "ClientNotResponse",
    )
    await peer.close()
    await kairos.channel.close()
