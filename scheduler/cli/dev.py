"""`kairos dev`: a server on its embedded PostgreSQL and N local agents, for a first try.

The children are `kairos server` and `kairos agent` processes supervised by
`scheduler.local`, each in its own session (so a Ctrl-C reaches only us and we
stop them in order: agents, then the server) with its output in `DIR/logs/`. A
child that dies on its own stops the rest and ends `kairos dev` with its exit
code and the tail of its log.
"""

import argparse
import asyncio
import contextlib
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scheduler.cli.errors import CliError
from scheduler.local import (
    NotReady,
    ProcessExited,
    StopRequested,
    Supervisor,
    client_address,
    until_online,
    until_serving,
)

SERVER_START_SECONDS = 180.0  # the first start runs initdb and the migrations
AGENTS_ONLINE_SECONDS = 60.0
LOG_TAIL_LINES = 20


def dev(args: argparse.Namespace) -> int:
    """Run server and agents until Ctrl-C, SIGTERM or SIGHUP (exit 0) or a child dies (exit 1)."""
    asyncio.run(_run(args.listen, args.agents, Path(args.data_dir)))
    return 0


async def _run(listen: str, agents: int, data_dir: Path) -> None:
    address = client_address(listen)
    instance_ids = [f"i-local-{k}" for k in range(1, agents + 1)]
    ensure_writable(data_dir)
    ensure_nothing_listens(address)
    supervisor = Supervisor(data_dir / "logs")
    with supervisor.stop_on_signals():
        try:
            with cli_errors():
                supervisor.start_server(listen, data_dir=data_dir / "server")
                await supervisor.supervise(until_serving(address, SERVER_START_SECONDS))
                for number, instance_id in enumerate(instance_ids, start=1):
                    supervisor.start_agent(
                        instance_id,
                        address,
                        data_dir / "agents" / instance_id,
                        flags=["--name", f"local-{number}"],
                    )
                await supervisor.supervise(
                    until_online(address, instance_ids, AGENTS_ONLINE_SECONDS)
                )
                print(banner(address, instance_ids, data_dir), flush=True)
                await supervisor.until_stopped()
        except StopRequested:
            pass
        finally:
            # The terminal or the pipe may be gone (`kairos dev | tee log`, then Ctrl-C
            # kills tee too): saying goodbye must not keep the children alive.
            with contextlib.suppress(OSError):
                print("stopping agents and server…", file=sys.stderr, flush=True)
            supervisor.stop_all()


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


def ensure_writable(data_dir: Path) -> None:
    """Make `data_dir` and its logs/ and write a file there, or say why not (exit 1).

    The children's logs are the first files written there; without this check the
    supervisor's mkdir or open ends `kairos dev` with a traceback.
    """
    try:
        logs = data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=logs).close()
    except OSError as error:
        raise CliError(f"--data-dir {data_dir}: cannot write in it ({error.strerror})") from None


@contextmanager
def cli_errors() -> Iterator[None]:
    """Supervision failures as `kairos dev` reports them: a dead child's log tail, one line."""
    try:
        yield
    except ProcessExited as exited:
        for line in exited.process.tail(LOG_TAIL_LINES):
            print(f"  | {line}", file=sys.stderr)
        raise CliError(str(exited)) from None
    except NotReady as gave_up:
        raise CliError(str(gave_up)) from None


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


def _agents(count: int) -> str:
    return f"{count} agent" if count == 1 else f"{count} agents"
