"""Jitter and bounds of periodic invocations (issue 12 item 5), the ticker driven round by
round as in ``test_timed``: each target's start is delayed by its own stable offset while
the fire keeps its nominal instant; no fire before the start; after the end the targets
finish and the invocation is final."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import REGISTRY
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from kairos.v1 import command_pb2, common_pb2, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import OsType
from scheduler.domain.jitter import jitter_offset
from scheduler.domain.limits import Limits
from scheduler.domain.tenancy import DEFAULT_TENANT
from scheduler.store.database import in_transaction
from scheduler.store.tables import instances
from tests.service.conftest import ServerFactory
from tests.service.plays import receive_task, report
from tests.service.refusals import refused, violations
from tests.service.test_timed import Timed, make_timed, periodic

S = common_pb2
WINDOW = 300
"""Seconds of jitter of the 200-target invocation: half its rate(10m)."""
MINUTE = timedelta(minutes=1)


@pytest_asyncio.fixture
async def timed(servers: ServerFactory) -> AsyncIterator[Timed]:
    async for value in make_timed(servers, Limits()):
        yield value


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


def utc(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


async def fires(timed: Timed, invoke_id: str, repeat: int) -> dict[str, tuple[datetime, datetime]]:
    """Each instance's execution of the ``repeat``-th fire: (scheduled_at, created_at)."""
    async with timed.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT instance_id, scheduled_at, created_at FROM executions "
                "WHERE invocation_id = :id AND repeat = :repeat"
            ),
            {"id": invoke_id, "repeat": repeat},
        )
        return {r.instance_id: (r.scheduled_at, r.created_at) for r in rows}


async def offsets_after(timed: Timed, invoke_id: str, fires_done: int) -> dict[str, timedelta]:
    """Each target's stored next fire minus the nominal one, ``fires_done`` fires in."""
    invocation = await timed.invocation(invoke_id)
    nominal = utc(invocation.creation_time) + 10 * MINUTE * (fires_done + 1)
    return {t.instance_id: utc(t.next_fire_time) - nominal for t in invocation.instances}


async def test_jitter_spreads_two_hundred_targets_over_the_window_the_same_at_every_fire(
    servers: ServerFactory,
) -> None:
    # 200 instances: two connected agents and 198 registered rows without an agent
    # process (their executions wait; the ticker does not care). The grace covers
    # the rewound instants, so that every target fires.
    async for timed in make_timed(servers, Limits(max_instances_per_call=200, misfire_grace=900)):
        ids = [f"i-{n}" for n in range(1, 201)]
        async with timed.engine.begin() as conn:
            await conn.execute(
                insert(instances),
                [
                    {
                        "id": i,
                        "account_id": DEFAULT_TENANT.account_id,
                        "region_id": DEFAULT_TENANT.region_id,
                        "os_type": OsType.LINUX.value,
                    }
                    for i in ids[2:]
                ],
            )
        request = periodic("rate(10m)", *ids)
        request.max_jitter = WINDOW
        invoke_id = (await timed.kairos.invocations.RunCommand(request)).invoke_id
        invocation = await timed.invocation(invoke_id)
        assert invocation.max_jitter == WINDOW
        offsets = await offsets_after(timed, invoke_id, 0)
        assert offsets == {i: jitter_offset(invoke_id, i, WINDOW) for i in ids}
        assert all(timedelta(0) <= o <= timedelta(seconds=WINDOW) for o in offsets.values())
        quarters = [0, 0, 0, 0]
        for offset in offsets.values():
            quarters[min(int(offset / timedelta(seconds=WINDOW / 4)), 3)] += 1
        assert min(quarters) >= 20, quarters  # about 50 each
        assert len(set(offsets.values())) >= 190

        for repeat in (1, 2):
            # Every jittered instant of this fire is past, the nominal one 301 s ago.
            await timed.rewind(invoke_id, 10 * 60 + (WINDOW + 1 if repeat == 1 else 0))
            assert await timed.ticker.tick() == 200
            fired = await fires(timed, invoke_id, repeat)
            assert sorted(fired) == sorted(ids)
            # One fire: every execution has the nominal instant, whatever its offset.
            created = utc((await timed.invocation(invoke_id)).creation_time)
            assert {scheduled for scheduled, _ in fired.values()} == {
                created + 10 * MINUTE * repeat
            }
            # The same slot at the next fire.
            assert await offsets_after(timed, invoke_id, repeat) == offsets
            # As if the agents had reported: the next fire is no overlap. The server may
            # be delivering these executions meanwhile, their rows in another order: a
            # deadlock is retried as the server's own transactions are.
            await in_transaction(timed.engine, functools.partial(_succeeded, invoke_id=invoke_id))


async def _succeeded(conn: AsyncConnection, *, invoke_id: str) -> None:
    await conn.execute(
        text(
            "UPDATE executions SET status = 'Success', finished_at = now() "
            "WHERE invocation_id = :id"
        ),
        {"id": invoke_id},
    )


async def test_a_jittered_target_starts_after_its_offset_and_keeps_the_nominal_instant(
    timed: Timed,
) -> None:
    request = periodic("rate(10s)", "i-1", "i-2")
    request.max_jitter = 5
    invoke_id = (await timed.kairos.invocations.RunCommand(request)).invoke_id
    # The nominal first fire is now; each target is due at now plus its offset.
    await timed.rewind(invoke_id, 10)
    fired: dict[str, tuple[datetime, datetime]] = {}
    async with asyncio.timeout(20):
        while len(fired) < 2:
            await timed.ticker.tick()
            fired = await fires(timed, invoke_id, 1)
            await asyncio.sleep(0.05)  # polling the ticker until both offsets have passed
    [nominal] = {scheduled for scheduled, _ in fired.values()}
    for instance_id, (scheduled, created) in fired.items():
        assert created >= scheduled + jitter_offset(invoke_id, instance_id, 5)
    for peer in timed.peers.values():
        task = await receive_task(peer)
        await report(peer, task, S.INVOCATION_STATUS_SUCCESS)
    response = await timed.kairos.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=invoke_id)
    )
    for result in response.results:
        assert utc(result.scheduled_time) == nominal
        offset = jitter_offset(invoke_id, result.instance_id, 5)
        assert utc(result.start_time) >= nominal + offset


def _lateness() -> tuple[float, float]:
    """The scheduling lateness histogram's (count, sum) in this process's server."""
    name = "kairos_scheduling_lateness_seconds"
    return (
        REGISTRY.get_sample_value(f"{name}_count") or 0.0,
        REGISTRY.get_sample_value(f"{name}_sum") or 0.0,
    )


async def test_a_jittered_start_is_not_counted_as_lateness(timed: Timed) -> None:
    # An invocation whose target on i-1 has an offset of a minute or more (almost any).
    for _ in range(20):
        request = periodic("rate(1h)")
        request.max_jitter = 1800
        invoke_id = (await timed.kairos.invocations.RunCommand(request)).invoke_id
        offset = jitter_offset(invoke_id, "i-1", 1800)
        if offset >= MINUTE:
            break
        await timed.kairos.invocations.StopInvocation(
            invocation_pb2.StopInvocationRequest(invoke_id=invoke_id)
        )
    assert offset >= MINUTE
    # Its jittered instant is now; the nominal one, `offset` ago.
    await timed.rewind(invoke_id, 3600 + offset.total_seconds())
    before = _lateness()
    assert await timed.ticker.tick() == 1
    await receive_task(timed.peers["i-1"])
    count, total = (a - b for a, b in zip(_lateness(), before, strict=True))
    assert count == 1
    assert total < 30, f"lateness {total} s counts the jitter offset ({offset})"


async def test_no_fire_before_the_start(timed: Timed) -> None:
    start = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    request = periodic("rate(10s)")
    request.start_time.CopyFrom(stamp(start))
    invoke_id = (await timed.kairos.invocations.RunCommand(request)).invoke_id
    invocation = await timed.invocation(invoke_id)
    assert utc(invocation.start_time) == start
    assert not invocation.HasField("end_time")
    next_fire = utc(invocation.instances[0].next_fire_time)
    # The first fire of the grid (anchored at creation) at or after the start.
    assert start <= next_fire < start + timedelta(seconds=10)
    assert (next_fire - utc(invocation.creation_time)) % timedelta(seconds=10) == timedelta(0)
    await timed.rewind(invoke_id, 10.5)  # the grid's first fire is past, the start is not
    assert await timed.ticker.tick() == 0
    assert await timed.history(invoke_id) == []
    assert (await timed.invocation(invoke_id)).invocation_status == S.INVOCATION_STATUS_SCHEDULED


async def test_after_the_end_the_targets_finish_and_the_invocation_is_final(timed: Timed) -> None:
    end = datetime.now(UTC) + timedelta(seconds=15)
    request = periodic("rate(10s)")
    request.end_time.CopyFrom(stamp(end))
    invoke_id = (await timed.kairos.invocations.RunCommand(request)).invoke_id
    assert utc((await timed.invocation(invoke_id)).end_time) == end
    await timed.rewind(invoke_id, 10.5)  # the first fire is past; the second is after the end
    assert await timed.ticker.tick() == 1
    target = (await timed.invocation(invoke_id)).instances[0]
    assert not target.HasField("next_fire_time")  # disarmed, as an at() after its fire
    assert target.repeats == 1
    task = await receive_task(timed.peers["i-1"])
    await report(timed.peers["i-1"], task, S.INVOCATION_STATUS_SUCCESS)
    invocation = await timed.invocation(invoke_id)
    assert invocation.invocation_status == S.INVOCATION_STATUS_SUCCESS
    assert invocation.instances[0].invocation_status == S.INVOCATION_STATUS_SUCCESS
    await timed.rewind(invoke_id, 60)
    assert await timed.ticker.tick() == 0


def _with(
    request: invocation_pb2.RunCommandRequest, **fields: object
) -> invocation_pb2.RunCommandRequest:
    for name, value in fields.items():
        if isinstance(value, Timestamp):
            getattr(request, name).CopyFrom(value)
        else:
            setattr(request, name, value)
    return request


NOW = datetime.now(UTC)
LATER = NOW + timedelta(days=1)


@pytest.mark.parametrize(
    ("request_", "field", "code", "words"),
    [
        (
            _with(periodic(""), max_jitter=30),
            "max_jitter",
            RefusalCode.INVALID_PARAM_MAX_JITTER,
            "only allowed with repeat_mode PERIOD",
        ),
        (
            _with(periodic("rate(10s)"), max_jitter=6),
            "max_jitter",
            RefusalCode.INVALID_PARAM_MAX_JITTER,
            "at most half the schedule's interval (10 s",
        ),
        (
            _with(periodic("rate(7d)"), max_jitter=3601),
            "max_jitter",
            RefusalCode.INVALID_PARAM_MAX_JITTER,
            "at most one hour",
        ),
        (
            _with(periodic("rate(1h)"), max_jitter=-1),
            "max_jitter",
            RefusalCode.INVALID_PARAM_MAX_JITTER,
            "0-3600",
        ),
        (
            _with(periodic(""), start_time=stamp(LATER)),
            "start_time",
            RefusalCode.INVALID_PARAM_START_TIME,
            "only allowed with repeat_mode PERIOD",
        ),
        (
            _with(periodic("rate(1h)"), start_time=Timestamp(seconds=2**40)),
            "start_time",
            RefusalCode.INVALID_PARAM_START_TIME,
            "not a valid instant",
        ),
        (
            _with(periodic("rate(1h)"), end_time=Timestamp(seconds=1, nanos=2**30)),
            "end_time",
            RefusalCode.INVALID_PARAM_END_TIME,
            "not a valid instant",
        ),
        (
            _with(periodic("rate(1h)"), end_time=stamp(NOW - timedelta(minutes=1))),
            "end_time",
            RefusalCode.INVALID_PARAM_END_TIME,
            "must be in the future",
        ),
        (
            _with(periodic("rate(1h)"), start_time=stamp(LATER), end_time=stamp(LATER)),
            "end_time",
            RefusalCode.INVALID_PARAM_END_TIME,
            "must be after start_time",
        ),
        (
            _with(periodic("rate(1h)"), end_time=stamp(NOW + timedelta(minutes=30))),
            "end_time",
            RefusalCode.INVALID_PARAM_END_TIME,
            "no fire between now (or start_time) and end_time",
        ),
    ],
)
async def test_jitter_and_bounds_out_of_their_rules_are_refused_and_nothing_is_stored(
    timed: Timed, request_: invocation_pb2.RunCommandRequest, field: str, code: str, words: str
) -> None:
    refusal = await refused(timed.kairos.invocations.RunCommand(request_))
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == code
    [(named, description)] = violations(refusal)
    assert named == field
    assert words in description
    listed = await timed.kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 0


async def test_invoke_command_takes_jitter_and_bounds_too(timed: Timed) -> None:
    saved = await timed.kairos.commands.CreateCommand(
        command_pb2.CreateCommandRequest(
            name="c", type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT, command_content="true"
        )
    )
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    request = invocation_pb2.InvokeCommandRequest(
        command_id=saved.command_id,
        instance_ids=["i-1"],
        frequency="0 0 * * * ?",
        max_jitter=1800,
        start_time=stamp(start),
        end_time=stamp(start + timedelta(days=1)),
    )
    invoke_id = (await timed.kairos.invocations.InvokeCommand(request)).invoke_id
    invocation = await timed.invocation(invoke_id)
    assert (invocation.max_jitter, utc(invocation.start_time), utc(invocation.end_time)) == (
        1800,
        start,
        start + timedelta(days=1),
    )
    nominal = utc(invocation.instances[0].next_fire_time) - jitter_offset(invoke_id, "i-1", 1800)
    assert nominal >= start
    assert nominal.minute == nominal.second == 0


# --- schedule control plans with the same functions (issue 12 item 4) -----------------------


async def test_resume_and_modify_keep_each_target_on_its_offset(timed: Timed) -> None:
    request = periodic("rate(1h)", "i-1", "i-2")
    request.max_jitter = 1800
    invoke_id = (await timed.kairos.invocations.RunCommand(request)).invoke_id
    offsets = {i: jitter_offset(invoke_id, i, 1800) for i in ("i-1", "i-2")}
    invocations = timed.kairos.invocations

    async def replanned_offsets(interval: timedelta) -> dict[str, timedelta]:
        """Each target's next fire minus the nominal one (on the grid from creation)."""
        invocation = await timed.invocation(invoke_id)
        created = utc(invocation.creation_time)
        found = {}
        for target in invocation.instances:
            stored = utc(target.next_fire_time)
            found[target.instance_id] = (stored - created) % interval
        return found

    await invocations.PauseInvocation(invocation_pb2.PauseInvocationRequest(invoke_id=invoke_id))
    await invocations.ResumeInvocation(invocation_pb2.ResumeInvocationRequest(invoke_id=invoke_id))
    assert await replanned_offsets(timedelta(hours=1)) == offsets

    await invocations.ModifyInvocation(
        invocation_pb2.ModifyInvocationRequest(invoke_id=invoke_id, frequency="rate(2h)")
    )
    assert await replanned_offsets(timedelta(hours=2)) == offsets

    # A schedule whose interval is under twice the jitter is refused, as at creation.
    refusal = await refused(
        invocations.ModifyInvocation(
            invocation_pb2.ModifyInvocationRequest(invoke_id=invoke_id, frequency="rate(30m)")
        )
    )
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_MAX_JITTER
    assert (await timed.invocation(invoke_id)).frequency == "rate(2h)"
