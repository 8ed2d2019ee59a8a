"""DeregisterManagedInstance: the credential is refused at once, the live stream closes,
the instance's open executions end Error/InstanceDeregistered and its future fires end, its
invocations' statuses too; no invocation, tag or selector reaches it again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest_asyncio
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from kairos.v1 import activation_pb2, common_pb2, invocation_pb2, tag_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import Limits
from scheduler.domain.tenancy import DEFAULT_TENANT
from scheduler.local import Kairos
from scheduler.store.tables import activations, instances, tags
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.locks import row_held, until_blocked
from tests.service.managed import activate, describe, register
from tests.service.plays import (
    invocation,
    receive_task,
    report,
    results,
    run_request,
    start_with_output,
)
from tests.service.refusals import refused
from tests.service.test_timed import Timed, make_timed, periodic

S = common_pb2


async def test_a_deregistered_instance_is_refused_and_its_running_execution_ends(
    kairos: Kairos,
) -> None:
    issued = await activate(kairos, instance_count=2)
    gone, kept = [await register(kairos.address, issued) for _ in range(2)]
    agent = Peer(kairos.address, gone.instance_id, token=gone.credential)
    other = Peer(kairos.address, kept.instance_id, token=kept.credential)
    await agent.hello()
    await other.hello()
    running = await kairos.invocations.RunCommand(
        run_request(instance_ids=[gone.instance_id, kept.instance_id], command_content="sleep 60")
    )
    task = await receive_task(agent)
    await start_with_output(agent, task, b"half of it\n")
    other_task = await receive_task(other)

    await kairos.activations.DeregisterManagedInstance(
        activation_pb2.DeregisterManagedInstanceRequest(instance_id=gone.instance_id)
    )

    # The live stream is closed, and the credential is refused from now on.
    assert await agent.ending() == grpc.StatusCode.UNAUTHENTICATED
    again = Peer(kairos.address, gone.instance_id, token=gone.credential)
    assert await again.ending() == grpc.StatusCode.UNAUTHENTICATED
    await again.close()
    # Its execution ended at once, with what it printed; the other instance's is still open.
    result = (await results(kairos, running.invoke_id))[gone.instance_id]
    assert (result.invocation_status, result.error_code) == (
        S.INVOCATION_STATUS_ERROR,
        "InstanceDeregistered",
    )
    assert result.output == b"half of it\n"
    assert (await results(kairos, running.invoke_id))[kept.instance_id].invocation_status == (
        S.INVOCATION_STATUS_PENDING
    )
    # The invocation's counts hold the ended execution: once the other succeeds, it is
    # PartialFailed.
    await report(other, other_task, S.INVOCATION_STATUS_SUCCESS)
    assert (await invocation(kairos, running.invoke_id)).invocation_status == (
        S.INVOCATION_STATUS_PARTIAL_FAILED
    )
    shown = await describe(kairos, issued.activation_id)
    assert (shown.registered_count, shown.deregistered_count) == (2, 1)
    await other.close()
    await agent.close()


async def test_pending_work_of_a_disconnected_instance_ends_too(kairos: Kairos) -> None:
    registered = await register(kairos.address, await activate(kairos))
    agent = Peer(kairos.address, registered.instance_id, token=registered.credential)
    await agent.hello()
    await agent.close()
    timed = await kairos.invocations.RunCommand(
        run_request(
            instance_ids=[registered.instance_id],
            repeat_mode=S.REPEAT_MODE_NEXT_REBOOT_ONLY,
        )
    )
    pending = await kairos.invocations.RunCommand(
        run_request(instance_ids=[registered.instance_id]),
    )
    await kairos.activations.DeregisterManagedInstance(
        activation_pb2.DeregisterManagedInstanceRequest(instance_id=registered.instance_id)
    )
    [result] = (await results(kairos, pending.invoke_id)).values()
    assert (result.invocation_status, result.error_code) == (
        S.INVOCATION_STATUS_ERROR,
        "InstanceDeregistered",
    )
    assert (await invocation(kairos, pending.invoke_id)).invocation_status == (
        S.INVOCATION_STATUS_FAILED
    )
    # A boot trigger had no open execution: it will never fire, so it is cancelled.
    boot = await invocation(kairos, timed.invoke_id)
    assert boot.invocation_status == S.INVOCATION_STATUS_STOPPED
    assert [t.invocation_status for t in boot.instances] == [S.INVOCATION_STATUS_CANCELLED]
    response = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest(instance_id=registered.instance_id)
    )
    assert response.total_count == 2


async def test_a_deregistered_instance_fires_no_more_and_nothing_reaches_it_again(
    kairos: Kairos,
) -> None:
    issued = await activate(kairos, instance_count=2)
    gone, kept = [await register(kairos.address, issued) for _ in range(2)]
    for registered in (gone, kept):
        agent = Peer(kairos.address, registered.instance_id, token=registered.credential)
        await agent.hello(tags={"rack": "r1"})
        await agent.close()
    await tag(kairos, gone.instance_id, env="prod")
    hourly = await kairos.invocations.RunCommand(
        run_request(instance_ids=[gone.instance_id, kept.instance_id], frequency="rate(1h)")
    )
    by_rack = await kairos.invocations.RunCommand(
        run_request(
            instance_ids=[], resource_tags=[S.Tag(key="rack", value="r1")], frequency="rate(1h)"
        )
    )
    assert armed(await invocation(kairos, by_rack.invoke_id)) == {
        gone.instance_id: True,
        kept.instance_id: True,
    }

    await kairos.activations.DeregisterManagedInstance(
        activation_pb2.DeregisterManagedInstanceRequest(instance_id=gone.instance_id)
    )

    # Its future fires end, by id and by selector alike; the other instance's stay.
    for invoke_id in (hourly.invoke_id, by_rack.invoke_id):
        shown = await invocation(kairos, invoke_id)
        assert armed(shown) == {gone.instance_id: False, kept.instance_id: True}
        assert shown.invocation_status == S.INVOCATION_STATUS_SCHEDULED
    # Nothing can target or tag it again, and it matches no selector.
    named = await refused(
        kairos.invocations.RunCommand(run_request(instance_ids=[gone.instance_id]))
    )
    named.assert_code(
        grpc.StatusCode.NOT_FOUND,
        RefusalCode.INVALID_INSTANCE_NOT_FOUND,
        f"instances not found: {gone.instance_id}",
    )
    tagged = await refused(tag(kairos, gone.instance_id, env="dev"))
    assert (tagged.status, tagged.info.reason) == (
        grpc.StatusCode.NOT_FOUND,
        RefusalCode.INVALID_RESOURCE_ID_NOT_FOUND.value,
    )
    selected = await refused(
        kairos.invocations.RunCommand(
            run_request(instance_ids=[], resource_tags=[S.Tag(key="env", value="prod")])
        )
    )
    assert selected.info.reason == RefusalCode.INVALID_RESOURCE_TAG_NOT_FOUND.value
    listed = await refused(
        kairos.tags.ListTagResources(
            tag_pb2.ListTagResourcesRequest(
                resource_type=S.RESOURCE_TYPE_INSTANCE, resource_ids=[gone.instance_id]
            )
        )
    )
    assert listed.status == grpc.StatusCode.NOT_FOUND


def armed(shown: invocation_pb2.Invocation) -> dict[str, bool]:
    """Each instance of the invocation: whether it has a next fire."""
    return {t.instance_id: t.HasField("next_fire_time") for t in shown.instances}


async def tag(kairos: Kairos, instance_id: str, **pairs: str) -> None:
    await kairos.tags.TagResources(
        tag_pb2.TagResourcesRequest(
            resource_type=S.RESOURCE_TYPE_INSTANCE,
            resource_ids=[instance_id],
            tags=[S.Tag(key=k, value=v) for k, v in pairs.items()],
        )
    )


async def test_a_deregistration_waits_for_a_change_holding_the_instance(
    kairos: Kairos, database_url: str
) -> None:
    # A tag change (or a Hello) holds the instance's row while it joins it to selectors;
    # the deregistration waits for it, so that its own statements see and undo the join.
    registered = await register(kairos.address, await activate(kairos))
    agent = Peer(kairos.address, registered.instance_id, token=registered.credential)
    await agent.hello()
    await agent.close()
    async with row_held(database_url, instances, registered.instance_id):
        deregistering = asyncio.ensure_future(
            kairos.activations.DeregisterManagedInstance(
                activation_pb2.DeregisterManagedInstanceRequest(instance_id=registered.instance_id)
            )
        )
        await until_blocked(database_url)
        assert not deregistering.done()
    await deregistering


async def test_a_tag_change_waiting_for_a_deregistration_finds_the_instance_gone(
    kairos: Kairos, database_url: str, engine: AsyncEngine
) -> None:
    issued = await activate(kairos)
    registered = await register(kairos.address, issued)
    instance_id = registered.instance_id
    agent = Peer(kairos.address, instance_id, token=registered.credential)
    await agent.hello()
    await agent.close()
    # The deregistration holds the instance's row from its first statement; held here
    # on the activation's row it counts against, it stays open with the instance held.
    async with row_held(database_url, activations, issued.activation_id):
        deregistering = asyncio.ensure_future(
            kairos.activations.DeregisterManagedInstance(
                activation_pb2.DeregisterManagedInstanceRequest(instance_id=instance_id)
            )
        )
        await until_blocked(database_url)
        tagging = asyncio.ensure_future(tag(kairos, instance_id, env="prod"))
        await until_blocked(database_url, waiting=2)
    await deregistering
    # Before, the change went ahead once the deregistration committed: tags on an
    # instance that UntagResources calls unknown, matched by selectors that then fail.
    tagged = await refused(tagging)
    assert (tagged.status, tagged.info.reason) == (
        grpc.StatusCode.NOT_FOUND,
        RefusalCode.INVALID_RESOURCE_ID_NOT_FOUND.value,
    )
    async with engine.connect() as conn:
        held = await conn.execute(select(tags.c.key).where(tags.c.resource_id == instance_id))
        assert held.all() == []


@pytest_asyncio.fixture
async def timed(servers: ServerFactory) -> AsyncIterator[Timed]:
    async for value in make_timed(servers, Limits()):
        yield value


async def deregistered_behind_its_back(timed: Timed, instance_id: str) -> None:
    """The instance's credential deregistered while its targets stayed armed: what a
    creation racing the deregistration, or a release before it disarmed targets, leaves."""
    async with timed.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO instance_credentials (instance_id, account_id, region_id,"
                " activation_id, credential_hash, deregistered_at)"
                " VALUES (:instance, :account, :region, 'act-1', md5(:hashed), now())"
            ),
            {
                "instance": instance_id,
                "hashed": instance_id,
                "account": DEFAULT_TENANT.account_id,
                "region": DEFAULT_TENANT.region_id,
            },
        )


async def test_the_ticker_disarms_a_deregistered_instances_armed_target(timed: Timed) -> None:
    created = await timed.kairos.invocations.RunCommand(periodic("rate(10s)", "i-1", "i-2"))
    await deregistered_behind_its_back(timed, "i-1")
    await timed.rewind(created.invoke_id, 10.5)
    assert await timed.ticker.tick() == 2
    assert [r.instance_id for r in await timed.history(created.invoke_id)] == ["i-2"]
    assert armed(await timed.invocation(created.invoke_id)) == {"i-1": False, "i-2": True}


async def test_a_resume_disarms_a_deregistered_instances_target(timed: Timed) -> None:
    created = await timed.kairos.invocations.RunCommand(periodic("rate(10s)", "i-1", "i-2"))
    invoke_id = created.invoke_id
    await timed.kairos.invocations.PauseInvocation(
        invocation_pb2.PauseInvocationRequest(invoke_id=invoke_id)
    )
    await deregistered_behind_its_back(timed, "i-1")
    # Before, the resume's re-planning looked the instance up and failed INTERNAL.
    await timed.kairos.invocations.ResumeInvocation(
        invocation_pb2.ResumeInvocationRequest(invoke_id=invoke_id)
    )
    assert armed(await timed.invocation(invoke_id)) == {"i-1": False, "i-2": True}
