"""Operating a server process: graceful SIGTERM drain and JSON logs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kairos.v1 import common_pb2, invocation_pb2
from tests.e2e.cluster import Cluster, finished, output_seen, results

pytestmark = pytest.mark.e2e

GRACE = 5.0


@pytest_asyncio.fixture
async def json_cluster(database_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """A server logging JSON with a short grace period, and one agent."""
    cluster = Cluster(
        tmp_path, database_url, server_flags=["--log-format", "json", "--grace", str(GRACE)]
    )
    try:
        await cluster.start_server()
        await cluster.start_agent("i-1")
        yield cluster
    finally:
        cluster.stop()
        print(cluster.logs())


async def test_sigterm_drains_and_loses_no_execution(json_cluster: Cluster) -> None:
    kairos = json_cluster.client()
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="echo started; sleep 2; echo done",
            instance_ids=["i-1"],
        )
    )
    await output_seen(kairos, response.invoke_id, b"started")
    health: Any = health_pb2_grpc.HealthStub(kairos.channel)
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
    assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING
    assert json_cluster.server is not None
    popen = json_cluster.server.popen
    assert popen is not None
    began = time.monotonic()
    popen.terminate()
    async with asyncio.timeout(GRACE):
        reply = await watch.read()
    assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
    watch.cancel()
    code = await asyncio.to_thread(popen.wait, GRACE + 10)
    assert code == 0
    assert time.monotonic() - began < GRACE + 10
    # The script finished while no server ran; the agent kept its result.
    await json_cluster.start_server()
    kairos = json_cluster.client()
    assert (await finished(kairos, response.invoke_id))["status"] == (
        common_pb2.INVOCATION_STATUS_SUCCESS
    )
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert result.output == b"started\ndone\n"


async def test_logs_are_json_lines_with_the_ids(json_cluster: Cluster) -> None:
    kairos = json_cluster.client()
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="true",
            instance_ids=["i-1"],
        )
    )
    await finished(kairos, response.invoke_id)
    execution_id = (await results(kairos, response.invoke_id))["i-1"].execution_id
    assert json_cluster.server is not None
    json_cluster.server.terminate()
    records = [
        json.loads(line)
        for line in json_cluster.server.log.read_text().splitlines()
        if line.startswith("{")
    ]
    lines = [line for line in json_cluster.server.log.read_text().splitlines() if line.strip()]
    # Every line the server wrote is a JSON object, apart from its one start-up notice.
    assert len(records) == len(lines) - 1
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
    finished_records = [r for r in records if r.get("execution_id") == execution_id]
    assert finished_records and finished_records[0]["instance_id"] == "i-1"
    assert any(r.get("instance_id") == "i-1" and "connected" in r["message"] for r in records)
