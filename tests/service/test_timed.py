"""Timed invocations against a real database, the ticker driven round by round.

The server runs without its own ticker; each test owns a ``Ticker`` and calls
``tick()``, moving ``next_fire_at`` in the database to make a fire due now
instead of waiting for it, so every decision is deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
import pytest_asyncio
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from scheduler.operations.context import Context
from scheduler.server.config import ServerRole
from scheduler.store.database import create_engine
from scheduler.store.listener import Listener, conninfo
from scheduler.ticker import Ticker
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer

S = common_pb2
NO_TICKER = frozenset({ServerRole.API, ServerRole.DISPATCHER})


@dataclass(kw_only=True)
class Timed:
    """A server without a ticker, a hand-driven ticker, a client and agent peers."""

    kairos: Kairos
    ticker: Ticker
    engine: AsyncEngine
    peers: dict[str, Peer]

    def another_ticker(self) -> Ticker:
        """A second ticker replica on the same database."""
        return Ticker(self.ticker.context, self.ticker.listener)

    async def rewind(self, invoke_id: str, seconds: float) -> None:
        """Pretend the invocation was created ``seconds`` earlier and no ticker ran since."""
        async with self.engine.begin() as conn:
            shift = {"s": seconds, "id": invoke_id}
            await conn.execute(
                text(
                    "UPDATE invocations SET created_at = created_at - make_interval(secs => :s), "
                    "start_at = start_at - make_interval(secs => :s), "
                    "end_at = end_at - make_interval(secs => :s) "
                    "WHERE id = :id"
                ),
                shift,
            )
            await conn.execute(
                text(
                    "UPDATE invocation_targets "
                    "SET next_fire_at = next_fire_at - make_interval(secs => :s) "
                    "WHERE invocation_id = :id AND next_fire_at IS NOT NULL"
                ),
                shift,
            )
            # Its fires so far were earlier too (a fire is one instant of the invocation).
            await conn.execute(
                text(
                    "UPDATE executions "
                    "SET scheduled_at = scheduled_at - make_interval(secs => :s), "
                    "created_at = created_at - make_interval(secs => :s) "
                    "WHERE invocation_id = :id"
                ),
                shift,
            )

    async def invocation(self, invoke_id: str) -> invocation_pb2.Invocation:
        response: invocation_pb2.DescribeInvocationsResponse = (
            await self.kairos.invocations.DescribeInvocations(
                invocation_pb2.DescribeInvocationsRequest(invoke_id=invoke_id)
            )
        )
        return response.invocations[0]

    async def history(self, invoke_id: str) -> list[invocation_pb2.InvocationResult]:
        response: invocation_pb2.DescribeInvocationResultsResponse = (
            await self.kairos.invocations.DescribeInvocationResults(
                invocation_pb2.DescribeInvocationResultsRequest(
                    invoke_id=invoke_id, include_history=True, max_results=50
                )
            )
        )
        return list(response.results)


async def make_timed(servers: ServerFactory, limits: Limits) -> AsyncIterator[Timed]:
    address = await servers.start(limits=limits, roles=NO_TICKER)
    engine = create_engine(servers.url)
    listener = Listener(conninfo(servers.url), [])
    await listener.start()
    peers = {f"i-{n}": Peer(address, f"i-{n}") for n in (1, 2)}
    for peer in peers.values():
        await peer.hello(boot_id="boot-1")
    yield Timed(
        kairos=connect(address),
        ticker=Ticker(Context(engine=engine, limits=limits), listener),
        engine=engine,
        peers=peers,
    )
    for peer in peers.values():
        await peer.close()
    await listener.stop()
    await engine.dispose()


@pytest_asyncio.fixture
async def timed(servers: ServerFactory) -> AsyncIterator[Timed]:
    async for value in make_timed(servers, Limits()):
        yield value


def periodic(
    frequency: str, *instances: str, script: str = "true"
) -> invocation_pb2.RunCommandRequest:
    return invocation_pb2.RunCommandRequest(
        type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content=script,
        instance_ids=list(instances or ("i-1",)),
        frequency=frequency,
    )


async def test_periodic_targets_are_scheduled_on_the_grid(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)", "i-1", "i-2"))
    invocation = await timed.invocation(response.invoke_id)
    assert invocation.repeat_mode == S.REPEAT_MODE_PERIOD
    assert invocation.invocation_status == S.INVOCATION_STATUS_SCHEDULED
    created = invocation.creation_time.ToDatetime()
    for target in invocation.instances:
        assert target.invocation_status == S.INVOCATION_STATUS_SCHEDULED
        assert target.next_fire_time.ToDatetime() - created == timedelta(seconds=10)
    assert await timed.history(response.invoke_id) == []


async def test_a_due_fire_creates_one_execution_and_advances(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    await timed.rewind(response.invoke_id, 10.5)
    fired_before = REGISTRY.get_sample_value("kairos_fires_total", {"trigger": "schedule"}) or 0
    assert await timed.ticker.tick() == 1
    assert await timed.ticker.tick() == 0  # nothing due any more: never twice
    fired = REGISTRY.get_sample_value("kairos_fires_total", {"trigger": "schedule"})
    assert fired == fired_before + 1
    task = await timed.peers["i-1"].receive()
    assert task.WhichOneof("kind") == "task"
    runs = await timed.history(response.invoke_id)
    assert len(runs) == 1
    assert runs[0].invocation_status == S.INVOCATION_STATUS_PENDING
    assert runs[0].repeats == 1
    invocation = await timed.invocation(response.invoke_id)
    target = invocation.instances[0]
    assert target.repeats == 1
    assert target.invocation_status == S.INVOCATION_STATUS_PENDING
    # The grid is anchored at creation: the fire and the next one are on it.
    created = invocation.creation_time.ToDatetime()
    assert runs[0].scheduled_time.ToDatetime() - created == timedelta(seconds=10)
    assert target.next_fire_time.ToDatetime() - created == timedelta(seconds=20)


async def test_a_fire_while_the_previous_run_goes_on_is_skipped_and_counted(
    timed: Timed,
) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    await timed.rewind(response.invoke_id, 10.5)
    await timed.ticker.tick()
    await timed.rewind(response.invoke_id, 10)
    await timed.ticker.tick()
    target = (await timed.invocation(response.invoke_id)).instances[0]
    assert (target.repeats, target.overlap_skips) == (1, 1)
    assert len(await timed.history(response.invoke_id)) == 1


async def test_fires_missed_beyond_the_grace_are_skipped_and_counted(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(2m)"))
    # Created 330 s ago: fires at -210 s and -90 s were missed, both beyond the 60 s grace.
    await timed.rewind(response.invoke_id, 330)
    await timed.ticker.tick()
    invocation = await timed.invocation(response.invoke_id)
    target = invocation.instances[0]
    assert (target.repeats, target.misfire_skips) == (0, 2)
    assert (REGISTRY.get_sample_value("kairos_fire_skips_total", {"reason": "misfire"}) or 0) >= 2
    assert target.invocation_status == S.INVOCATION_STATUS_SCHEDULED
    created = invocation.creation_time.ToDatetime()
    assert target.next_fire_time.ToDatetime() - created == timedelta(minutes=6)
    assert await timed.history(response.invoke_id) == []


async def test_fires_missed_within_the_grace_run_once_at_the_latest(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    # Created 45 s ago: fires at -35, -25, -15 and -5 s were missed; -5 s is within the grace.
    await timed.rewind(response.invoke_id, 45)
    await timed.ticker.tick()
    invocation = await timed.invocation(response.invoke_id)
    target = invocation.instances[0]
    assert (target.repeats, target.misfire_skips) == (1, 3)
    runs = await timed.history(response.invoke_id)
    created = invocation.creation_time.ToDatetime()
    assert [r.scheduled_time.ToDatetime() - created for r in runs] == [timedelta(seconds=40)]


async def test_an_at_fires_once_and_disarms(timed: Timed) -> None:
    instant = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    response = await timed.kairos.invocations.RunCommand(
        periodic(f"at({instant:%Y-%m-%d %H:%M:%S})")
    )
    target = (await timed.invocation(response.invoke_id)).instances[0]
    assert target.next_fire_time.ToDatetime(tzinfo=UTC) == instant
    # Waiting for a wall-clock instant is the point of the test, not synchronisation.
    await asyncio.sleep((instant - datetime.now(UTC)).total_seconds() + 0.05)
    assert await timed.ticker.tick() == 1
    target = (await timed.invocation(response.invoke_id)).instances[0]
    assert not target.HasField("next_fire_time")
    assert target.invocation_status == S.INVOCATION_STATUS_PENDING
    runs = await timed.history(response.invoke_id)
    assert [r.scheduled_time.ToDatetime(tzinfo=UTC) for r in runs] == [instant]
    assert await timed.ticker.tick() == 0


async def test_stop_ends_future_fires(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    await timed.kairos.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=response.invoke_id)
    )
    invocation = await timed.invocation(response.invoke_id)
    assert not invocation.instances[0].HasField("next_fire_time")
    assert invocation.invocation_status == S.INVOCATION_STATUS_STOPPED
    await timed.rewind(response.invoke_id, 60)
    assert await timed.ticker.tick() == 0


async def test_a_target_armed_beside_a_whole_stop_fires_no_more(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)", "i-1", "i-2"))
    invoke_id = response.invoke_id
    await timed.kairos.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=invoke_id)
    )
    # What a selector's new member, or an instance a modify added, committed beside the
    # stop leaves behind: an armed target the stop never saw. It used to fire for ever.
    async with timed.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE invocation_targets SET armed = true, next_fire_at = now() "
                "WHERE invocation_id = :id AND instance_id = 'i-1'"
            ),
            {"id": invoke_id},
        )
    assert await timed.ticker.tick() == 1
    assert await timed.history(invoke_id) == []
    invocation = await timed.invocation(invoke_id)
    assert not any(t.HasField("next_fire_time") for t in invocation.instances)
    assert invocation.invocation_status == S.INVOCATION_STATUS_STOPPED
    assert await timed.ticker.tick() == 0


async def test_a_stop_racing_a_fire_cancels_that_fire(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    await timed.rewind(response.invoke_id, 10.5)
    async with timed.engine.begin() as round_:
        assert await timed.ticker.tick_in(round_) == 1
        stopping = asyncio.ensure_future(
            timed.kairos.invocations.StopInvocation(
                invocation_pb2.StopInvocationRequest(invoke_id=response.invoke_id)
            )
        )
        # The stop must wait for the round's locks; the commit then lets it see the fire.
        async with timed.engine.connect() as probe, asyncio.timeout(10):
            while not (
                await probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                )
            ).scalar_one():
                await probe.rollback()  # a fresh snapshot for the next look
                await asyncio.sleep(0.01)  # polling a condition: no event for "is waiting"
    await stopping
    runs = await timed.history(response.invoke_id)
    assert [r.invocation_status for r in runs] == [S.INVOCATION_STATUS_CANCELLED]
    invocation = await timed.invocation(response.invoke_id)
    assert invocation.invocation_status == S.INVOCATION_STATUS_STOPPED


async def test_over_quota_fires_are_visible_failures(servers: ServerFactory) -> None:
    async for timed in make_timed(servers, Limits(max_daily_executions=1)):
        response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)", "i-1", "i-2"))
        await timed.rewind(response.invoke_id, 10.5)
        await timed.ticker.tick()
        runs = await timed.history(response.invoke_id)
        statuses = sorted((r.invocation_status, r.error_code) for r in runs)
        assert statuses == [
            (S.INVOCATION_STATUS_PENDING, ""),
            (S.INVOCATION_STATUS_FAILED, "InvocationQuotaExceeded"),
        ]


async def test_concurrent_tickers_fire_each_instant_once(servers: ServerFactory) -> None:
    async for timed in make_timed(servers, Limits()):
        others = [timed.another_ticker() for _ in range(3)]
        response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)", "i-1", "i-2"))
        await timed.rewind(response.invoke_id, 10.5)
        claimed = await asyncio.gather(*(t.tick() for t in [timed.ticker, *others]))
        assert sum(claimed) == 2
        assert len(await timed.history(response.invoke_id)) == 2


@pytest.mark.parametrize(
    ("frequency", "needle"),
    [
        ("at(2020-01-01 00:00:00)", "has no fire after now"),
        ("rate(5s)", "IntervalTooShort"),
        ("0,5 * * * * ?", "minimum interval"),
        ("0 0 12 * *", "seconds field is missing"),
        ("0 0 12 ? * MON Mars/Olympus", "InvalidTimeZone"),
    ],
)
async def test_bad_schedules_are_refused_and_nothing_is_stored(
    timed: Timed, frequency: str, needle: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await timed.kairos.invocations.RunCommand(periodic(frequency))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in (raised.value.details() or "")
    listed = await timed.kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 0


async def test_boot_triggers_run_on_new_boot_ids_only(timed: Timed) -> None:
    once = await timed.kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="echo once",
            instance_ids=["i-1"],
            repeat_mode=S.REPEAT_MODE_NEXT_REBOOT_ONLY,
        )
    )
    every = await timed.kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="echo every",
            instance_ids=["i-1"],
            repeat_mode=S.REPEAT_MODE_EVERY_REBOOT,
        )
    )
    assert (await timed.invocation(once.invoke_id)).invocation_status == (
        S.INVOCATION_STATUS_SCHEDULED
    )
    address = timed.kairos.address
    for boot_id, expected_once, expected_every in (
        ("boot-1", 0, 0),  # a reconnect, not a boot
        ("boot-2", 1, 1),
        ("boot-2", 1, 1),
        ("boot-3", 1, 2),
    ):
        await timed.peers["i-1"].close()
        timed.peers["i-1"] = Peer(address, "i-1")
        await timed.peers["i-1"].hello(boot_id=boot_id)
        assert len(await timed.history(once.invoke_id)) == expected_once
        assert len(await timed.history(every.invoke_id)) == expected_every
    assert (await timed.invocation(every.invoke_id)).instances[0].invocation_status in (
        S.INVOCATION_STATUS_PENDING,
        S.INVOCATION_STATUS_RUNNING,
    )


def _fires_counted() -> float:
    return REGISTRY.get_sample_value("kairos_fires_total", {"trigger": "schedule"}) or 0.0


async def test_fires_are_counted_once_their_round_commits(timed: Timed) -> None:
    response = await timed.kairos.invocations.RunCommand(periodic("rate(10s)"))
    await timed.rewind(response.invoke_id, 10.5)
    before = _fires_counted()
    with contextlib.suppress(_RolledBack):
        async with timed.engine.begin() as round_:
            assert await timed.ticker.tick_in(round_) == 1
            raise _RolledBack  # the round's transaction does not commit
    assert _fires_counted() == before, "a rolled-back fire must not be counted"
    assert await timed.ticker.tick() == 1
    assert _fires_counted() == before + 1


class _RolledBack(Exception):
    """Raised to roll a transaction back."""
