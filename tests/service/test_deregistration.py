"""DeregisterManagedInstance: the credential is refused at once, the live stream closes,
the instance's open executions end Error/InstanceDeregistered and its future fires end, its
invocations' statuses too; no invocation, tag or selector reaches it again."""

from __future__ import annotations

import grpc

from kairos.v1 import activation_pb2, common_pb2, invocation_pb2, tag_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.local import Kairos
from tests.service.harness import Peer
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
