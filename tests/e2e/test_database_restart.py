"""PostgreSQL crashes and comes back under a busy server (issue 9, "PostgreSQL restarts").

A real ``kairos server`` and two real agents on a PostgreSQL of the test's own,
stopped with ``pg_ctl stop -m immediate`` (a crash: no checkpoint, connections
cut) while 50 ``rate(10s)`` schedules fire and one-time runs are mid-script, and
started again after longer than one period. During the outage calls are
``UNAVAILABLE``, health is ``NOT_SERVING`` (liveness stays ``SERVING``) and the
agents keep their streams and their results; afterwards an SQL check finds every
fire exactly once, none lost beyond the misfire rule, every run final.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pgserver._commands import POSTGRES_BIN_PATH
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from kairos.v1 import common_pb2, fleet_pb2, invocation_pb2
from scheduler.domain.enums import FINAL_STATUSES
from scheduler.local import Kairos
from scheduler.server.health import LIVENESS
from scheduler.store.database import create_engine
from scheduler.store.embedded import EmbeddedPostgres
from scheduler.store.migrate import upgrade
from tests.e2e.cluster import Cluster, running_cluster, sleep_until

pytestmark = pytest.mark.e2e

S = common_pb2
Health = health_pb2.HealthCheckResponse
AGENTS = ("i-1", "i-2")
SCHEDULES = 50
ONE_TIME_RUNS = 4
PERIOD = timedelta(seconds=10)
OUTAGE = timedelta(seconds=12)
"""Longer than a period: every schedule misses a fire, some two (one of them skipped)."""
RESUME_SLACK = timedelta(seconds=5)
"""Time the ticker may take after the database is back to fire what it missed."""
WAIT = 30.0
"""Deadline of every wait for a condition (each is met in a few seconds)."""


@dataclass(frozen=True)
class OwnPostgres:
    """A PostgreSQL of this test alone, which it may crash and start again."""

    embedded: EmbeddedPostgres
    socket_dir: Path

    @property
    def url(self) -> str:
        return self.embedded.url

    async def crash(self) -> None:
        """Stop at once, like a crash: connections are cut, recovery runs at the next start."""
        await self._pg_ctl("-m", "immediate", "-w", "stop")

    async def start(self) -> None:
        """Start again as ``EmbeddedPostgres`` does: on its socket only; returns once ready."""
        log = str(self.embedded.data_dir / "log")
        await self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", log, "start")

    async def stop(self) -> None:
        await self._pg_ctl("-m", "fast", "-w", "stop")

    async def _pg_ctl(self, *arguments: str) -> None:
        data_dir = self.embedded.data_dir
        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(data_dir), *arguments]
        if os.geteuid() == 0:
            # As root, PostgreSQL runs as the user pgserver (see EmbeddedPostgres). Not
            # Popen(user=…): that forks without exec'ing at once, which aborts at random
            # in a process running gRPC threads; runuser keeps the spawn a plain exec.
            command = ["runuser", "-u", "pgserver", "--", *command]
        output = data_dir.parent / "pg_ctl.out"
        with output.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                *command, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT
            )
            code = await process.wait()
        if code != 0:
            raise subprocess.CalledProcessError(code, command, output.read_bytes())


@contextlib.asynccontextmanager
async def own_postgres(data_dir: Path) -> AsyncIterator[OwnPostgres]:
    # fsync off only: a commit must still be on disk (in the OS) when it is acknowledged,
    # or the crash would lose results the server was told were stored.
    async with EmbeddedPostgres(data_dir, settings={"fsync": "off"}) as embedded:
        await asyncio.to_thread(upgrade, embedded.url)
        postgres = OwnPostgres(embedded, embedded.socket_dir)
        try:
            yield postgres
        finally:
            # pgserver stops only the postmaster it started, not a restarted one; none
            # runs if the test failed during the outage.
            with contextlib.suppress(subprocess.CalledProcessError):
                await postgres.stop()


async def test_a_database_restart_loses_and_doubles_nothing(
    embedded_data_dir: Path, tmp_path: Path
) -> None:
    async with own_postgres(embedded_data_dir) as postgres:
        await _restart_under_load(postgres, tmp_path)


async def _restart_under_load(postgres: OwnPostgres, root: Path) -> None:
    engine = create_engine(postgres.url)
    agents: dict[str, list[str]] = {instance_id: [] for instance_id in AGENTS}
    try:
        async with running_cluster(root, postgres.url, server_flags=[], agents=agents) as cluster:
            kairos = cluster.client()
            schedules = [
                await _run(kairos, "echo tick", AGENTS[n % len(AGENTS)], frequency="rate(10s)")
                for n in range(SCHEDULES)
            ]
            await _until(lambda: _fired_schedules(engine, schedules), SCHEDULES)
            # Scripts that outlast the crash: their results come while the database is away.
            one_time = [
                await _run(kairos, "sleep 3; echo done", *AGENTS) for _ in range(ONE_TIME_RUNS)
            ]
            running = ONE_TIME_RUNS * len(AGENTS)
            await _until(lambda: _started(engine, one_time), running)
            held = await _execution_paths(engine, cluster, one_time)
            health = _health_watch(kairos)
            assert (await health.read()).status == Health.SERVING

            down = datetime.now(UTC)
            await postgres.crash()
            async with asyncio.timeout(WAIT):
                assert (await health.read()).status == Health.NOT_SERVING
            assert await _liveness(kairos) == Health.SERVING
            assert await _refusals(kairos, schedules[0]) == {grpc.StatusCode.UNAVAILABLE}
            # The scripts end meanwhile; the agents keep their results until stored.
            await _until(lambda: _count_existing(held), len(held))
            await sleep_until(down + OUTAGE)
            assert await _count_existing(held) == len(held)

            await postgres.start()
            up = datetime.now(UTC)
            await engine.dispose()  # the test's own pooled connections died with the crash
            async with asyncio.timeout(WAIT):
                assert (await health.read()).status == Health.SERVING
            health.cancel()
            await _until(lambda: _count_existing(held), 0)  # stored, acknowledged, forgotten
            # Every schedule fires again after the outage, then stops for the count.
            await _until(lambda: _fired_after(engine, schedules, up + RESUME_SLACK), SCHEDULES)
            for invoke_id in schedules:
                await kairos.invocations.StopInvocation(
                    invocation_pb2.StopInvocationRequest(invoke_id=invoke_id)
                )
            await _until(lambda: _open_executions(engine, schedules + one_time), 0)

            await _assert_one_time_runs_succeeded(engine, one_time)
            await _assert_fires_follow_the_misfire_rule(engine, schedules, down, up)
            for instance_id in AGENTS:
                # One Welcome each: the agents never lost their streams.
                log = cluster.agents[instance_id].log.read_text()
                assert log.count(f"connected to {cluster.address}") == 1, instance_id
    finally:
        await engine.dispose()


async def _run(kairos: Kairos, script: str, *instances: str, frequency: str = "") -> str:
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content=script,
            instance_ids=list(instances),
            frequency=frequency,
        )
    )
    invoke_id: str = response.invoke_id
    return invoke_id


async def _until(value: Callable[[], Awaitable[int]], wanted: int) -> None:
    """Poll ``value`` until it is ``wanted``, for at most ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while (seen := await value()) != wanted:
        assert time.monotonic() < deadline, f"still {seen}, waiting for {wanted}"
        await asyncio.sleep(0.2)


async def _scalar(engine: AsyncEngine, query: str, **parameters: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(query), parameters)).scalar_one())


async def _fired_schedules(engine: AsyncEngine, invoke_ids: list[str]) -> int:
    return await _scalar(
        engine,
        "SELECT count(DISTINCT invocation_id) FROM executions WHERE invocation_id = ANY(:ids)",
        ids=invoke_ids,
    )


async def _fired_after(engine: AsyncEngine, invoke_ids: list[str], after: datetime) -> int:
    return await _scalar(
        engine,
        "SELECT count(DISTINCT invocation_id) FROM executions"
        " WHERE invocation_id = ANY(:ids) AND scheduled_at > :after",
        ids=invoke_ids,
        after=after,
    )


async def _started(engine: AsyncEngine, invoke_ids: list[str]) -> int:
    return await _scalar(
        engine,
        "SELECT count(*) FROM executions"
        " WHERE invocation_id = ANY(:ids) AND started_at IS NOT NULL",
        ids=invoke_ids,
    )


async def _open_executions(engine: AsyncEngine, invoke_ids: list[str]) -> int:
    return await _scalar(
        engine,
        "SELECT count(*) FROM executions"
        " WHERE invocation_id = ANY(:ids) AND NOT status = ANY(:final)",
        ids=invoke_ids,
        final=[status.value for status in FINAL_STATUSES],
    )


async def _execution_paths(
    engine: AsyncEngine, cluster: Cluster, invoke_ids: list[str]
) -> list[Path]:
    """Where each agent keeps the result of these invocations' executions until it is acked."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, instance_id FROM executions WHERE invocation_id = ANY(:ids)"),
            {"ids": invoke_ids},
        )
        return [
            cluster.root / "agents" / instance_id / "executions" / execution_id / "result.pb"
            for execution_id, instance_id in rows
        ]


async def _count_existing(paths: list[Path]) -> int:
    return sum(path.exists() for path in paths)


def _health_watch(kairos: Kairos) -> Any:
    stub: Any = health_pb2_grpc.HealthStub(kairos.channel)
    return stub.Watch(health_pb2.HealthCheckRequest(service=""))


async def _liveness(kairos: Kairos) -> int:
    stub: Any = health_pb2_grpc.HealthStub(kairos.channel)
    reply = await stub.Check(health_pb2.HealthCheckRequest(service=LIVENESS), timeout=5)
    return int(reply.status)


async def _refusals(kairos: Kairos, invoke_id: str) -> set[grpc.StatusCode]:
    """The status codes of a few calls of every sort, made while the database is down."""
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: _run(kairos, "echo never", AGENTS[0]),
        lambda: kairos.invocations.DescribeInvocations(
            invocation_pb2.DescribeInvocationsRequest(invoke_id=invoke_id)
        ),
        lambda: kairos.invocations.StopInvocation(
            invocation_pb2.StopInvocationRequest(invoke_id=invoke_id)
        ),
        lambda: kairos.fleet.DescribeAgentStatus(fleet_pb2.DescribeAgentStatusRequest()),
        lambda: _first_watch_event(kairos, invoke_id),
    ]
    codes = set()
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await asyncio.wait_for(call(), WAIT)
        codes.add(refused.value.code())
    return codes


async def _first_watch_event(kairos: Kairos, invoke_id: str) -> object:
    call = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=invoke_id)
    )
    try:
        return await call.read()
    finally:
        call.cancel()


async def _assert_one_time_runs_succeeded(engine: AsyncEngine, invoke_ids: list[str]) -> None:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT invocation_id, instance_id, status, output FROM executions"
                    " WHERE invocation_id = ANY(:ids)"
                ),
                {"ids": invoke_ids},
            )
        ).all()
    assert sorted((r.invocation_id, r.instance_id) for r in rows) == sorted(
        (invoke_id, instance_id) for invoke_id in invoke_ids for instance_id in AGENTS
    )
    assert {(r.status, bytes(r.output)) for r in rows} == {("Success", b"done\n")}


async def _assert_fires_follow_the_misfire_rule(
    engine: AsyncEngine, invoke_ids: list[str], down: datetime, up: datetime
) -> None:
    """Every instant of every schedule's grid ran exactly once, or is a counted skip.

    Skips happen only in the outage; the misfire rule (the outage is far shorter than
    ``--misfire-grace``) runs the latest missed instant, so a skipped instant is always
    followed by a run within the outage or right after it.
    """
    async with engine.connect() as conn:
        fires = (
            await conn.execute(
                text(
                    "SELECT invocation_id, instance_id, scheduled_at FROM executions"
                    " WHERE invocation_id = ANY(:ids)"
                ),
                {"ids": invoke_ids},
            )
        ).all()
        targets = (
            await conn.execute(
                text(
                    "SELECT invocation_id, instance_id, misfire_skips, overlap_skips"
                    " FROM invocation_targets WHERE invocation_id = ANY(:ids)"
                ),
                {"ids": invoke_ids},
            )
        ).all()
    instants: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for fire in fires:
        instants[fire.invocation_id, fire.instance_id].append(fire.scheduled_at)
    assert len(targets) == SCHEDULES
    outage = (down - timedelta(seconds=1), up + RESUME_SLACK)
    skipped_in_all = 0
    for target in targets:
        ran = sorted(instants[target.invocation_id, target.instance_id])
        assert len(ran) == len(set(ran)), f"a fire ran twice: {target}"
        grid = [ran[0] + n * PERIOD for n in range((ran[-1] - ran[0]) // PERIOD + 1)]
        assert set(ran) <= set(grid), f"a fire off its grid: {target}"
        missed = sorted(set(grid) - set(ran))
        assert len(missed) == target.misfire_skips + target.overlap_skips, target
        assert all(outage[0] < instant <= outage[1] for instant in missed), (target, missed)
        if missed:
            late = [i for i in ran if outage[0] < i <= outage[1]]
            assert late and max(missed) < max(late), f"the latest missed fire did not run: {target}"
        skipped_in_all += len(missed)
    # Sanity: the outage did cover fires (each schedule missed at least one, most ran late).
    ran_late = sum(1 for f in fires if outage[0] < f.scheduled_at <= up)
    assert ran_late + skipped_in_all >= SCHEDULES
