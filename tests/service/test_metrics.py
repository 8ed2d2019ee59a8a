"""The Prometheus endpoint exposes the named series, and they move when work runs."""

from __future__ import annotations

import asyncio
import contextlib
import re
import urllib.request

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import agent_pb2, common_pb2, invocation_pb2
from scheduler.domain.limits import Limits
from scheduler.local import connect, free_port
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer

SERIES = (
    "grpc_server_started_total",
    "grpc_server_handled_total",
    "grpc_server_handling_seconds_bucket",
    "grpc_server_msg_received_total",
    "grpc_server_msg_sent_total",
    "kairos_executions_finished_total",
    "kairos_scheduling_lateness_seconds_bucket",
    "kairos_delivery_latency_seconds_bucket",
    "kairos_connected_agents",
    "kairos_quota_exceeded_total",
    "kairos_db_pool_connections",
)


async def scrape(address: str) -> str:
    def get() -> str:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as response:
            body: bytes = response.read()
            return body.decode()

    return await asyncio.to_thread(get)


def value(text: str, series: str, **labels: str) -> float:
    """The sum of a series' samples whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{series}(?:\{{(.*)\}})? (\S+)", line)
        if match is None:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


async def test_metrics_expose_the_named_series_and_move(servers: ServerFactory) -> None:
    metrics_address = f"127.0.0.1:{free_port()}"
    address = await servers.start(limits=Limits(max_commands=0), metrics_listen=metrics_address)
    before = await scrape(metrics_address)
    peer = Peer(address, "i-1")
    await peer.hello()
    kairos = connect(address)
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="true",
            instance_ids=["i-1"],
        )
    )
    task = (await peer.receive()).task
    now = Timestamp()
    now.GetCurrentTime()
    await peer.send(agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=task.execution_id)))
    await peer.send(
        agent_pb2.AgentMessage(
            result=agent_pb2.ExecutionResult(
                execution_id=task.execution_id,
                status=common_pb2.INVOCATION_STATUS_SUCCESS,
                start_time=now,
                finish_time=now,
            )
        )
    )
    assert (await peer.receive()).WhichOneof("kind") == "result_ack"
    with contextlib.suppress(grpc.aio.AioRpcError):  # the command quota is 0: refused
        await kairos.invocations.RunCommand(
            invocation_pb2.RunCommandRequest(
                type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                command_content="true",
                instance_ids=["i-1"],
                keep_command=True,
                name="kept",
            )
        )
    after = await scrape(metrics_address)
    for series in SERIES:
        assert re.search(rf"^{series}[ {{]", after, re.MULTILINE), f"{series} is missing"
    run = {"grpc_service": "kairos.v1.InvocationService", "grpc_method": "RunCommand"}
    assert (
        value(after, "grpc_server_handled_total", **run, grpc_code="OK")
        - value(before, "grpc_server_handled_total", **run, grpc_code="OK")
        == 1
    )
    assert (
        value(after, "grpc_server_handled_total", **run, grpc_code="RESOURCE_EXHAUSTED")
        - value(before, "grpc_server_handled_total", **run, grpc_code="RESOURCE_EXHAUSTED")
        == 1
    )
    assert (
        value(after, "kairos_executions_finished_total", status="Success")
        - value(before, "kairos_executions_finished_total", status="Success")
        == 1
    )
    assert (
        value(after, "kairos_quota_exceeded_total", quota="MaxCommandCount")
        - value(before, "kairos_quota_exceeded_total", quota="MaxCommandCount")
        == 1
    )
    assert value(after, "kairos_connected_agents") - value(before, "kairos_connected_agents") == 1
    assert (
        value(after, "kairos_delivery_latency_seconds_count")
        - value(before, "kairos_delivery_latency_seconds_count")
        == 1
    )
    assert (
        value(after, "kairos_scheduling_lateness_seconds_count")
        - value(before, "kairos_scheduling_lateness_seconds_count")
        == 1
    )
    assert response.invoke_id
    await peer.close()
