"""End to end, timed invocations (SPEC §5–§7): real server, real agents, real clocks.

Every schedule here is anchored at an instant the server chose (the
invocation's ``creation_time``), so the tests compute the exact instants each
fire must have and sleep only until those instants, when nothing else can be
awaited; everything else waits on WatchInvocation events.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kairos.v1 import common_pb2, fleet_pb2, invocation_pb2
from tests.e2e.cluster import (
    Cluster,
    ended,
    finished,
    history,
    invocation,
    moment,
    running_cluster,
    sleep_until,
    watch_until,
)

pytestmark = pytest.mark.e2e

S = common_pb2
SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT
TEN = timedelta(seconds=10)
ON_TIME = timedelta(seconds=1)
"""Longest accepted delay from a scheduled instant to the start of its script."""
SETTLE = timedelta(seconds=1.5)
"""Margin after a scheduled instant before asserting what it did (or did not) create."""


def run(script: str, *instances: str, **fields: object) -> invocation_pb2.RunCommandRequest:
    return invocation_pb2.RunCommandRequest(
        type=SHELL,
        command_content=script,
        instance_ids=list(instances or ("i-1",)),
        **fields,  # type: ignore[arg-type]
    )


async def created_at(cluster: Cluster, invoke_id: str) -> datetime:
    kairos = cluster.client()
    return moment((await invocation(kairos, invoke_id)).creation_time)


def assert_on_time(result: invocation_pb2.InvocationResult) -> None:
    lateness = moment(result.start_time) - moment(result.scheduled_time)
    assert timedelta(0) <= lateness < ON_TIME, (
        f"run {result.repeats} started {lateness} after its instant"
    )


async def test_rate_fires_on_its_grid_on_time(database_url: str, tmp_path: Path) -> None:
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-1": []}
    ) as cluster:
        kairos = cluster.client()
        invoke_id = (
            await kairos.invocations.RunCommand(run("echo tick", frequency="rate(10s)"))
        ).invoke_id
        created = await created_at(cluster, invoke_id)

        await watch_until(kairos, invoke_id, ended(1))
        between = await invocation(kairos, invoke_id)
        assert between.invocation_status == S.INVOCATION_STATUS_SCHEDULED
        (target,) = between.instances
        assert target.invocation_status == S.INVOCATION_STATUS_SCHEDULED
        assert moment(target.next_fire_time) == created + 2 * TEN
        assert target.repeats == 1

        await watch_until(kairos, invoke_id, ended(2))
        runs = await history(kairos, invoke_id)
        assert [moment(r.scheduled_time) for r in runs] == [created + TEN, created + 2 * TEN]
        for number, result in enumerate(runs, start=1):
            assert result.repeats == number
            assert result.invocation_status == S.INVOCATION_STATUS_SUCCESS
            assert result.output == b"tick\n"
            assert_on_time(result)

        # Stopped between runs: the runs it had succeeded, so the invocation is a success
        # that no longer waits for anything.
        await kairos.invocations.StopInvocation(
            invocation_pb2.StopInvocationRequest(invoke_id=invoke_id)
        )
        stopped = await invocation(kairos, invoke_id)
        assert stopped.invocation_status == S.INVOCATION_STATUS_SUCCESS
        (target,) = stopped.instances
        assert target.invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert not target.HasField("next_fire_time")
        assert target.repeats == 2


def cron_reference(after: datetime, hour: int, zone: ZoneInfo) -> datetime:
    """The first fire of ``0/10 * <hour> * * ?`` in ``zone`` strictly after ``after``.

    A brute-force reference, independent of the schedule engine: the first
    whole second after ``after`` that is a multiple of 10 and whose wall-clock
    hour in ``zone`` is ``hour`` (the minute field is ``*``: real time, so
    DST needs no special case).
    """
    instant = after.replace(microsecond=0) + timedelta(seconds=1)
    instant += timedelta(seconds=-instant.second % 10)
    while instant.astimezone(zone).hour != hour:
        instant += TEN
    return instant


async def test_cron_fires_in_each_agents_zone_or_in_its_own(
    database_url: str, tmp_path: Path
) -> None:
    new_york, kolkata = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")
    agents = {"i-ny": ["--time-zone", "America/New_York"], "i-in": ["--time-zone", "Asia/Kolkata"]}
    async with running_cluster(tmp_path, database_url, server_flags=[], agents=agents) as cluster:
        kairos = cluster.client()
        now = datetime.now(UTC)
        if now.minute in (29, 59) and now.second >= 45:
            # An hour ends in one of the zones (UTC-5 or UTC+5:30) before the next fire:
            # start in the new hour, so that "the current hour" still holds at the fire.
            await sleep_until(now.replace(second=0, microsecond=0) + timedelta(minutes=1))
            now = datetime.now(UTC)
        if now.second % 10 >= 8:
            # Create all three in one 10-second slot, so that their first fires share an
            # instant and the checks below run well before the second fires.
            await sleep_until(now.replace(microsecond=0) + timedelta(seconds=10 - now.second % 10))
            now = datetime.now(UTC)
        hour_ny, hour_in = now.astimezone(new_york).hour, now.astimezone(kolkata).hour
        # The hour of one zone is a different instant in the other (they are 10:30 apart),
        # so a zone-less cron fires now on one agent and hours later on the other; with an
        # explicit zone, both fire at the zone's instants whatever their own zones.
        crons = {
            "ny-hour": (f"0/10 * {hour_ny} * * ?", {"i-ny": new_york, "i-in": kolkata}),
            "in-hour": (f"0/10 * {hour_in} * * ?", {"i-ny": new_york, "i-in": kolkata}),
            "zoned": (f"0/10 * {hour_in} * * ? Asia/Kolkata", {"i-ny": kolkata, "i-in": kolkata}),
        }
        hours = {"ny-hour": hour_ny, "in-hour": hour_in, "zoned": hour_in}
        invoke_ids: dict[str, str] = {}
        expected: dict[tuple[str, str], datetime] = {}
        for name, (cron, zones) in crons.items():
            response = await kairos.invocations.RunCommand(
                run("echo fired", "i-ny", "i-in", frequency=cron)
            )
            invoke_ids[name] = response.invoke_id
            created = await created_at(cluster, response.invoke_id)
            for instance_id, zone in zones.items():
                expected[name, instance_id] = cron_reference(created, hours[name], zone)
        soon = {key: at for key, at in expected.items() if at - now < 2 * TEN}
        assert set(soon) == {
            ("ny-hour", "i-ny"),
            ("in-hour", "i-in"),
            ("zoned", "i-ny"),
            ("zoned", "i-in"),
        }

        async def first_runs(name: str) -> None:
            count = sum(1 for key in soon if key[0] == name)
            await watch_until(kairos, invoke_ids[name], ended(count))

        await asyncio.gather(*(first_runs(name) for name in crons))
        for name, invoke_id in invoke_ids.items():
            runs = {r.instance_id: r for r in await history(kairos, invoke_id)}
            described = {i.instance_id: i for i in (await invocation(kairos, invoke_id)).instances}
            for instance_id in ("i-ny", "i-in"):
                target = described[instance_id]
                first = expected[name, instance_id]
                if (name, instance_id) in soon:
                    result = runs[instance_id]
                    assert moment(result.scheduled_time) == first, (name, instance_id)
                    assert result.invocation_status == S.INVOCATION_STATUS_SUCCESS
                    assert_on_time(result)
                    assert target.repeats == 1
                    zone = crons[name][1][instance_id]
                    assert moment(target.next_fire_time) == cron_reference(
                        first, hours[name], zone
                    ), (name, instance_id)
                else:
                    assert instance_id not in runs, (name, instance_id)
                    assert target.repeats == 0
                    assert target.invocation_status == S.INVOCATION_STATUS_SCHEDULED
                    assert moment(target.next_fire_time) == first, (name, instance_id)
                    assert first - now > timedelta(hours=1)


async def test_at_fires_once_and_finishes(database_url: str, tmp_path: Path) -> None:
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-1": []}
    ) as cluster:
        kairos = cluster.client()
        shanghai = ZoneInfo("Asia/Shanghai")
        instant = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
        wall = instant.astimezone(shanghai).strftime("%Y-%m-%d %H:%M:%S")
        invoke_id = (
            await kairos.invocations.RunCommand(
                run("echo once", frequency=f"at({wall} Asia/Shanghai)")
            )
        ).invoke_id
        waiting = await invocation(kairos, invoke_id)
        assert waiting.invocation_status == S.INVOCATION_STATUS_SCHEDULED
        assert moment(waiting.instances[0].next_fire_time) == instant

        assert (await finished(kairos, invoke_id))["status"] == S.INVOCATION_STATUS_SUCCESS
        (result,) = await history(kairos, invoke_id)
        assert moment(result.scheduled_time) == instant
        assert result.output == b"once\n"
        assert_on_time(result)
        done = await invocation(kairos, invoke_id)
        assert done.invocation_status == S.INVOCATION_STATUS_SUCCESS
        (target,) = done.instances
        assert target.invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert not target.HasField("next_fire_time")
        assert target.repeats == 1


async def test_overlap_skips_a_fire_and_stop_ends_the_schedule(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-1": []}
    ) as cluster:
        kairos = cluster.client()
        invoke_id = (
            await kairos.invocations.RunCommand(
                run("echo started; sleep 15", frequency="rate(10s)")
            )
        ).invoke_id
        created = await created_at(cluster, invoke_id)
        await watch_until(
            kairos,
            invoke_id,
            lambda runs: any(
                r.invocation_status == S.INVOCATION_STATUS_RUNNING for r in runs.values()
            ),
        )
        # The run of creation + 10 s lasts until + 25 s: the fire of + 20 s must be skipped.
        await sleep_until(created + 2 * TEN + SETTLE)
        running = await invocation(kairos, invoke_id)
        (target,) = running.instances
        assert target.overlap_skips == 1
        assert target.misfire_skips == 0
        assert target.repeats == 1
        assert target.invocation_status == S.INVOCATION_STATUS_RUNNING
        assert moment(target.next_fire_time) == created + 3 * TEN
        (only,) = await history(kairos, invoke_id)
        assert moment(only.scheduled_time) == created + TEN
        assert_on_time(only)

        await kairos.invocations.StopInvocation(
            invocation_pb2.StopInvocationRequest(invoke_id=invoke_id)
        )
        assert (await finished(kairos, invoke_id))["status"] == S.INVOCATION_STATUS_STOPPED
        stopped_at = datetime.now(UTC)
        assert stopped_at < created + 3 * TEN, "stopped too late to see the next fire not happen"
        # Across the instant the schedule would have fired next.
        await sleep_until(created + 3 * TEN + SETTLE)
        (only,) = await history(kairos, invoke_id)
        assert only.invocation_status == S.INVOCATION_STATUS_TERMINATED
        assert only.output.startswith(b"started\n")
        after = await invocation(kairos, invoke_id)
        assert after.invocation_status == S.INVOCATION_STATUS_STOPPED
        (target,) = after.instances
        assert target.invocation_status == S.INVOCATION_STATUS_TERMINATED
        assert not target.HasField("next_fire_time")
        assert (target.repeats, target.overlap_skips) == (1, 1)


async def test_boot_triggers_run_on_new_boot_ids_only(database_url: str, tmp_path: Path) -> None:
    boot_id = tmp_path / "boot_id"
    boot_id.write_text("boot-1\n")
    agent_flags = ["--boot-id-file", str(boot_id)]
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-b": agent_flags}
    ) as cluster:
        kairos = cluster.client()

        async def last_boot() -> datetime | None:
            response = await kairos.fleet.DescribeInstances(
                fleet_pb2.DescribeInstancesRequest(instance_ids=["i-b"])
            )
            (instance,) = response.instances
            return moment(instance.last_boot_time) if instance.HasField("last_boot_time") else None

        async def restart_agent() -> None:
            cluster.agents["i-b"].terminate()
            # Returns once the server has registered the new connection, in the
            # transaction that also creates a boot's executions.
            await cluster.start_agent("i-b", *agent_flags)

        async def reboot(new_id: str) -> None:
            boot_id.write_text(new_id + "\n")
            await restart_agent()

        # The first connection of a never-seen instance is not a boot.
        assert await last_boot() is None
        script = f"echo booted $(cat {boot_id})"
        once = (
            await kairos.invocations.RunCommand(
                run(script, "i-b", repeat_mode=S.REPEAT_MODE_NEXT_REBOOT_ONLY)
            )
        ).invoke_id
        every = (
            await kairos.invocations.RunCommand(
                run(script, "i-b", repeat_mode=S.REPEAT_MODE_EVERY_REBOOT)
            )
        ).invoke_id
        for invoke_id in (once, every):
            waiting = await invocation(kairos, invoke_id)
            assert waiting.invocation_status == S.INVOCATION_STATUS_SCHEDULED
            assert not waiting.instances[0].HasField("next_fire_time")

        # A reconnect with the same boot id is not a boot.
        await restart_agent()
        assert await last_boot() is None
        assert await history(kairos, once) == []
        assert await history(kairos, every) == []

        await reboot("boot-2")
        first_boot = await last_boot()
        assert first_boot is not None
        assert (await finished(kairos, once))["status"] == S.INVOCATION_STATUS_SUCCESS
        await watch_until(kairos, every, ended(1))
        (run_once,) = await history(kairos, once)
        assert run_once.output == b"booted boot-2\n"
        (every_1,) = await history(kairos, every)
        assert every_1.output == b"booted boot-2\n"
        done = await invocation(kairos, once)
        assert done.invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert done.instances[0].invocation_status == S.INVOCATION_STATUS_SUCCESS
        still = await invocation(kairos, every)
        assert still.invocation_status == S.INVOCATION_STATUS_SCHEDULED
        assert still.instances[0].repeats == 1

        # Reconnecting again without a new boot id still runs nothing.
        await restart_agent()
        assert await last_boot() == first_boot
        assert len(await history(kairos, every)) == 1

        await reboot("boot-3")
        await watch_until(kairos, every, ended(2))
        runs = await history(kairos, every)
        assert [r.output for r in runs] == [b"booted boot-2\n", b"booted boot-3\n"]
        assert [r.repeats for r in runs] == [1, 2]
        assert all(r.invocation_status == S.INVOCATION_STATUS_SUCCESS for r in runs)
        (run_once,) = await history(kairos, once)
        assert run_once.output == b"booted boot-2\n"
        assert (await invocation(kairos, once)).instances[0].repeats == 1
        assert (await invocation(kairos, every)).instances[0].repeats == 2


async def test_daily_quota_turns_a_fire_into_a_visible_failure(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cluster(
        tmp_path,
        database_url,
        server_flags=["--max-daily-executions", "1"],
        agents={"i-1": []},
    ) as cluster:
        kairos = cluster.client()
        invoke_id = (
            await kairos.invocations.RunCommand(run("echo ran", frequency="rate(10s)"))
        ).invoke_id
        created = await created_at(cluster, invoke_id)
        await watch_until(kairos, invoke_id, ended(2))
        first, second = await history(kairos, invoke_id)
        assert moment(first.scheduled_time) == created + TEN
        assert first.invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert first.output == b"ran\n"
        assert moment(second.scheduled_time) == created + 2 * TEN
        assert second.invocation_status == S.INVOCATION_STATUS_FAILED
        assert second.error_code == "InvocationQuotaExceeded"
        assert "limit of 1 executions" in second.error_info
        assert not second.HasField("start_time")
        assert second.output == b""
        # Over quota, the schedule goes on: every later fire fails visibly the same way.
        described = await invocation(kairos, invoke_id)
        assert described.invocation_status == S.INVOCATION_STATUS_SCHEDULED
        (target,) = described.instances
        assert target.repeats == 2
        assert moment(target.next_fire_time) == created + 3 * TEN
