"""End to end, ticker faults: replicas killed while firing, and every ticker down for a while.

The server clients and agents talk to runs ``--roles api,dispatcher``; the
tickers are separate ``kairos server --roles ticker`` processes on the same
database, killed and restarted like crashing pods.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio
from psycopg.rows import kwargs_row

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.ticker import LEAD, LOOKAHEAD
from tests.e2e.cluster import (
    Cluster,
    ended,
    history,
    invocation,
    moment,
    sleep_until,
    watch_until,
)
from tests.service.harness import Peer

pytestmark = pytest.mark.e2e

S = common_pb2
TEN = timedelta(seconds=10)
ON_TIME = timedelta(seconds=1)


def periodic(
    script: str, instance_ids: list[str], every: timedelta = TEN
) -> invocation_pb2.RunCommandRequest:
    return invocation_pb2.RunCommandRequest(
        type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content=script,
        instance_ids=instance_ids,
        frequency=f"rate({int(every.total_seconds())}s)",
    )


@pytest_asyncio.fixture
async def split_cluster(database_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """A server without the ticker role; tests add ticker replicas of their own."""
    cluster = Cluster(root=tmp_path, database_url=database_url)
    try:
        yield cluster
    finally:
        cluster.stop()
        # pytest shows captured output only for failing tests: the logs explain them.
        print(cluster.logs())


# --- Replicas killed at random moments ------------------------------------------------------

SEED = 4
INSTANCES = 50
INVOCATIONS = 10
FIRING = timedelta(seconds=62)
"""From the first creation to the end: the instants + 10 s … + 60 s of every schedule."""
CHAOS = timedelta(seconds=48)
"""Replicas are killed until this long after the first creation, then all run to the end."""
ALL_DOWN = timedelta(seconds=29.5)
"""When every replica is killed at once, from the first creation."""
LAG = timedelta(seconds=2)
"""An instant this long before the end must have fired (the tickers keep up with 50 fires/s)."""
DECIDED_EARLY = timedelta(seconds=LEAD + LOOKAHEAD)
"""How long before its instant a ticker may decide a fire, overlap check included."""


@dataclass(kw_only=True, frozen=True)
class Target:
    invocation_id: str
    instance_id: str
    created_at: datetime
    armed: bool
    next_fire_at: datetime | None
    repeats: int
    overlap_skips: int
    misfire_skips: int
    scheduled: list[datetime]
    finished: list[datetime | None]
    repeat_numbers: list[int]


TARGETS = """
SELECT t.invocation_id, t.instance_id, i.created_at, t.armed, t.next_fire_at, t.repeats,
       t.overlap_skips, t.misfire_skips,
       coalesce(array_agg(e.scheduled_at ORDER BY e.scheduled_at)
                FILTER (WHERE e.id IS NOT NULL), '{}') AS scheduled,
       coalesce(array_agg(e.finished_at ORDER BY e.scheduled_at)
                FILTER (WHERE e.id IS NOT NULL), '{}') AS finished,
       coalesce(array_agg(e.repeat ORDER BY e.scheduled_at) FILTER (WHERE e.id IS NOT NULL), '{}')
         AS repeat_numbers
FROM invocation_targets t
JOIN invocations i ON i.id = t.invocation_id
LEFT JOIN executions e ON e.invocation_id = t.invocation_id AND e.instance_id = t.instance_id
GROUP BY t.invocation_id, t.instance_id, i.created_at
"""

DUPLICATES = """
SELECT invocation_id, instance_id, scheduled_at, count(*)
FROM executions GROUP BY invocation_id, instance_id, scheduled_at HAVING count(*) > 1
"""

STATUSES = """
SELECT DISTINCT instance_id, status FROM executions WHERE scheduled_at < %(before)s
"""

LATENESS = """
SELECT EXTRACT(EPOCH FROM created_at - scheduled_at)::float8 FROM executions ORDER BY 1
"""


@pytest.mark.timeout(240)
async def test_killed_ticker_replicas_fire_every_instant_exactly_once(
    split_cluster: Cluster,
) -> None:
    cluster = split_cluster
    limits = ["--max-daily-executions", "1000000", "--delivery-timeout", "3"]
    ticker_flags = ["--roles", "ticker", *limits]
    tickers = ["ticker-1", "ticker-2", "ticker-3"]
    cluster.server_flags = ["--roles", "api,dispatcher", *limits]
    await cluster.start_server()
    await asyncio.gather(*(cluster.start_replica(name, *ticker_flags) for name in tickers))

    # One instance with a real agent; the others registered by a bare Hello and left
    # offline: their executions end Aborted after the 3-second delivery timeout, well
    # before the next fire, so none of their fires is an overlap.
    instance_ids = [f"i-{number:03}" for number in range(INSTANCES)]
    await cluster.start_agent(instance_ids[0])

    async def register(instance_id: str) -> None:
        peer = Peer(cluster.address, instance_id)
        await peer.hello()
        await peer.close()

    await asyncio.gather(*(register(i) for i in instance_ids[1:]))
    kairos = cluster.client()
    start = datetime.now(UTC)
    for _ in range(INVOCATIONS):
        await kairos.invocations.RunCommand(periodic("true", instance_ids))
    created = datetime.now(UTC) - start

    rng = random.Random(SEED)
    kills = 0
    restarts: list[asyncio.Task[None]] = []

    async def restart_later(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        cluster.launch_replica(name, *ticker_flags)

    def kill(name: str, down_for: float) -> None:
        nonlocal kills
        replica = cluster.replicas[name]
        if replica.alive():
            replica.kill()
            kills += 1
            restarts.append(asyncio.create_task(restart_later(name, down_for)))

    async def chaos() -> None:
        everyone_down = False
        while True:
            # The chaos itself: random moments from a fixed seed, not a synchronisation.
            await asyncio.sleep(rng.uniform(1.0, 5.0))
            now = datetime.now(UTC)
            if now >= start + CHAOS:
                return
            if not everyone_down and now >= start + ALL_DOWN - timedelta(seconds=5):
                # Once, every replica at the same time, just before a round of instants
                # (spread over the fraction of a second the creations took): those fires
                # come late.
                everyone_down = True
                await sleep_until(start + ALL_DOWN)
                for name in tickers:
                    kill(name, rng.uniform(2.0, 4.0))
                continue
            for name in rng.sample(tickers, rng.choice([1, 1, 2])):
                kill(name, rng.uniform(0.5, 4.0))

    try:
        await chaos()
        await asyncio.gather(*restarts)
    finally:
        for task in restarts:
            task.cancel()  # a failing test must not launch replicas after the cluster stops
    await asyncio.gather(*(cluster.until_serving(cluster.replicas[name]) for name in tickers))
    assert kills >= 10, f"only {kills} kills"

    await sleep_until(start + FIRING)
    stop = datetime.now(UTC)
    for name in tickers:
        assert cluster.replicas[name].terminate() == 0

    async with await psycopg.AsyncConnection.connect(cluster.database_url) as db:
        async with db.cursor(row_factory=kwargs_row(Target)) as cursor:
            targets = await (await cursor.execute(TARGETS)).fetchall()
        duplicates = await (await db.execute(DUPLICATES)).fetchall()
        lateness = [row[0] for row in await (await db.execute(LATENESS)).fetchall()]
        statuses = {
            (row[0], row[1])
            for row in await (
                await db.execute(STATUSES, {"before": stop - timedelta(seconds=5)})
            ).fetchall()
        }
    assert len(targets) == INSTANCES * INVOCATIONS
    assert duplicates == []
    overlaps = 0
    for target in targets:
        fired = len(target.scheduled)
        where = (target.invocation_id, target.instance_id)
        # Up to the end: the next instant is the first one not yet due...
        assert target.armed, where
        assert target.next_fire_at is not None, where
        assert target.next_fire_at > stop - LAG, where
        due = (target.next_fire_at - target.created_at) // TEN - 1
        assert target.next_fire_at == target.created_at + (due + 1) * TEN, where
        # ...and every instant of the grid before it fired once, or was an overlap skip,
        # counted: the instance's previous run still went on then. A fire due while every
        # replica was down comes late; an offline instance's run then ends Aborted only
        # the delivery timeout later, which a slow restart can push past the next instant.
        assert (target.repeats, target.misfire_skips) == (fired, 0), where
        assert target.repeat_numbers == list(range(1, fired + 1)), where
        assert fired + target.overlap_skips == due, where
        runs = dict(zip(target.scheduled, target.finished, strict=True))
        assert set(runs) <= {target.created_at + k * TEN for k in range(1, due + 1)}, where
        previous: datetime | None = None
        for k in range(1, due + 1):
            instant = target.created_at + k * TEN
            if instant in runs:
                previous = instant
                continue
            assert previous is not None, (where, instant)
            still_running = runs[previous]
            assert still_running is None or still_running > instant - DECIDED_EARLY, (
                where,
                instant,
            )
        overlaps += target.overlap_skips
        assert fired >= 5, where
    # Fires 5 s old have ended: the real agent ran its own, the offline instances' were
    # aborted (visibly, not lost).
    assert statuses == {
        (instance_ids[0], "Success"),
        *((instance_id, "Aborted") for instance_id in instance_ids[1:]),
    }
    # Fires due while every replica was down were created late, within the grace.
    assert max(lateness) > 1.0
    print(
        f"{INVOCATIONS} invocations created in {created.total_seconds():.2f} s, "
        f"{kills} kills, {len(lateness)} executions, {overlaps} overlap skips; "
        f"creation lateness (s): "
        f"p50 {statistics.median(lateness):.3f}, "
        f"p99 {statistics.quantiles(lateness, n=100)[98]:.3f}, max {max(lateness):.3f}"
    )


# --- Every ticker down ----------------------------------------------------------------------

EVERY = timedelta(seconds=20)
"""The schedules' interval in this test: long enough for a slow restart (below)."""
GRACE = 10
"""--misfire-grace of this test.

The second schedule is created PHASE after the first and the tickers come back
just after the second one's latest missed instant: its lateness is then the
restart time (under GRACE), while the first schedule's latest missed instant
is PHASE older still, beyond GRACE. Half the interval each: a restart may take
up to half the interval (10 s) and the first schedule's next instant still
falls after it, on time.
"""
PHASE = EVERY / 2


@pytest.mark.timeout(240)
async def test_downtime_fires_once_within_the_grace_and_skips_beyond_it(
    split_cluster: Cluster,
) -> None:
    cluster = split_cluster
    grace = ["--misfire-grace", str(GRACE)]
    ticker_flags = ["--roles", "ticker", *grace]
    tickers = ["ticker-1", "ticker-2"]
    cluster.server_flags = ["--roles", "api,dispatcher", *grace]
    await cluster.start_server()
    await asyncio.gather(*(cluster.start_replica(name, *ticker_flags) for name in tickers))
    await cluster.start_agent("i-1")
    kairos = cluster.client()

    early = (await kairos.invocations.RunCommand(periodic("echo early", ["i-1"], EVERY))).invoke_id
    early_created = moment((await invocation(kairos, early)).creation_time)
    # The two schedules' phases differ by PHASE: a wall-clock offset by design.
    await sleep_until(early_created + PHASE)
    late = (await kairos.invocations.RunCommand(periodic("echo late", ["i-1"], EVERY))).invoke_id
    late_created = moment((await invocation(kairos, late)).creation_time)
    phase = late_created - early_created
    assert PHASE <= phase < PHASE + timedelta(seconds=1)

    # Both tickers die after the early schedule's first fire, before the late one's.
    await watch_until(kairos, early, ended(1))
    for name in tickers:
        cluster.replicas[name].kill()
    assert datetime.now(UTC) < late_created + EVERY, "tickers stopped too late"

    # Down across late + 1, early + 2 and late + 2 intervals; back just after late + 2.
    await sleep_until(late_created + 2 * EVERY + timedelta(seconds=0.2))
    relaunched = datetime.now(UTC)

    async def serving(name: str) -> datetime:
        await cluster.until_serving(cluster.launch_replica(name, *ticker_flags))
        return datetime.now(UTC)

    first_serving = min(await asyncio.gather(*(serving(name) for name in tickers)))
    # Preconditions of the expectations below. A replica's ticker starts before it
    # serves, so the first round after the restart falls between these two moments:
    # late + 2 intervals is then within the grace, early + 2 intervals beyond it (it is
    # PHASE older), and early + 3 intervals still ahead, to fire on time.
    print(f"first ticker back {first_serving - relaunched} after the relaunch")
    assert first_serving < late_created + 2 * EVERY + timedelta(seconds=GRACE), (
        f"tickers took {first_serving - relaunched} to restart"
    )
    assert first_serving < early_created + 3 * EVERY

    # The late schedule fires once for its gap, then both follow their grids.
    await watch_until(kairos, early, ended(2))
    await watch_until(kairos, late, ended(2))

    early_runs = await history(kairos, early)
    assert [moment(r.scheduled_time) for r in early_runs] == [
        early_created + EVERY,
        early_created + 3 * EVERY,
    ]
    for result in early_runs:
        assert result.invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert moment(result.start_time) - moment(result.scheduled_time) < ON_TIME

    late_runs = await history(kairos, late)
    assert [moment(r.scheduled_time) for r in late_runs] == [
        late_created + 2 * EVERY,
        late_created + 3 * EVERY,
    ]
    gap_fire, on_grid = late_runs
    assert gap_fire.invocation_status == S.INVOCATION_STATUS_SUCCESS
    assert moment(gap_fire.start_time) > relaunched
    assert on_grid.invocation_status == S.INVOCATION_STATUS_SUCCESS
    assert moment(on_grid.start_time) - moment(on_grid.scheduled_time) < ON_TIME

    for invoke_id, created, skipped in [(early, early_created, 1), (late, late_created, 1)]:
        described = await invocation(kairos, invoke_id)
        assert described.invocation_status == S.INVOCATION_STATUS_SCHEDULED
        (target,) = described.instances
        assert target.repeats == 2
        assert target.misfire_skips == skipped
        assert target.overlap_skips == 0
        assert moment(target.next_fire_time) == created + 4 * EVERY
