"""Real Kairos processes for end-to-end tests: a server and agents, as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kairos.v1 import fleet_pb2, invocation_pb2
from tests.service.harness import Kairos, connect

START_TIMEOUT = 30.0
FINISH_TIMEOUT = 60.0
KAIROS = [sys.executable, "-m", "scheduler.cli"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Process:
    """A ``kairos`` subprocess with its output in a log file."""

    name: str
    args: list[str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                [*KAIROS, *self.args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        assert self.popen is not None
        self.popen.kill()
        self.popen.wait()

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ---\n" + "\n".join(text.splitlines()[-lines:])


@dataclass
class Cluster:
    """One server and some agents on this machine."""

    root: Path
    database_url: str
    port: int = field(default_factory=free_port)
    server: Process | None = None
    agents: dict[str, Process] = field(default_factory=dict)
    server_flags: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start_server(self) -> None:
        """Start the server and wait until its health service says SERVING."""
        self.server = Process(
            "server",
            [
                "server",
                "--listen",
                self.address,
                "--database-url",
                self.database_url,
                "--heartbeat-interval",
                "2",
                *self.server_flags,
            ],
            self.root / "server.log",
        )
        self.server.start()
        await self._until_serving()

    async def start_agent(self, instance_id: str, *extra: str) -> Process:
        """Start (or restart) an agent with its own state directory; wait until it is online."""
        agent = Process(
            instance_id,
            [
                "agent",
                "--server",
                self.address,
                "--instance-id",
                instance_id,
                "--state-dir",
                str(self.root / "agents" / instance_id),
                *extra,
            ],
            self.root / f"{instance_id}.log",
        )
        since = datetime.now(UTC)
        agent.start()
        self.agents[instance_id] = agent
        await self.until_connected(instance_id, since)
        return agent

    def client(self) -> Kairos:
        return connect(self.address)

    async def until_connected(self, instance_id: str, since: datetime) -> None:
        """Wait until the instance's agent has registered with the server after ``since``."""
        kairos = self.client()
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    response = await kairos.fleet.DescribeInstances(
                        fleet_pb2.DescribeInstancesRequest(instance_ids=[instance_id])
                    )
                    if response.instances:
                        seen = response.instances[0].last_heartbeat_time.ToDatetime(tzinfo=UTC)
                        if seen >= since:
                            return
                    # Polling a condition: the API has no event for an agent's arrival.
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"agent {instance_id} never connected\n{self.logs()}") from None
        finally:
            await kairos.channel.close()

    async def _until_serving(self) -> None:
        channel = grpc.aio.insecure_channel(self.address)
        health: Any = health_pb2_grpc.HealthStub(channel)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    try:
                        async for reply in health.Watch(
                            health_pb2.HealthCheckRequest(service=""), wait_for_ready=True
                        ):
                            if reply.status == health_pb2.HealthCheckResponse.SERVING:
                                return
                    except grpc.aio.AioRpcError:
                        assert self.server is not None and self.server.alive(), self.logs()
                        await asyncio.sleep(0.1)
        except TimeoutError:
            raise AssertionError(f"server never served\n{self.logs()}") from None
        finally:
            await channel.close()

    def stop(self) -> None:
        for process in [*self.agents.values(), self.server]:
            if process is not None and process.alive():
                process.popen.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        for process in [*self.agents.values(), self.server]:
            if process is not None and process.popen is not None:
                try:
                    process.popen.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.popen.pid, signal.SIGKILL)
                    process.popen.wait()

    def logs(self) -> str:
        processes = [p for p in [self.server, *self.agents.values()] if p is not None]
        return "\n".join(p.tail() for p in processes)


async def finished(kairos: Kairos, invoke_id: str) -> dict[str, Any]:
    """Follow WatchInvocation to the end; returns output by instance and the final status."""
    output: dict[str, bytes] = {}
    final = None
    call = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=invoke_id)
    )
    async with asyncio.timeout(FINISH_TIMEOUT):
        while (event := await call.read()) is not grpc.aio.EOF:
            if event.WhichOneof("event") == "output":
                output[event.output.instance_id] = (
                    output.get(event.output.instance_id, b"") + event.output.data
                )
            elif event.WhichOneof("event") == "finished":
                final = event.finished
    return {"output": output, "status": final}


async def results(kairos: Kairos, invoke_id: str) -> dict[str, invocation_pb2.InvocationResult]:
    """The latest result of each instance of an invocation."""
    response = await kairos.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=invoke_id, max_results=50)
    )
    return {r.instance_id: r for r in response.results}


async def output_seen(kairos: Kairos, invoke_id: str, needle: bytes) -> None:
    """Wait until ``needle`` appears in the invocation's live output."""
    seen = b""
    call = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=invoke_id)
    )
    async with asyncio.timeout(START_TIMEOUT):
        while (event := await call.read()) is not grpc.aio.EOF:
            if event.WhichOneof("event") == "output":
                seen += event.output.data
                if needle in seen:
                    call.cancel()
                    return
    raise AssertionError(f"{needle!r} never appeared; saw {seen!r}")
