"""`kairos dev`: a server on its embedded PostgreSQL and N local agents, for a first try.

The children are `kairos server` and `kairos agent` processes, each in its own
session (so a Ctrl-C reaches only us and we stop them in order: agents, then the
server) with its output in `DIR/logs/`. A child that dies on its own stops the
rest and ends `kairos dev` with its exit code and the tail of its log.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kairos.v1 import fleet_pb2
from scheduler.cli.client import Client
from scheduler.cli.errors import CliError

SERVER_START_SECONDS = 180.0  # the first start runs initdb and the migrations
AGENTS_ONLINE_SECONDS = 60.0
STOP_GRACE_SECONDS = 20.0
POLL_SECONDS = 0.2


def dev(args: argparse.Namespace) -> int:
    """Run server and agents until Ctrl-C or SIGTERM (exit 0) or until a child dies (exit 1)."""
    data_dir = Path(args.data_dir)
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    address = client_address(args.listen)
    instance_ids = [f"i-local-{k}" for k in range(1, args.agents + 1)]
    ensure_nothing_listens(address)
    children = Children()
    with _stop_on_signals() as stopping:
        try:
            children.start(
                "server",
                ["server", "--data-dir", str(data_dir / "server"), "--listen", args.listen],
                logs / "server.log",
            )
            wait_until_serving(address, children, stopping)
            for number, instance_id in enumerate(instance_ids, start=1):
                children.start(
                    f"agent {instance_id}",
                    [
                        "agent",
                        "--server",
                        address,
                        "--instance-id",
                        instance_id,
                        "--name",
                        f"local-{number}",
                        "--state-dir",
                        str(data_dir / "agents" / instance_id),
                    ],
                    logs / f"{instance_id}.log",
                )
            wait_until_online(address, instance_ids, children, stopping)
            print(banner(address, instance_ids, data_dir), flush=True)
            while not stopping.wait(POLL_SECONDS):
                children.check()
        except StopRequested:
            pass
        finally:
            print("stopping agents and server…", file=sys.stderr, flush=True)
            children.stop_all()
    return 0


def client_address(listen: str) -> str:
    """Where a local client reaches a server listening on `listen` (wildcards → loopback)."""
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        return f"127.0.0.1:{port}"
    return listen


def ensure_nothing_listens(address: str) -> None:
    """Refuse to start when something already answers at `address`.

    gRPC servers share a port (SO_REUSEPORT), so a second server would not fail;
    it would quietly split the traffic with the first one (often a forgotten
    `kairos dev`), and our readiness checks would be answered by that one.
    """
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
            pass
    except OSError:
        return
    raise CliError(
        f"something already listens on {address} (another kairos dev?); "
        "stop it or pick another --listen"
    )


def kairos_command(arguments: list[str]) -> list[str]:
    """The command line running `kairos ARGUMENTS` with this very interpreter."""
    return [sys.executable, "-m", "scheduler.cli", *arguments]


@dataclass
class Child:
    """One supervised process and where its output goes."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path


class Children:
    """The processes `kairos dev` started, stopped in reverse order of start."""

    def __init__(self) -> None:
        self._children: list[Child] = []

    def start(self, name: str, arguments: list[str], log: Path) -> Child:
        """Start `kairos ARGUMENTS` in its own session, output appended to `log`."""
        return self.spawn(name, kairos_command(arguments), log)

    def spawn(self, name: str, command: list[str], log: Path) -> Child:
        """Start any command the same way (the tests use plain ones)."""
        with log.open("ab") as output:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(name, process, log)
        self._children.append(child)
        return child

    def check(self) -> None:
        """Raise `CliError` with the log's tail if any child has exited."""
        for child in self._children:
            code = child.process.poll()
            if code is not None:
                _print_log_tail(child.log)
                raise CliError(f"{child.name} {_how_it_ended(code)} (log: {child.log})")

    def stop_all(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM the agents together, then the server; SIGKILL whatever outlives `grace`."""
        agents = [child for child in self._children if child.name != "server"]
        servers = [child for child in self._children if child.name == "server"]
        for group in (agents, servers):
            _terminate(group, grace)
        self._children.clear()


def wait_until_serving(address: str, children: Children, stopping: threading.Event) -> None:
    """Poll the gRPC health service at `address` until it reports SERVING."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    with grpc.insecure_channel(address) as channel:
        # The health stubs' types declare no methods; the call is checked at run time.
        health: Any = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass  # not listening yet
            _pause(children, stopping, deadline, f"the server at {address} to serve")


def wait_until_online(
    address: str, instance_ids: list[str], children: Children, stopping: threading.Event
) -> None:
    """Poll DescribeAgentStatus until every one of `instance_ids` is online."""
    deadline = time.monotonic() + AGENTS_ONLINE_SECONDS
    request = fleet_pb2.DescribeAgentStatusRequest(instance_ids=instance_ids, max_results=50)
    with Client(address, None) as client:
        while True:
            try:
                reply = client.describe_agent_status(request)
                if sum(agent.online for agent in reply.instances) == len(instance_ids):
                    return
            except CliError:
                pass  # instances unknown until their agents have said hello
            _pause(children, stopping, deadline, f"{len(instance_ids)} agents to come online")


def banner(address: str, instance_ids: list[str], data_dir: Path) -> str:
    """What `kairos dev` prints once everything is up: what runs and what to try."""
    server_flag = "" if address == "127.0.0.1:50051" else f" --server {address}"
    return "\n".join(
        [
            f"Kairos is running: server on {address}, {_agents(len(instance_ids))} online "
            f"({', '.join(instance_ids)}).",
            f"State and logs are in {data_dir}/ (logs/server.log, logs/i-local-1.log, …).",
            "",
            "In another terminal (after `source .venv/bin/activate`), try:",
            f"  kairos instances{server_flag}",
            f"  kairos run{server_flag} -i {','.join(instance_ids)} -- 'hostname; date'",
            f"  kairos results{server_flag} <invoke_id printed by run>",
            f"  kairos run{server_flag} --watch -i {instance_ids[0]} -- "
            "'for n in 1 2 3; do echo $n; sleep 1; done'",
            "",
            "Press Ctrl-C to stop.",
        ]
    )


def _how_it_ended(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited unexpectedly with code {code}"


def _agents(count: int) -> str:
    return f"{count} agent" if count == 1 else f"{count} agents"


class StopRequested(Exception):
    """Ctrl-C or SIGTERM arrived."""


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    # A signal only sets the event; the main loop notices it and stops the children
    # in order, which a KeyboardInterrupt in the middle of a wait could not guarantee.
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _pause(children: Children, stopping: threading.Event, deadline: float, what: str) -> None:
    children.check()
    if stopping.wait(POLL_SECONDS):
        raise StopRequested
    if time.monotonic() > deadline:
        raise CliError(f"gave up waiting for {what}")


def _terminate(children: list[Child], grace: float) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.terminate()
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{child.name} did not stop in {grace:.0f} s; killing it", file=sys.stderr)
            # The whole session: it may have children of its own (PostgreSQL, scripts).
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


def _print_log_tail(log: Path, lines: int = 20) -> None:
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return
    for line in tail:
        print(f"  | {line}", file=sys.stderr)
