"""Invocations by selector (``resource_tags``) against a real server and database.

Timed ones are driven round by round by a hand-held ticker (``test_timed.Timed``): an
instance that gains the tags joins from the next fire, one that loses them leaves
with its history kept, and a boot trigger fires on an instance that joins as it boots.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest_asyncio
from sqlalchemy import text

from kairos.v1 import common_pb2, invocation_pb2, tag_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import Limits
from scheduler.local import Kairos
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.refusals import refused
from tests.service.test_timed import Timed, make_timed

S = common_pb2


@pytest_asyncio.fixture
async def timed(servers: ServerFactory) -> AsyncIterator[Timed]:
    async for value in make_timed(servers, Limits(max_instances_per_selector=3)):
        yield value


def tags(**pairs: str) -> list[common_pb2.Tag]:
    return [common_pb2.Tag(key=k, value=v) for k, v in pairs.items()]


async def tag(kairos: Kairos, instance_id: str, **pairs: str) -> None:
    await kairos.tags.TagResources(
        tag_pb2.TagResourcesRequest(
            resource_type=S.RESOURCE_TYPE_INSTANCE, resource_ids=[instance_id], tags=tags(**pairs)
        )
    )


async def untag(kairos: Kairos, instance_id: str, *keys: str) -> None:
    await kairos.tags.UntagResources(
        tag_pb2.UntagResourcesRequest(
            resource_type=S.RESOURCE_TYPE_INSTANCE, resource_ids=[instance_id], tag_keys=keys
        )
    )


def by_selector(
    frequency: str = "", repeat_mode: int = 0, **selector: str
) -> invocation_pb2.RunCommandRequest:
    return invocation_pb2.RunCommandRequest(
        type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="true",
        frequency=frequency,
        repeat_mode=repeat_mode,  # type: ignore[arg-type]
        resource_tags=tags(**selector),
    )


async def counts_match_targets(timed: Timed) -> None:
    """The per-status counts of every invocation are its targets' (joins count in)."""
    async with timed.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT c.invocation_id, c.status, c.targets, count(t.instance_id) "
                "FROM invocation_status_counts c LEFT JOIN invocation_targets t "
                "ON t.invocation_id = c.invocation_id AND t.status = c.status "
                "GROUP BY 1, 2, 3"
            )
        )
        assert all(counted == actual for _, _, counted, actual in rows)


def targets(invocation: invocation_pb2.Invocation) -> dict[str, tuple[bool, bool]]:
    """Each instance: (whether it has the selector's tags now, whether it is armed)."""
    return {t.instance_id: (t.selected, t.HasField("next_fire_time")) for t in invocation.instances}


async def test_a_periodic_selector_takes_in_new_instances_and_lets_go_of_untagged_ones(
    timed: Timed,
) -> None:
    await tag(timed.kairos, "i-1", env="prod")
    created = await timed.kairos.invocations.RunCommand(by_selector("rate(10s)", env="prod"))
    invoke_id = created.invoke_id
    invocation = await timed.invocation(invoke_id)
    assert [(t.key, t.value) for t in invocation.resource_tags] == [("env", "prod")]
    assert targets(invocation) == {"i-1": (True, True)}

    await timed.rewind(invoke_id, 10.5)
    assert await timed.ticker.tick() == 1
    # An agent started after the invocation was created, reporting the tags, joins.
    late = Peer(timed.kairos.address, "i-3")
    await late.hello(tags={"env": "prod", "rack": "r1"})
    # One that loses the tag leaves; its history stays.
    await untag(timed.kairos, "i-1", "env")
    invocation = await timed.invocation(invoke_id)
    assert targets(invocation) == {"i-1": (False, False), "i-3": (True, True)}
    # i-1's run waits for its agent (which this test does not play).
    assert [t.invocation_status for t in invocation.instances] == [
        S.INVOCATION_STATUS_PENDING,
        S.INVOCATION_STATUS_SCHEDULED,
    ]

    await timed.rewind(invoke_id, 10)
    assert await timed.ticker.tick() == 1
    runs = await timed.history(invoke_id)
    assert sorted(r.instance_id for r in runs) == ["i-1", "i-3"]
    task = await late.receive()
    assert task.WhichOneof("kind") == "task"
    # Tagged again, it is taken in again from the next fire.
    await tag(timed.kairos, "i-1", env="prod")
    assert targets(await timed.invocation(invoke_id)) == {"i-1": (True, True), "i-3": (True, True)}
    await late.close()
    await counts_match_targets(timed)


async def test_a_periodic_selector_may_match_nothing_yet(timed: Timed) -> None:
    created = await timed.kairos.invocations.RunCommand(by_selector("rate(10s)", env="prod"))
    invocation = await timed.invocation(created.invoke_id)
    assert invocation.invocation_status == S.INVOCATION_STATUS_SCHEDULED
    assert list(invocation.instances) == []
    await tag(timed.kairos, "i-2", env="prod")
    await untag(timed.kairos, "i-2", "env")
    # Its one target left: the invocation still awaits members.
    invocation = await timed.invocation(created.invoke_id)
    assert targets(invocation) == {"i-2": (False, False)}
    assert invocation.invocation_status == S.INVOCATION_STATUS_SCHEDULED

    await timed.kairos.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=created.invoke_id)
    )
    invocation = await timed.invocation(created.invoke_id)
    assert invocation.invocation_status == S.INVOCATION_STATUS_STOPPED
    # Stopped, it takes in no one any more.
    await tag(timed.kairos, "i-1", env="prod")
    assert targets(await timed.invocation(created.invoke_id)) == {"i-2": (False, False)}


async def test_an_instance_that_joins_as_it_boots_runs_the_boot_trigger(timed: Timed) -> None:
    created = await timed.kairos.invocations.RunCommand(
        by_selector(repeat_mode=S.REPEAT_MODE_EVERY_REBOOT, role="db")
    )
    await timed.peers["i-2"].close()
    rebooted = Peer(timed.kairos.address, "i-2")
    await rebooted.hello(boot_id="boot-2", tags={"role": "db"})

    runs = await timed.history(created.invoke_id)
    assert [(r.instance_id, r.invocation_status) for r in runs] == [
        ("i-2", S.INVOCATION_STATUS_PENDING)
    ]
    invocation = await timed.invocation(created.invoke_id)
    assert invocation.invocation_status == S.INVOCATION_STATUS_PENDING
    await rebooted.close()
    await counts_match_targets(timed)


async def test_a_one_time_run_resolves_the_selector_at_the_call(timed: Timed) -> None:
    await tag(timed.kairos, "i-2", env="prod")
    created = await timed.kairos.invocations.RunCommand(by_selector(env=""))
    invocation = await timed.invocation(created.invoke_id)
    assert [t.instance_id for t in invocation.instances] == ["i-2"]
    task = await timed.peers["i-2"].receive()
    assert task.WhichOneof("kind") == "task"

    refusal = await refused(timed.kairos.invocations.RunCommand(by_selector(env="dev", team="")))
    refusal.assert_code(
        grpc.StatusCode.NOT_FOUND,
        RefusalCode.INVALID_RESOURCE_TAG_NOT_FOUND,
        "no instance has the tags of resource_tags (env=dev, team)",
    )


async def test_selector_refusals(timed: Timed) -> None:
    for instance_id in ("i-1", "i-2"):
        await tag(timed.kairos, instance_id, env="prod")
    for n in (3, 4):
        peer = Peer(timed.kairos.address, f"i-{n}")
        await peer.hello(tags={"env": "prod"})
        await peer.close()

    too_many = await refused(timed.kairos.invocations.RunCommand(by_selector(env="prod")))
    too_many.assert_code(
        grpc.StatusCode.INVALID_ARGUMENT,
        RefusalCode.INVALID_RESOURCE_TAG_TOO_MANY_INSTANCES,
        "resource_tags matches more than 3 instances (the server's --max-instances-per-selector)",
    )
    both = by_selector(env="prod")
    both.instance_ids.append("i-1")
    conflict = await refused(timed.kairos.invocations.RunCommand(both))
    conflict.assert_code(
        grpc.StatusCode.INVALID_ARGUMENT,
        RefusalCode.INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS,
        "give instance_ids or resource_tags, not both",
    )
    neither = await refused(timed.kairos.invocations.RunCommand(by_selector()))
    assert neither.info.reason == RefusalCode.INVALID_PARAM_INSTANCE_ID.value
    bad_tag = by_selector()
    bad_tag.resource_tags.append(common_pb2.Tag(key="acs:x", value="1"))
    bad = await refused(timed.kairos.invocations.RunCommand(bad_tag))
    assert bad.info.reason == RefusalCode.INVALID_TAG_KEY_MALFORMED.value


async def test_a_fire_checks_that_the_instance_still_matches(timed: Timed) -> None:
    """Membership is kept in step where tags change; were a tag to go by another path, the
    fire itself still refuses a non-member (and disarms it)."""
    for instance_id in ("i-1", "i-2"):
        await tag(timed.kairos, instance_id, env="prod", team="web")
    created = await timed.kairos.invocations.RunCommand(
        by_selector("rate(10s)", env="prod", team="")
    )
    async with timed.engine.begin() as conn:
        await conn.execute(text("DELETE FROM tags WHERE resource_id = 'i-1' AND key = 'team'"))
    await timed.rewind(created.invoke_id, 10.5)

    assert await timed.ticker.tick() == 2  # both claimed, one fired
    runs = await timed.history(created.invoke_id)
    assert [r.instance_id for r in runs] == ["i-2"]
    assert targets(await timed.invocation(created.invoke_id)) == {
        "i-1": (False, False),
        "i-2": (True, True),
    }
    await counts_match_targets(timed)


async def test_a_stop_on_some_instances_leaves_the_selector_taking_in_others(
    timed: Timed,
) -> None:
    await tag(timed.kairos, "i-1", env="prod")
    await tag(timed.kairos, "i-2", env="prod")
    created = await timed.kairos.invocations.RunCommand(by_selector("rate(1h)", env="prod"))
    invoke_id = created.invoke_id
    invocations = timed.kairos.invocations
    await invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=invoke_id, instance_ids=["i-1"])
    )
    # Before, a stop on one instance stopped the whole invocation: nobody joined it again.
    late = Peer(timed.kairos.address, "i-3")
    await late.hello(tags={"env": "prod"})
    await late.close()
    assert targets(await timed.invocation(invoke_id)) == {
        "i-1": (True, False),
        "i-2": (True, True),
        "i-3": (True, True),
    }
    # A stop on all of them stops the invocation itself: it takes in nobody any more.
    await invocations.StopInvocation(invocation_pb2.StopInvocationRequest(invoke_id=invoke_id))
    await tag(timed.kairos, "i-1", rack="r1")
    shown = await timed.invocation(invoke_id)
    assert {t.instance_id for t in shown.instances if t.HasField("next_fire_time")} == set()
    assert shown.invocation_status == S.INVOCATION_STATUS_STOPPED
