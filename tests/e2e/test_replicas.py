"""Two active replicas on one PostgreSQL, real agents split between them, and one SIGKILLed.

Both ``kairos server`` processes run every role (api, dispatcher, ticker). Each agent
is given both addresses (``--server A,B`` or ``--server B,A``): it starts on the first
and moves to the next when its stream breaks, as agents behind a Service would.
Everything is real: the server and agent processes, PostgreSQL, shell scripts; the
checks at the end read the database and the files the scripts append to.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import pytest_asyncio

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.domain.enums import FINAL_STATUSES
from scheduler.local import Kairos, Process, connect, until_online
from tests.e2e.cluster import (
    FINAL,
    Cluster,
    Runs,
    finished,
    invocation,
    moment,
    results,
    sleep_until,
    watch_until,
)

pytestmark = pytest.mark.e2e

S = common_pb2
ON_A = ("i-a1", "i-a2", "i-a3")
ON_B = ("i-b1", "i-b2", "i-b3")
EVERY = [*ON_A, *ON_B]
TEN = timedelta(seconds=10)
BACK_WITHIN = 15.0
"""Seconds from the SIGKILL by which the dead replica's agents are on the survivor (issue 10)."""
FIRES_AFTER_KILL = 2
"""Timed fires each instance must run after the kill: the survivor's ticker took over."""
KILL_AHEAD = timedelta(milliseconds=10)
"""How long before a fire instant the replica is killed: when a ticker holds its claim."""


@dataclass(kw_only=True)
class Replicas:
    """The cluster, its two replicas' processes and a client of each."""

    cluster: Cluster
    a: Process
    b: Process
    kairos_a: Kairos
    kairos_b: Kairos
    marks: Path
    """One file per instance; each run appends its invocation's id, one line per run."""


@pytest_asyncio.fixture
async def replicas(database_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    cluster = Cluster(root=tmp_path, database_url=database_url)
    marks = tmp_path / "marks"
    marks.mkdir()
    try:
        await cluster.start_server()
        assert cluster.server is not None
        a, b = cluster.server, await cluster.start_replica("b")
        for instance_id in ON_A:
            await cluster.start_agent(instance_id, via=f"{a.address},{b.address}")
        for instance_id in ON_B:
            await cluster.start_agent(instance_id, via=f"{b.address},{a.address}")
        yield Replicas(
            cluster=cluster,
            a=a,
            b=b,
            kairos_a=cluster.client(),
            kairos_b=connect(b.address),
            marks=marks,
        )
    finally:
        cluster.stop()
        # pytest shows captured output only for failing tests: the logs explain them.
        print(cluster.logs())


def marked(marks: Path, script: str) -> str:
    """``script`` after a line appended to the instance's mark file: one line per run."""
    return f'echo "{{{{ACS::InvokeId}}}}" >> {marks}/{{{{ACS::InstanceId}}}}; {script}'


async def run(kairos: Kairos, script: str, frequency: str = "") -> str:
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content=script,
            instance_ids=EVERY,
            enable_parameter=True,
            frequency=frequency,
        )
    )
    return str(response.invoke_id)


async def holders(database_url: str) -> dict[str, str]:
    """The dispatcher holding each instance's stream, by instance id."""
    async with await psycopg.AsyncConnection.connect(database_url) as db:
        rows = await (await db.execute("SELECT id, dispatcher_id FROM instances")).fetchall()
    return {instance_id: dispatcher_id for instance_id, dispatcher_id in rows}


async def runs_everywhere(replicas: Replicas, kairos: Kairos, word: str) -> None:
    """A run through one replica's API ends Success on all six agents, whoever holds them."""
    invoke_id = await run(kairos, marked(replicas.marks, f"echo {word}"))
    end = await finished(kairos, invoke_id)
    assert end["status"] == S.INVOCATION_STATUS_SUCCESS, end
    assert end["output"] == {instance_id: f"{word}\n".encode() for instance_id in EVERY}
    for result in (await results(kairos, invoke_id)).values():
        assert result.invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert result.output == f"{word}\n".encode()


async def stops_everywhere(replicas: Replicas, started_on: Kairos, stopped_on: Kairos) -> str:
    """A stop through one replica's API ends the scripts the other replica's agents run too."""
    never = replicas.marks.parent / "never"
    invoke_id = await run(started_on, marked(replicas.marks, in_flight_script(never)))
    await watch_until(stopped_on, invoke_id, all_running)
    await stopped_on.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=invoke_id)
    )
    end = await finished(started_on, invoke_id)
    assert end["status"] == S.INVOCATION_STATUS_STOPPED, end
    for result in (await results(started_on, invoke_id)).values():
        assert result.invocation_status == S.INVOCATION_STATUS_TERMINATED, result
        assert result.output == b"started\n", result
    return invoke_id


def fired_on_every_instance(times: int, after: datetime) -> Callable[[Runs], bool]:
    """A ``watch_until`` condition: every instance ended ``times`` fires due after ``after``."""

    def done(runs: Runs) -> bool:
        ended = Counter(
            r.instance_id
            for r in runs.values()
            if r.invocation_status in FINAL and moment(r.scheduled_time) > after
        )
        return all(ended[instance_id] >= times for instance_id in EVERY)

    return done


def in_flight_script(gate: Path) -> str:
    """Runs until ``gate`` exists (a minute at most: nothing outlives the test)."""
    wait = f"for n in $(seq 1200); do [ -e {gate} ] && break; sleep 0.05; done"
    return f"echo started; {wait}; echo done"


def next_instant(created: datetime) -> datetime:
    """A little before the next instant of a ``rate(10s)`` schedule created at ``created``."""
    passed = (datetime.now(UTC) - created) // TEN
    return created + (passed + 1) * TEN - KILL_AHEAD


def all_running(runs: Runs) -> bool:
    running = S.INVOCATION_STATUS_RUNNING
    return {r.instance_id for r in runs.values() if r.invocation_status == running} == set(EVERY)


EXECUTIONS = """
SELECT e.invocation_id, e.instance_id, e.status, e.scheduled_at, e.started_at IS NOT NULL,
       i.created_at
FROM executions e JOIN invocations i ON i.id = e.invocation_id
ORDER BY e.invocation_id, e.instance_id, e.scheduled_at
"""


@dataclass(kw_only=True, frozen=True)
class Execution:
    invocation_id: str
    instance_id: str
    status: str
    scheduled_at: datetime
    started: bool
    invocation_created_at: datetime


async def executions(database_url: str) -> list[Execution]:
    async with await psycopg.AsyncConnection.connect(database_url) as db:
        rows = await (await db.execute(EXECUTIONS)).fetchall()
    return [
        Execution(
            invocation_id=row[0],
            instance_id=row[1],
            status=row[2],
            scheduled_at=row[3],
            started=row[4],
            invocation_created_at=row[5],
        )
        for row in rows
    ]


def runs_marked(marks: Path) -> Counter[tuple[str, str]]:
    """Lines the scripts appended, by invocation and instance: the runs that really happened."""
    return Counter(
        (line, path.name) for path in marks.iterdir() for line in path.read_text().splitlines()
    )


@pytest.mark.timeout(180)
async def test_two_active_replicas_share_the_fleet_and_survive_a_sigkill(
    replicas: Replicas, database_url: str
) -> None:
    kairos_a, kairos_b = replicas.kairos_a, replicas.kairos_b
    # The agents are split as their --server lists say: three streams on each replica.
    held = await holders(database_url)
    [on_a] = {held[instance_id] for instance_id in ON_A}
    [on_b] = {held[instance_id] for instance_id in ON_B}
    assert on_a != on_b

    # Timed fires: both tickers share the schedule; the fires reach the agents of both.
    created = datetime.now(UTC)
    periodic = await run(kairos_b, marked(replicas.marks, "true"), frequency="rate(10s)")
    # Runs through either API reach the agents the other replica holds.
    await runs_everywhere(replicas, kairos_a, "via-a")
    await runs_everywhere(replicas, kairos_b, "via-b")
    stopped = await stops_everywhere(replicas, kairos_b, kairos_a)
    await watch_until(kairos_a, periodic, fired_on_every_instance(1, created), within=30)

    # Scripts in flight on both replicas' agents, started through the replica about to die.
    gate = replicas.marks.parent / "gate"
    in_flight = await run(kairos_b, marked(replicas.marks, in_flight_script(gate)))
    await watch_until(kairos_a, in_flight, all_running)
    # The kill lands just before a fire instant: either ticker may hold its claim then.
    await sleep_until(next_instant(moment((await invocation(kairos_a, periodic)).creation_time)))
    replicas.b.kill()
    killed, killed_at = time.monotonic(), datetime.now(UTC)
    gate.touch()  # the scripts end while their agents fail over: results wait on disk

    # Its agents are back, on the survivor, and online through its API.
    while (held := await holders(database_url)) != dict.fromkeys(EVERY, on_a):
        assert time.monotonic() - killed < BACK_WITHIN, f"not all on the survivor: {held}"
        await asyncio.sleep(0.1)
    # Those that moved said Hello to it after the kill; those it held all along are online
    # by their stream (their heartbeats are rare: their last may predate the kill).
    await until_online(replicas.a.address, EVERY, BACK_WITHIN - (time.monotonic() - killed))
    await until_online(
        replicas.a.address, list(ON_B), BACK_WITHIN - (time.monotonic() - killed), since=killed_at
    )
    print(f"agents back on the survivor {time.monotonic() - killed:.2f} s after the kill")

    # What was in flight ends once, with all its output.
    end = await finished(kairos_a, in_flight)
    assert end["status"] == S.INVOCATION_STATUS_SUCCESS, end
    in_flight_results = await kairos_a.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=in_flight, include_history=True)
    )
    assert in_flight_results.total_count == len(EVERY)
    for result in in_flight_results.results:
        assert result.invocation_status == S.INVOCATION_STATUS_SUCCESS, result
        assert result.output == b"started\ndone\n", result

    # The schedule keeps firing on every instance: the survivor's ticker took over.
    await watch_until(
        kairos_a, periodic, fired_on_every_instance(FIRES_AFTER_KILL, killed_at), within=40
    )
    await kairos_a.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=periodic)
    )
    await finished(kairos_a, periodic)

    # Exactly once, as the database and the scripts' own marks tell it.
    recorded = await executions(database_url)
    assert all(e.status in FINAL_STATUSES for e in recorded), recorded
    fires = Counter((e.invocation_id, e.instance_id, e.scheduled_at) for e in recorded)
    assert [fire for fire, count in fires.items() if count > 1] == []
    for instance_id in EVERY:
        timed = [e for e in recorded if (e.invocation_id, e.instance_id) == (periodic, instance_id)]
        # Every instant of the schedule fired, none lost when its ticker died.
        assert [e.scheduled_at for e in timed] == [
            timed[0].invocation_created_at + k * TEN for k in range(1, len(timed) + 1)
        ], instance_id
        assert {e.status for e in timed} <= {"Success", "Terminated"}, timed
    assert {e.status for e in recorded if e.invocation_id == stopped} == {"Terminated"}
    assert {e.status for e in recorded if e.invocation_id not in (periodic, stopped)} == {"Success"}
    started = Counter((e.invocation_id, e.instance_id) for e in recorded if e.started)
    assert runs_marked(replicas.marks) == started  # no script ran twice, none was lost
