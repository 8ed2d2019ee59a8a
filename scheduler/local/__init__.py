"""Kairos processes on this machine: `kairos server` and `kairos agent` as supervised children.

`kairos dev`, the end-to-end tests and the invocation benchmark all start their
processes here: each child in its own session with its output in a log file,
readiness waits (the server's health service, the agents online), a graceful
stop in order (agents, then servers) with SIGKILL after a grace, SIGKILL on
purpose for fault tests, and the client stubs they talk to the server through.

    supervisor = Supervisor(logs)
    server = supervisor.start_server("127.0.0.1:7000", data_dir=state / "server")
    await supervisor.supervise(until_serving(server.address, within=60))
    supervisor.start_agent("i-1", server.address, state / "agents" / "i-1")
    await supervisor.supervise(until_online(server.address, ["i-1"], within=60))
    ...
    supervisor.stop_all()
"""

from scheduler.local.processes import (
    Process,
    ProcessExited,
    client_address,
    free_port,
    kairos_command,
)
from scheduler.local.readiness import NotReady, until_online, until_serving
from scheduler.local.stubs import Kairos, Tls, connect
from scheduler.local.supervisor import StopRequested, Supervisor

__all__ = [
    "Kairos",
    "NotReady",
    "Process",
    "ProcessExited",
    "StopRequested",
    "Supervisor",
    "Tls",
    "client_address",
    "connect",
    "free_port",
    "kairos_command",
    "until_online",
    "until_serving",
]
