"""Operating a server process: graceful SIGTERM drain and JSON logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.local import free_port
from tests.e2e.cluster import Cluster, finished, output_seen, results

pytestmark = pytest.mark.e2e

GRACE = 5.0


@contextlib.asynccontextmanager
async def one_agent_cluster(database_url: str, root: Path, *flags: str) -> AsyncIterator[Cluster]:
    """A server with ``flags`` and one agent, stopped (and its logs printed) after use."""
    cluster = Cluster(root=root, database_url=database_url, server_flags=list(flags))
    try:
        await cluster.start_server()
        await cluster.start_agent("i-1")
        yield cluster
    finally:
        cluster.stop()
        print(cluster.logs())


@pytest_asyncio.fixture
async def json_cluster(database_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """A server logging JSON with a short grace period, and one agent."""
    async with one_agent_cluster(
        database_url, tmp_path, "--log-format", "json", "--grace", str(GRACE)
    ) as cluster:
        yield cluster


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
    # A client call in flight when SIGTERM comes: it must complete, not be cut.
    answered = asyncio.Event()
    in_flight = asyncio.ensure_future(finished(kairos, response.invoke_id, answered=answered))
    async with asyncio.timeout(GRACE):
        await answered.wait()  # the server is serving the call: it is in flight
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
    end = await in_flight
    assert end["status"] == common_pb2.INVOCATION_STATUS_SUCCESS
    assert end["output"]["i-1"] == b"started\ndone\n"
    code = await asyncio.to_thread(popen.wait, GRACE + 10)
    assert code == 0
    assert time.monotonic() - began < GRACE + 10
    # New calls are refused once the server is gone; the work it did is all there.
    await json_cluster.start_server()
    kairos = json_cluster.client()
    result = (await results(kairos, response.invoke_id))["i-1"]
    assert result.invocation_status == common_pb2.INVOCATION_STATUS_SUCCESS
    assert result.output == b"started\ndone\n"


async def test_metrics_endpoint_of_a_server_process(database_url: str, tmp_path: Path) -> None:
    port = free_port()
    flags = ("--metrics-listen", f"127.0.0.1:{port}")
    async with one_agent_cluster(database_url, tmp_path, *flags) as cluster:
        kairos = cluster.client()
        response = await kairos.invocations.RunCommand(
            invocation_pb2.RunCommandRequest(
                type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                command_content="true",
                instance_ids=["i-1"],
            )
        )
        await finished(kairos, response.invoke_id)

        def scrape() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
                body: bytes = page.read()
                return body.decode()

        text = await asyncio.to_thread(scrape)
    assert 'kairos_executions_finished_total{status="Success"} 1.0' in text
    assert "kairos_connected_agents 1.0" in text
    assert (
        'grpc_server_handled_total{grpc_code="OK",grpc_method="RunCommand",'
        'grpc_service="kairos.v1.InvocationService",grpc_type="unary"} 1.0'
    ) in text


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
