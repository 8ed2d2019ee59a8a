"""Schedule control of invocations by selector (issue 12 items 2 and 4): a ModifyInvocation
changes the selector and membership follows at once; an invocation matching nothing yet
stays controllable; pause, a new frequency and rate control hold for instances that
join. Driven round by round by a hand-held ticker (``test_timed.Timed``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest_asyncio
from sqlalchemy import text

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import Limits
from scheduler.store.tables import invocations
from tests.service.conftest import ServerFactory
from tests.service.locks import row_held, until_blocked
from tests.service.plays import receive_task, report
from tests.service.refusals import refused
from tests.service.test_schedule_control import _age, _next, _now, _on_grid
from tests.service.test_selectors import (
    by_selector,
    counts_match_targets,
    tag,
    tags,
    targets,
    untag,
)
from tests.service.test_timed import Timed, make_timed, periodic

S = common_pb2
I = invocation_pb2  # noqa: E741


@pytest_asyncio.fixture
async def timed(servers: ServerFactory) -> AsyncIterator[Timed]:
    async for value in make_timed(servers, Limits(max_instances_per_selector=1)):
        yield value


def reselect(invoke_id: str, **selector: str) -> invocation_pb2.ModifyInvocationRequest:
    return I.ModifyInvocationRequest(
        invoke_id=invoke_id, resource_tags=I.ResourceTags(tags=tags(**selector))
    )


async def test_a_new_selector_moves_membership_at_once(timed: Timed) -> None:
    await tag(timed.kairos, "i-1", env="prod")
    await tag(timed.kairos, "i-2", env="dev")
    created = await timed.kairos.invocations.RunCommand(by_selector("rate(10s)", env="prod"))
    invoke_id = created.invoke_id
    assert targets(await timed.invocation(invoke_id)) == {"i-1": (True, True)}

    await timed.kairos.invocations.ModifyInvocation(reselect(invoke_id, env="dev"))
    invocation = await timed.invocation(invoke_id)
    assert [(t.key, t.value) for t in invocation.resource_tags] == [("env", "dev")]
    # i-1 left (its target and history stay, disarmed); i-2 joined, on the grid.
    assert targets(invocation) == {"i-1": (False, False), "i-2": (True, True)}
    [joined] = [t for t in invocation.instances if t.instance_id == "i-2"]
    assert _on_grid(invocation, _next(joined), 10)
    await counts_match_targets(timed)
    # Later tag changes follow the new selector.
    await tag(timed.kairos, "i-1", env="dev")
    await tag(timed.kairos, "i-2", env="prod")
    assert targets(await timed.invocation(invoke_id)) == {
        "i-1": (True, True),
        "i-2": (False, False),
    }
    await counts_match_targets(timed)


async def test_selector_modifications_are_refused_as_at_creation(timed: Timed) -> None:
    await tag(timed.kairos, "i-1", env="prod")
    await tag(timed.kairos, "i-2", env="prod")
    by_ids = (await timed.kairos.invocations.RunCommand(periodic("rate(10s)", "i-1"))).invoke_id
    selecting = (
        await timed.kairos.invocations.RunCommand(by_selector("rate(10s)", env="none"))
    ).invoke_id
    modify = timed.kairos.invocations.ModifyInvocation

    refusal = await refused(modify(reselect(by_ids, env="prod")))
    refusal.assert_code(
        grpc.StatusCode.FAILED_PRECONDITION,
        RefusalCode.INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS,
        f"resource_tags: invocation {by_ids} targets instances by id; change its "
        "add_instance_ids and remove_instance_ids instead",
    )
    for field in ("add_instance_ids", "remove_instance_ids"):
        request = I.ModifyInvocationRequest(invoke_id=selecting)
        getattr(request, field).append("i-1")
        refusal = await refused(modify(request))
        refusal.assert_code(
            grpc.StatusCode.FAILED_PRECONDITION,
            RefusalCode.INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS,
            f"{field}: invocation {selecting} targets instances by selector; change its "
            "resource_tags instead",
        )
    refusal = await refused(
        modify(I.ModifyInvocationRequest(invoke_id=selecting, resource_tags=I.ResourceTags()))
    )
    assert (refusal.status, refusal.info.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_MODIFY.value,
    )
    refusal = await refused(modify(reselect(selecting, **{"acs:x": "1"})))
    assert refusal.info.reason == RefusalCode.INVALID_TAG_KEY_MALFORMED.value
    # Two instances match; the server allows one per selector.
    refusal = await refused(modify(reselect(selecting, env="prod")))
    assert (refusal.status, refusal.info.reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        RefusalCode.INVALID_RESOURCE_TAG_TOO_MANY_INSTANCES.value,
    )
    # Nothing changed.
    invocation = await timed.invocation(selecting)
    assert [(t.key, t.value) for t in invocation.resource_tags] == [("env", "none")]
    assert list(invocation.instances) == []


async def test_a_selector_invocation_matching_nothing_is_controllable(timed: Timed) -> None:
    created = await timed.kairos.invocations.RunCommand(by_selector("rate(10s)", env="prod"))
    invoke_id = created.invoke_id
    invocations = timed.kairos.invocations
    await invocations.PauseInvocation(I.PauseInvocationRequest(invoke_id=invoke_id))
    assert (await timed.invocation(invoke_id)).paused
    await invocations.ResumeInvocation(I.ResumeInvocationRequest(invoke_id=invoke_id))
    await invocations.ModifyInvocation(
        I.ModifyInvocationRequest(invoke_id=invoke_id, frequency="rate(20s)")
    )
    assert (await timed.invocation(invoke_id)).frequency == "rate(20s)"
    refusal = await refused(
        invocations.TriggerInvocation(I.TriggerInvocationRequest(invoke_id=invoke_id))
    )
    refusal.assert_code(
        grpc.StatusCode.NOT_FOUND,
        RefusalCode.INVALID_RESOURCE_TAG_NOT_FOUND,
        f"invocation {invoke_id} has no armed instance: no instance matches its "
        "selector (resource_tags) now",
    )
    # Stopped, it is finished.
    await invocations.StopInvocation(I.StopInvocationRequest(invoke_id=invoke_id))
    refusal = await refused(
        invocations.PauseInvocation(I.PauseInvocationRequest(invoke_id=invoke_id))
    )
    assert (refusal.status, refusal.info.reason) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        RefusalCode.INVALID_INVOCATION_FINISHED.value,
    )


async def test_an_instance_joining_a_paused_invocation_is_armed_and_skipped(timed: Timed) -> None:
    await tag(timed.kairos, "i-1", env="prod")
    created = await timed.kairos.invocations.RunCommand(by_selector("rate(10s)", env="prod"))
    invoke_id = created.invoke_id
    await timed.kairos.invocations.PauseInvocation(I.PauseInvocationRequest(invoke_id=invoke_id))
    await tag(timed.kairos, "i-2", env="prod")
    assert targets(await timed.invocation(invoke_id)) == {"i-1": (True, True), "i-2": (True, True)}
    await _age(timed, invoke_id, 10.5)
    assert await timed.ticker.tick() == 2
    invocation = await timed.invocation(invoke_id)
    assert [(t.instance_id, t.paused_skips, t.repeats) for t in invocation.instances] == [
        ("i-1", 1, 0),
        ("i-2", 1, 0),
    ]
    assert await timed.history(invoke_id) == []


async def test_an_instance_joining_after_a_new_frequency_is_planned_by_it(timed: Timed) -> None:
    await tag(timed.kairos, "i-1", env="prod")
    created = await timed.kairos.invocations.RunCommand(by_selector("rate(1h)", env="prod"))
    invoke_id = created.invoke_id
    await timed.kairos.invocations.ModifyInvocation(
        I.ModifyInvocationRequest(invoke_id=invoke_id, frequency="rate(15s)")
    )
    await tag(timed.kairos, "i-2", env="prod")
    invocation = await timed.invocation(invoke_id)
    now = await _now(timed)
    for target in invocation.instances:
        assert now < _next(target) <= now + timedelta(seconds=15)
        assert _on_grid(invocation, _next(target), 15)


async def test_a_join_racing_a_new_frequency_is_planned_by_it(servers: ServerFactory) -> None:
    """A tag change that read the invocation's old schedule before a ModifyInvocation
    committed must not plan its join by it: the modify holds tag changes off."""
    async for timed in make_timed(servers, Limits()):
        await tag(timed.kairos, "i-1", env="prod")
        await tag(timed.kairos, "i-2", env="prod")
        created = await timed.kairos.invocations.RunCommand(by_selector("rate(1h)", env="prod"))
        invoke_id = created.invoke_id
        await untag(timed.kairos, "i-2", "env")  # i-2 left: it may rejoin
        async with row_held(servers.url, invocations, invoke_id):
            modifying = asyncio.ensure_future(
                timed.kairos.invocations.ModifyInvocation(
                    I.ModifyInvocationRequest(invoke_id=invoke_id, frequency="rate(15s)")
                )
            )
            await until_blocked(servers.url)
            rejoining = asyncio.create_task(tag(timed.kairos, "i-2", env="prod"))
            await until_blocked(servers.url, waiting=2)
        await modifying
        await rejoining
        invocation = await timed.invocation(invoke_id)
        now = await _now(timed)
        assert targets(invocation) == {"i-1": (True, True), "i-2": (True, True)}
        for target in invocation.instances:
            assert now < _next(target) <= now + timedelta(seconds=15), target.instance_id


async def test_a_new_selector_with_a_new_frequency_plans_joins_by_it(timed: Timed) -> None:
    await tag(timed.kairos, "i-2", env="dev")
    created = await timed.kairos.invocations.RunCommand(by_selector("rate(1h)", env="prod"))
    invoke_id = created.invoke_id
    request = reselect(invoke_id, env="dev")
    request.frequency = "rate(15s)"
    await timed.kairos.invocations.ModifyInvocation(request)
    invocation = await timed.invocation(invoke_id)
    now = await _now(timed)
    assert targets(invocation) == {"i-2": (True, True)}
    joined = _next(invocation.instances[0])
    assert now < joined <= now + timedelta(seconds=15)


async def _released(timed: Timed, invoke_id: str) -> list[bool]:
    async with timed.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT released_at IS NOT NULL FROM executions "
                "WHERE invocation_id = :id ORDER BY instance_id"
            ),
            {"id": invoke_id},
        )
        return list(rows.scalars())


async def test_a_trigger_of_a_selector_invocation_releases_in_slices(
    servers: ServerFactory,
) -> None:
    async for timed in make_timed(servers, Limits()):
        await tag(timed.kairos, "i-1", env="prod")
        await tag(timed.kairos, "i-2", env="prod")
        request = by_selector("rate(1h)", env="prod")
        request.max_concurrency = "1"
        invoke_id = (await timed.kairos.invocations.RunCommand(request)).invoke_id
        triggered = await timed.kairos.invocations.TriggerInvocation(
            I.TriggerInvocationRequest(invoke_id=invoke_id)
        )
        assert list(triggered.instance_ids) == ["i-1", "i-2"]
        # One execution released at a time, in instance id order.
        assert await _released(timed, invoke_id) == [True, False]
        first = timed.peers["i-1"]
        await report(first, await receive_task(first), S.INVOCATION_STATUS_SUCCESS)
        assert await _released(timed, invoke_id) == [True, True]
        second = timed.peers["i-2"]
        await report(second, await receive_task(second), S.INVOCATION_STATUS_SUCCESS)
