"""Real Kairos processes for end-to-end tests: a server and agents, as an operator runs them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.local import (
    Kairos,
    Process,
    Supervisor,
    Tls,
    connect,
    free_port,
    kairos_command,
    until_online,
    until_serving,
)

START_TIMEOUT = 30.0
FINISH_TIMEOUT = 60.0
STOP_GRACE = 10.0
LOG_TAIL_LINES = 40


@dataclass(kw_only=True)
class Cluster:
    """One server (the one clients and agents talk to), some agents, and extra replicas.

    Replicas are further ``kairos server`` processes on the same database, each
    with its own port and flags, typically ``--roles ticker``. Logs and agents'
    state directories are in ``root``.
    """

    root: Path
    database_url: str
    port: int = field(default_factory=free_port)
    server: Process | None = None
    agents: dict[str, Process] = field(default_factory=dict)
    server_flags: list[str] = field(default_factory=list)
    replicas: dict[str, Process] = field(default_factory=dict)
    tls: Tls | None = None
    """How clients and readiness checks connect, to a server that serves TLS."""
    supervisor: Supervisor = field(init=False)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.root, grace=STOP_GRACE)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start_server(self) -> None:
        """Start (or restart) the server and wait until its health service says SERVING."""
        self.server = self._server_process("server", self.address, self.server_flags)
        await self.until_serving(self.server)

    def launch_replica(self, name: str, *flags: str) -> Process:
        """Start (or restart) replica ``name`` on a new port; returns without waiting."""
        replica = self._server_process(name, f"127.0.0.1:{free_port()}", list(flags))
        self.replicas[name] = replica
        return replica

    async def start_replica(self, name: str, *flags: str) -> Process:
        """Start (or restart) replica ``name`` and wait until it serves."""
        replica = self.launch_replica(name, *flags)
        await self.until_serving(replica)
        return replica

    def _server_process(self, name: str, listen: str, flags: list[str]) -> Process:
        return self.supervisor.start_server(
            listen,
            name=name,
            database_url=self.database_url,
            flags=["--heartbeat-interval", "2", *flags],
        )

    async def start_agent(self, instance_id: str, *extra: str, via: str | None = None) -> Process:
        """Start (or restart) an agent with its own state directory; wait until it is online.

        ``via``: the address the agent connects to (a replica, a proxy), if not the server's.
        """
        since = datetime.now(UTC)
        agent = self.supervisor.start_agent(
            instance_id, via or self.address, self.root / "agents" / instance_id, flags=extra
        )
        self.agents[instance_id] = agent
        # Heard from since its start: a restarted agent shows online from its last run.
        await self.supervisor.supervise(
            until_online(
                self.address,
                [instance_id],
                START_TIMEOUT,
                since=since,
                tls=self.tls,
            )
        )
        return agent

    async def start_agents(self, instance_ids: list[str]) -> None:
        """Start many agents at once (not one after another); wait until all are online."""
        since = datetime.now(UTC)
        for instance_id in instance_ids:
            self.agents[instance_id] = self.supervisor.start_agent(
                instance_id, self.address, self.root / "agents" / instance_id, flags=()
            )
        await self.supervisor.supervise(
            until_online(self.address, instance_ids, START_TIMEOUT * 2, since=since, tls=self.tls)
        )

    def start_managed_agent(
        self, state_dir: Path, *flags: str, env: dict[str, str] | None = None
    ) -> Process:
        """`kairos agent` with no --instance-id: a managed instance's, in ``state_dir``.

        ``env``: variables added to the agent's environment.
        """
        return self.supervisor.spawn(
            f"managed agent {state_dir.name}",
            kairos_command(
                ["agent", "--server", self.address, "--state-dir", str(state_dir), *flags]
            ),
            self.root / f"{state_dir.name}.log",
            env=env,
        )

    def client(self) -> Kairos:
        return connect(self.address, tls=self.tls)

    async def until_serving(self, server: Process) -> None:
        """Wait until a server process's health service says SERVING."""
        await self.supervisor.supervise(until_serving(server.address, START_TIMEOUT, self.tls))

    def stop(self) -> None:
        """Stop the agents, then the servers (SIGKILL after a grace)."""
        self.supervisor.stop_all()

    def logs(self) -> str:
        """The tail of every process's log, each under its name."""
        return "\n".join(
            "\n".join([f"--- {process.name} ---", *process.tail(LOG_TAIL_LINES)])
            for process in self.supervisor.processes.values()
        )


async def finished(
    kairos: Kairos, invoke_id: str, *, answered: asyncio.Event | None = None
) -> dict[str, Any]:
    """Follow WatchInvocation to the end; returns output by instance and the final status.

    ``answered`` is set at the first event: the server is serving the call by then.
    """
    output: dict[str, bytes] = {}
    final = None
    call = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=invoke_id), metadata=kairos.metadata
    )
    async with asyncio.timeout(FINISH_TIMEOUT):
        while (event := await call.read()) is not grpc.aio.EOF:
            if answered is not None:
                answered.set()
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
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=invoke_id, max_results=50),
        metadata=kairos.metadata,
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


@contextlib.asynccontextmanager
async def running_cluster(
    root: Path,
    database_url: str,
    *,
    server_flags: list[str],
    agents: dict[str, list[str]],
    tls: Tls | None = None,
) -> AsyncIterator[Cluster]:
    """A started server and agents (instance id → extra agent flags), stopped afterwards.

    ``tls``: how the test's clients connect, when ``server_flags`` make the server serve TLS.
    The processes' logs are printed at the end: pytest shows them for failing tests.
    """
    cluster = Cluster(root=root, database_url=database_url, server_flags=server_flags, tls=tls)
    try:
        await cluster.start_server()
        for instance_id, flags in agents.items():
            await cluster.start_agent(instance_id, *flags)
        yield cluster
    finally:
        cluster.stop()
        print(cluster.logs())


async def credential_in(state_dir: Path) -> dict[str, str]:
    """A managed agent's credential file, once the agent has registered."""
    path = state_dir / "credential.json"
    deadline = time.monotonic() + START_TIMEOUT
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path} after {START_TIMEOUT} s"
        await asyncio.sleep(0.1)
    document: dict[str, str] = json.loads(path.read_text())
    return document


def moment(timestamp: Timestamp) -> datetime:
    """A protobuf timestamp as an aware UTC datetime (microsecond precision, like the database)."""
    return timestamp.ToDatetime(tzinfo=UTC)


async def sleep_until(instant: datetime) -> None:
    """Sleep until a wall-clock instant (for waiting on a schedule's own time, nothing else)."""
    delay = (instant - datetime.now(UTC)).total_seconds()
    if delay > 0:
        await asyncio.sleep(delay)


async def invocation(kairos: Kairos, invoke_id: str) -> invocation_pb2.Invocation:
    """DescribeInvocations for one invocation."""
    response = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest(invoke_id=invoke_id)
    )
    assert len(response.invocations) == 1, response
    found: invocation_pb2.Invocation = response.invocations[0]
    return found


async def history(
    kairos: Kairos, invoke_id: str, instance_id: str = ""
) -> list[invocation_pb2.InvocationResult]:
    """Every run of an invocation (include_history), all pages, by instance then repeat."""
    runs: list[invocation_pb2.InvocationResult] = []
    token = ""
    while True:
        page = await kairos.invocations.DescribeInvocationResults(
            invocation_pb2.DescribeInvocationResultsRequest(
                invoke_id=invoke_id,
                instance_id=instance_id,
                include_history=True,
                max_results=50,
                next_token=token,
            )
        )
        runs += page.results
        token = page.next_token
        if not token:
            return runs


Runs = dict[str, invocation_pb2.InvocationResult]
"""The latest state of each execution of an invocation, by execution id."""


async def watch_until(
    kairos: Kairos, invoke_id: str, done: Callable[[Runs], bool], within: float = FINISH_TIMEOUT
) -> Runs:
    """Follow WatchInvocation until ``done`` holds for the executions seen so far.

    A periodic invocation's watch stays open between fires, so this waits on
    the server's events (a new execution, a status change), not on a clock.
    """
    runs: Runs = {}
    call = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=invoke_id)
    )
    try:
        async with asyncio.timeout(within):
            while (event := await call.read()) is not grpc.aio.EOF:
                if event.WhichOneof("event") == "result":
                    runs[event.result.execution_id] = event.result
                    if done(runs):
                        return runs
    except TimeoutError:
        raise AssertionError(f"condition not reached in {within} s; runs: {runs}") from None
    finally:
        call.cancel()
    raise AssertionError(f"the invocation finished before the condition held; runs: {runs}")


S = common_pb2
FINAL = frozenset(
    {
        S.INVOCATION_STATUS_SUCCESS,
        S.INVOCATION_STATUS_FAILED,
        S.INVOCATION_STATUS_ERROR,
        S.INVOCATION_STATUS_TIMEOUT,
        S.INVOCATION_STATUS_INVALID,
        S.INVOCATION_STATUS_ABORTED,
        S.INVOCATION_STATUS_CANCELLED,
        S.INVOCATION_STATUS_TERMINATED,
    }
)
"""Statuses an execution never leaves (SPEC §7)."""


def ended(count: int, instance_id: str = "") -> Callable[[Runs], bool]:
    """A ``watch_until`` condition: ``count`` runs (of ``instance_id``, if given) have ended."""

    def done(runs: Runs) -> bool:
        final = [
            r
            for r in runs.values()
            if (not instance_id or r.instance_id == instance_id) and r.invocation_status in FINAL
        ]
        return len(final) >= count

    return done
