"""Partitions, frozen agents and crashed replicas: results arrive once, nothing outlives its record.

A TCP proxy written here sits between the agent and the server and cuts the
path (``tests.e2e.proxy``); a frozen agent is a SIGSTOPped process; a crashed
replica is a SIGKILLed one. Everything else is real: server and agent processes,
PostgreSQL, shell scripts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.local import Kairos, free_port
from tests.e2e.cluster import finished, output_seen, results, running_cluster
from tests.e2e.proxy import proxy_to

pytestmark = pytest.mark.e2e

S = common_pb2
LOST_AFTER = 6
"""--agent-lost-after of these tests: three heartbeats of 2 s."""
SHORT_PARTITION = 4.0
"""Seconds a partition shorter than LOST_AFTER lasts: two heartbeats go missing."""
KILLED_WITHIN = 5.0
"""Seconds within which the agent kills a script whose execution the server has ended."""
METRICS_PORT = free_port()
FLAGS = ["--agent-lost-after", str(LOST_AFTER), "--metrics-listen", f"127.0.0.1:{METRICS_PORT}"]


async def run(kairos: Kairos, script: str) -> str:
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT, command_content=script, instance_ids=["i-1"]
        )
    )
    return str(response.invoke_id)


def endless(pid_file: Path) -> str:
    """A script that runs until it is killed (2 minutes at most: nothing outlives the test)."""
    return f"echo $$ > {pid_file}; echo started; for n in $(seq 600); do sleep 0.2; done"


def gone(pid: int) -> bool:
    """The process has exited (and been reaped, or is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def until(condition: Callable[[], bool], within: float) -> float:
    """Poll ``condition`` (an effect outside the server: a file, a process) until it holds;
    returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > within:
            raise AssertionError(f"not within {within} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def results_not_stored() -> float:
    """The server's count of agent results that changed nothing (late or repeated)."""
    url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
    with urllib.request.urlopen(url, timeout=5) as page:
        for line in page.read().decode().splitlines():
            if line.startswith("kairos_results_not_stored_total "):
                return float(line.split()[1])
    return 0.0


async def late_result_refused() -> None:
    """Wait until the server has been sent the agent's own (late) result, and refused it."""
    start = time.monotonic()
    while await asyncio.to_thread(results_not_stored) < 1:
        assert time.monotonic() - start < 10, "the agent's result never came"
        await asyncio.sleep(0.1)


async def ended_as_lost(kairos: Kairos, invoke_id: str) -> None:
    end = await finished(kairos, invoke_id)
    assert end["status"] == S.INVOCATION_STATUS_FAILED
    result = (await results(kairos, invoke_id))["i-1"]
    assert result.invocation_status == S.INVOCATION_STATUS_ERROR
    assert result.error_code == "ClientNotResponse"
    assert result.output == b"started\n"


async def test_a_partition_shorter_than_lost_after_delivers_the_result_once(
    database_url: str, tmp_path: Path
) -> None:
    gate, done = tmp_path / "gate", tmp_path / "done"
    script = f"echo started; while [ ! -e {gate} ]; do sleep 0.05; done; echo done; touch {done}"
    async with (
        running_cluster(tmp_path, database_url, server_flags=FLAGS, agents={}) as cluster,
        proxy_to(cluster.address) as proxy,
    ):
        await cluster.start_agent("i-1", via=proxy.address)
        kairos = cluster.client()
        invoke_id = await run(kairos, script)
        await output_seen(kairos, invoke_id, b"started")
        proxy.partition()
        cut = time.monotonic()
        gate.touch()
        await until(done.exists, 10)  # the script ended during the partition
        await asyncio.sleep(max(0.0, cut + SHORT_PARTITION - time.monotonic()))
        assert (await results(kairos, invoke_id))["i-1"].invocation_status == (
            S.INVOCATION_STATUS_RUNNING
        ), "the result crossed the partition"
        proxy.heal()

        end = await finished(kairos, invoke_id)
        assert end["status"] == S.INVOCATION_STATUS_SUCCESS
        result = (await results(kairos, invoke_id))["i-1"]
        assert result.invocation_status == S.INVOCATION_STATUS_SUCCESS
        assert result.output == b"started\ndone\n"
        history = await kairos.invocations.DescribeInvocationResults(
            invocation_pb2.DescribeInvocationResultsRequest(
                invoke_id=invoke_id, include_history=True
            )
        )
        assert history.total_count == 1


async def test_a_partition_longer_than_lost_after_ends_the_execution_and_the_script(
    database_url: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    async with (
        running_cluster(tmp_path, database_url, server_flags=FLAGS, agents={}) as cluster,
        proxy_to(cluster.address) as proxy,
    ):
        await cluster.start_agent("i-1", via=proxy.address)
        kairos = cluster.client()
        invoke_id = await run(kairos, endless(pid_file))
        await output_seen(kairos, invoke_id, b"started")
        pid = int(pid_file.read_text())
        proxy.partition()
        await ended_as_lost(kairos, invoke_id)
        assert not gone(pid)

        proxy.heal()
        # The server closed the agent's silent stream: back, the agent reconnects, lists
        # the execution in its Hello and is told to stop it.
        assert await until(lambda: gone(pid), 30) < KILLED_WITHIN
        await late_result_refused()
        await ended_as_lost(kairos, invoke_id)


async def test_a_script_outliving_its_execution_is_killed_when_its_frozen_agent_returns(
    database_url: str, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    async with running_cluster(tmp_path, database_url, server_flags=FLAGS, agents={}) as cluster:
        agent = await cluster.start_agent("i-1")
        assert agent.popen is not None
        kairos = cluster.client()
        invoke_id = await run(kairos, endless(pid_file))
        await output_seen(kairos, invoke_id, b"started")
        pid = int(pid_file.read_text())
        os.kill(agent.popen.pid, signal.SIGSTOP)  # the agent hangs; its script runs on
        try:
            await ended_as_lost(kairos, invoke_id)
        finally:
            os.kill(agent.popen.pid, signal.SIGCONT)
        assert await until(lambda: gone(pid), 30) < KILLED_WITHIN
        await late_result_refused()
        await ended_as_lost(kairos, invoke_id)


async def test_a_crashed_replicas_agents_count_as_gone_once_its_lease_lapses(
    database_url: str, tmp_path: Path
) -> None:
    async with running_cluster(tmp_path, database_url, server_flags=[], agents={}) as cluster:
        replica = await cluster.start_replica("replica")
        await cluster.start_agent("i-1", via=replica.address)
        kairos = cluster.client()
        invoke_id = await run(kairos, endless(tmp_path / "pid"))
        await output_seen(kairos, invoke_id, b"started")
        replica.kill()  # crashed: nobody clears its hold on the agent
        crashed = time.monotonic()

        # Stopping an execution whose agent is gone ends it at once; until the lease
        # lapses the agent still counts as connected and the execution only becomes
        # Stopping. (Without leases it would wait for --agent-lost-after, 120 s.)
        async with asyncio.timeout(45):
            while True:
                await kairos.invocations.StopInvocation(
                    invocation_pb2.StopInvocationRequest(invoke_id=invoke_id)
                )
                result = (await results(kairos, invoke_id))["i-1"]
                if result.invocation_status == S.INVOCATION_STATUS_TERMINATED:
                    break
                assert result.invocation_status == S.INVOCATION_STATUS_STOPPING
                await asyncio.sleep(0.5)
        assert time.monotonic() - crashed < 30
        assert result.error_code == "ExecutionInterrupted"
