"""Rolling rate control end to end: 20 real agents, real scripts, their own clocks.

The server's delivery timeout is 3 s while the slices of a fire wait longer than
that to be released: an execution held back would be aborted if the undelivered
sweep counted it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kairos.v1 import common_pb2, invocation_pb2
from tests.e2e.cluster import (
    Cluster,
    finished,
    invocation,
    results,
    running_cluster,
    watch_until,
)

pytestmark = pytest.mark.e2e

S = common_pb2
SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT
FLEET = [f"i-{n:02}" for n in range(1, 21)]


@pytest_asyncio.fixture
async def fleet(database_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """A server with a 3-second delivery timeout and 20 agents."""
    async with running_cluster(
        tmp_path, database_url, server_flags=["--delivery-timeout", "3"], agents={}
    ) as cluster:
        await cluster.start_agents(FLEET)
        yield cluster


def run(script: str, instances: list[str], **fields: object) -> invocation_pb2.RunCommandRequest:
    return invocation_pb2.RunCommandRequest(
        type=SHELL,
        command_content=script,
        instance_ids=instances,
        enable_parameter=True,
        **fields,  # type: ignore[arg-type]
    )


def peak_overlap(events: list[tuple[float, int]]) -> int:
    """The most scripts running at once, from (instant, +1 start / -1 end) events."""
    running = peak = 0
    # At one instant an end counts before a start: touching runs do not overlap.
    for _, change in sorted(events):
        running += change
        peak = max(peak, running)
    return peak


async def test_at_most_max_concurrency_scripts_run_at_once_by_their_own_clocks(
    fleet: Cluster, tmp_path: Path
) -> None:
    log = tmp_path / "runs.log"
    # Each script notes its own start and end (one short append each, atomic).
    script = (
        f'echo "$(date +%s.%N) 1 {{{{ACS::InstanceId}}}}" >> {log}; sleep 1; '
        f'echo "$(date +%s.%N) -1 {{{{ACS::InstanceId}}}}" >> {log}'
    )
    kairos = fleet.client()
    response = await kairos.invocations.RunCommand(run(script, FLEET, max_concurrency="5"))

    end = await finished(kairos, response.invoke_id)

    assert end["status"] == S.INVOCATION_STATUS_SUCCESS
    by_instance = await results(kairos, response.invoke_id)
    assert {r.invocation_status for r in by_instance.values()} == {S.INVOCATION_STATUS_SUCCESS}
    events = [line.split() for line in log.read_text().splitlines()]
    assert sorted(instance for _, change, instance in events if change == "1") == FLEET
    assert peak_overlap([(float(at), int(change)) for at, change, _ in events]) <= 5
    described = await invocation(kairos, response.invoke_id)
    assert (described.max_concurrency, described.max_errors) == ("5", "")


async def test_past_max_errors_the_fire_stops_and_the_rest_are_cancelled(fleet: Cluster) -> None:
    failing = ["i-02", "i-04", "i-06", "i-08", "i-10"]
    script = f"case {{{{ACS::InstanceId}}}} in {'|'.join(failing)}) exit 1;; esac"
    kairos = fleet.client()
    # 5% of 20 is one at a time: released strictly in instance id order.
    response = await kairos.invocations.RunCommand(
        run(script, FLEET, max_concurrency="5%", max_errors="2")
    )

    end = await finished(kairos, response.invoke_id)

    assert end["status"] == S.INVOCATION_STATUS_PARTIAL_FAILED
    by_instance = await results(kairos, response.invoke_id)
    outcome = {
        instance_id: (result.invocation_status, result.error_code)
        for instance_id, result in by_instance.items()
    }
    ran = {
        "i-01": (S.INVOCATION_STATUS_SUCCESS, ""),
        "i-02": (S.INVOCATION_STATUS_FAILED, "ExitCodeNonzero"),
        "i-03": (S.INVOCATION_STATUS_SUCCESS, ""),
        "i-04": (S.INVOCATION_STATUS_FAILED, "ExitCodeNonzero"),
        "i-05": (S.INVOCATION_STATUS_SUCCESS, ""),
        # The third failure: more than max_errors.
        "i-06": (S.INVOCATION_STATUS_FAILED, "ExitCodeNonzero"),
    }
    cancelled = {i: (S.INVOCATION_STATUS_CANCELLED, "MaxErrorsExceeded") for i in FLEET[6:]}
    assert outcome == ran | cancelled
    assert all(not by_instance[i].HasField("start_time") for i in cancelled)


async def test_stop_cancels_the_held_executions_and_ends_the_running_one(
    fleet: Cluster,
) -> None:
    kairos = fleet.client()
    response = await kairos.invocations.RunCommand(
        run("sleep 300", FLEET[:3], max_concurrency="1", max_errors="0")
    )
    invoke_id = response.invoke_id
    await watch_until(
        kairos,
        invoke_id,
        lambda runs: any(
            r.instance_id == "i-01" and r.invocation_status == S.INVOCATION_STATUS_RUNNING
            for r in runs.values()
        ),
    )

    await kairos.invocations.StopInvocation(
        invocation_pb2.StopInvocationRequest(invoke_id=invoke_id)
    )
    end = await finished(kairos, invoke_id)

    assert end["status"] == S.INVOCATION_STATUS_STOPPED
    outcome = {
        instance_id: result.invocation_status
        for instance_id, result in (await results(kairos, invoke_id)).items()
    }
    # An operator's stop is no failure: max_errors=0 cancels nothing "MaxErrorsExceeded".
    assert outcome == {
        "i-01": S.INVOCATION_STATUS_TERMINATED,
        "i-02": S.INVOCATION_STATUS_CANCELLED,
        "i-03": S.INVOCATION_STATUS_CANCELLED,
    }
    assert {r.error_code for i, r in (await results(kairos, invoke_id)).items() if i != "i-01"} <= {
        "",
        "ExecutionCancelled",
    }
