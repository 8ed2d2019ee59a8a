"""A call hands what it creates straight to the agents its own replica holds."""

from __future__ import annotations

from kairos.v1 import common_pb2 as S
from scheduler.local import Kairos
from tests.service.harness import Peer
from tests.service.plays import receive_task, report, run_request


async def test_a_repeated_request_hands_nothing_over_again(kairos: Kairos) -> None:
    peer = Peer(kairos.address, "i-1")
    await peer.hello()
    request = run_request(client_token="once")
    first = await kairos.invocations.RunCommand(request)
    task = await receive_task(peer)
    assert task.invoke_id == first.invoke_id

    again = await kairos.invocations.RunCommand(request)
    assert again.invoke_id == first.invoke_id
    # The next task the agent gets is the next call's: the repeat sent nothing.
    await report(peer, task, S.INVOCATION_STATUS_SUCCESS)
    later = await kairos.invocations.RunCommand(run_request())
    assert (await receive_task(peer)).invoke_id == later.invoke_id
    await peer.close()
