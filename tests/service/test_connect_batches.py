"""Agent Hellos are recorded in batches: what gathers while one batch is written goes in the
next, with a fixed number of statements; the batch's agents are then welcomed together.

The database is made slow for one instance by a transaction of the test's that holds
its row: the dispatcher's batch that registers it waits, and Hellos gather behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from kairos.v1 import common_pb2, fleet_pb2, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import Limits
from scheduler.local import connect
from scheduler.store.database import create_engine
from scheduler.store.tables import instances
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.locks import gauge, row_held, until_blocked, until_gauge
from tests.service.plays import receive_task, run_request
from tests.service.test_instance_keys import hello_refusal

AGENTS = 20
WAIT = 30.0
CONNECTS_WAITING = "kairos_agent_connects_waiting"


KINDS = {
    "register": "UPDATE instances SET name",
    "reconcile": "UPDATE executions SET status=CASE",
}
"""Statements by what they do: a text each contains, before and after batching."""


class Statements:
    """How many statements of each kind the server sent (any engine of this process)."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(KINDS, 0)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        text = " ".join(statement.split())
        for kind, start in KINDS.items():
            if start in text:
                self.counts[kind] += 1

    def reset(self) -> None:
        self.counts = dict.fromkeys(KINDS, 0)


@pytest.fixture
def statements() -> Iterator[Statements]:
    counter = Statements()
    event.listen(Engine, "after_cursor_execute", counter)
    yield counter
    event.remove(Engine, "after_cursor_execute", counter)


async def test_hellos_that_gather_while_a_batch_is_written_are_recorded_together(
    servers: ServerFactory, statements: Statements
) -> None:
    address = await servers.start()
    kairos = connect(address)
    ids = [f"i-{n}" for n in range(AGENTS)]
    for instance_id in ids:
        first = Peer(address, instance_id)
        await first.hello()
        await first.close()
    run = await kairos.invocations.RunCommand(run_request(instance_ids=ids))
    statements.reset()
    before = gauge(CONNECTS_WAITING)

    peers = [Peer(address, instance_id) for instance_id in ids]
    async with row_held(servers.url, instances, ids[0]):
        welcomes = [asyncio.create_task(peers[0].hello(held=[]))]
        await until_blocked(servers.url)
        welcomes += [asyncio.create_task(peer.hello(held=[])) for peer in peers[1:]]
        # One Hello in the batch that waits, the others gathered behind it.
        await until_gauge(CONNECTS_WAITING, before + AGENTS)
    await asyncio.gather(*welcomes)

    for peer in peers:
        assert (await receive_task(peer)).invoke_id == run.invoke_id
    # The blocked batch, then one for all the others (one per agent before batching).
    assert statements.counts == {"register": 2, "reconcile": 2}
    for peer in peers:
        await peer.close()
    await kairos.channel.close()


async def test_a_batch_with_more_new_instances_than_slots_refuses_exactly_the_excess(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(max_instances=5))
    kairos = connect(address)
    known = [Peer(address, "i-0"), Peer(address, "i-1")]
    for peer in known:
        await peer.hello()
    await known[1].close()
    before = gauge(CONNECTS_WAITING)

    again = Peer(address, "i-1")
    new = [Peer(address, f"n-{n}") for n in range(6)]
    async with row_held(servers.url, instances, "i-1"):
        outcomes = [asyncio.create_task(hello_refusal(again))]
        await until_blocked(servers.url)
        for n, peer in enumerate(new):
            # One at a time, so that the batch holds them in this order.
            outcomes.append(asyncio.create_task(hello_refusal(peer)))
            await until_gauge(CONNECTS_WAITING, before + 2 + n)
    refusals = await asyncio.gather(*outcomes)

    # Three slots left: the first three new instances of the batch get them.
    assert refusals[:4] == [None] * 4
    for peer, refusal in zip(new[3:], refusals[4:], strict=True):
        assert refusal is not None
        refusal.assert_code(
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            RefusalCode.QUOTA_EXCEED_INSTANCE,
            "the account already has 5 instances in this region; "
            f"instance {peer.instance_id} is not registered",
        )
    listed = await kairos.fleet.DescribeAgentStatus(fleet_pb2.DescribeAgentStatusRequest())
    assert sorted(i.instance_id for i in listed.instances) == [
        "i-0",
        "i-1",
        "n-0",
        "n-1",
        "n-2",
    ]
    quotas = await kairos.fleet.DescribeAccountAttributes(
        fleet_pb2.DescribeAccountAttributesRequest()
    )
    assert {q.name: (q.used, q.limit) for q in quotas.attributes}["MaxInstanceCount"] == (5, 5)
    for peer in [*known, again, *new]:
        await peer.close()
    await kairos.channel.close()


async def test_the_same_instance_twice_in_a_batch_is_recorded_in_order_and_the_later_wins(
    servers: ServerFactory,
) -> None:
    address = await servers.start()
    kairos = connect(address)
    blocker = Peer(address, "i-0")
    await blocker.hello()
    await blocker.close()
    before = gauge(CONNECTS_WAITING)

    again = Peer(address, "i-0")
    earlier, later = Peer(address, "i-1"), Peer(address, "i-1")
    async with row_held(servers.url, instances, "i-0"):
        welcomes = [asyncio.create_task(again.hello())]
        await until_blocked(servers.url)
        welcomes.append(asyncio.create_task(earlier.hello(boot_id="b-1")))
        await until_gauge(CONNECTS_WAITING, before + 2)
        welcomes.append(asyncio.create_task(later.hello(boot_id="b-1")))
        await until_gauge(CONNECTS_WAITING, before + 3)
    await asyncio.gather(*welcomes)

    # The earlier stream is closed for the later one, which gets the work.
    assert await earlier.ending() == grpc.StatusCode.OK
    run = await kairos.invocations.RunCommand(run_request(instance_ids=["i-1"]))
    assert (await receive_task(later)).invoke_id == run.invoke_id
    listed = await kairos.fleet.DescribeAgentStatus(
        fleet_pb2.DescribeAgentStatusRequest(instance_ids=["i-1"])
    )
    assert [i.online for i in listed.instances] == [True]
    for peer in (again, earlier, later):
        await peer.close()
    await kairos.channel.close()


async def test_an_old_stream_that_ends_while_its_agent_reconnects_does_not_disconnect_it(
    servers: ServerFactory,
) -> None:
    address = await servers.start()
    old = Peer(address, "i-1")
    await old.hello()
    connected = REGISTRY.get_sample_value("kairos_connected_agents") or 0.0

    new = Peer(address, "i-1")
    async with row_held(servers.url, instances, "i-1"):
        welcome = asyncio.create_task(new.hello())
        await until_blocked(servers.url)
        # The old stream ends while the new Hello is being recorded.
        await old.close()
        deadline = asyncio.get_running_loop().time() + WAIT
        while (REGISTRY.get_sample_value("kairos_connected_agents") or 0.0) >= connected:
            assert asyncio.get_running_loop().time() < deadline, "the old stream never ended"
            await asyncio.sleep(0.05)
    await welcome
    # Recorded after whatever the dispatcher had to record before it.
    later = Peer(address, "i-2")
    await later.hello()

    engine = create_engine(servers.url)
    try:
        async with engine.connect() as conn:
            holder = (
                await conn.execute(select(instances.c.dispatcher_id).where(instances.c.id == "i-1"))
            ).scalar_one()
    finally:
        await engine.dispose()
    assert holder is not None, "the agent's new stream is recorded as gone"
    for peer in (new, later):
        await peer.close()


async def test_instances_that_booted_in_one_batch_each_run_their_boot_triggers_once(
    servers: ServerFactory,
) -> None:
    address = await servers.start()
    kairos = connect(address)
    ids = ["i-0", "i-1", "i-2"]
    for instance_id in ids:
        first = Peer(address, instance_id)
        await first.hello(boot_id="boot-1")
        await first.close()
    every = await kairos.invocations.RunCommand(
        run_request(instance_ids=ids, repeat_mode=common_pb2.REPEAT_MODE_EVERY_REBOOT)
    )
    before = gauge(CONNECTS_WAITING)

    peers = [Peer(address, instance_id) for instance_id in ids]
    async with row_held(servers.url, instances, ids[0]):
        welcomes = [asyncio.create_task(peers[0].hello(boot_id="boot-2", held=[]))]
        await until_blocked(servers.url)
        # Two boots gathered behind the blocked one: recorded, and fired, together.
        welcomes += [
            asyncio.create_task(peer.hello(boot_id="boot-2", held=[])) for peer in peers[1:]
        ]
        await until_gauge(CONNECTS_WAITING, before + len(ids))
    await asyncio.gather(*welcomes)

    for peer in peers:
        assert (await receive_task(peer)).invoke_id == every.invoke_id
    history = await kairos.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(
            invoke_id=every.invoke_id, include_history=True, max_results=50
        )
    )
    # One run per instance: each boot fired once.
    assert sorted(r.instance_id for r in history.results) == ids
    for peer in peers:
        await peer.close()
    await kairos.channel.close()
