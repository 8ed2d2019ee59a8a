"""`kairos dev`'s parts: child supervision, readiness waits, the banner.

The supervision and the waits are `scheduler.local`'s; these tests hold them to
what `kairos dev` needs of them. `tests/local/` covers the rest of that package.
"""

import asyncio
import signal
import socket
import sys
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from kairos.v1 import fleet_pb2
from scheduler.cli.dev import banner, cli_errors, ensure_nothing_listens
from scheduler.cli.errors import CliError
from scheduler.local import (
    NotReady,
    StopRequested,
    Supervisor,
    client_address,
    free_port,
    kairos_command,
    until_online,
    until_serving,
)

from .cli_harness import ScriptedServer, kairos


def test_children_stop_agents_then_server(tmp_path: Path) -> None:
    children = Supervisor(tmp_path, grace=5)
    server = children.spawn("server", ["sleep", "30"], tmp_path / "server.log")
    agent = children.spawn("agent i-local-1", ["sleep", "30"], tmp_path / "agent.log")
    children.check()
    children.stop_all()
    assert server.returncode == agent.returncode == -signal.SIGTERM


def test_a_child_that_dies_is_reported_with_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    children = Supervisor(tmp_path)
    child = children.spawn(
        "server", ["sh", "-c", "echo port already in use; exit 3"], tmp_path / "server.log"
    )
    assert child.popen is not None
    child.popen.wait()
    with (
        pytest.raises(CliError, match=r"server exited unexpectedly with code 3 \(log: .*\)"),
        cli_errors(),
    ):
        children.check()
    assert "  | port already in use" in capsys.readouterr().err
    children.stop_all()


def test_a_child_ignoring_sigterm_is_killed_after_the_grace(tmp_path: Path) -> None:
    children = Supervisor(tmp_path, grace=0.5)
    ready = tmp_path / "ready"
    child = children.spawn(
        "agent i-local-1",
        ["sh", "-c", f"trap '' TERM; touch {ready}; sleep 30"],
        tmp_path / "agent.log",
    )
    while not ready.exists():  # the trap must be in place before we signal
        assert child.alive()
        threading.Event().wait(0.01)
    children.stop_all()
    assert child.returncode == -signal.SIGKILL


async def test_wait_until_serving_returns_once_health_says_serving() -> None:
    servicer = health.aio.HealthServicer()
    await servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    server = grpc.aio.server()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        waiting = asyncio.create_task(until_serving(f"127.0.0.1:{port}", within=60))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        await asyncio.wait_for(waiting, timeout=10)
    finally:
        await server.stop(None)


async def test_wait_until_serving_stops_when_asked(tmp_path: Path) -> None:
    children = Supervisor(tmp_path)
    children.request_stop()
    with pytest.raises(StopRequested):
        await children.supervise(until_serving("127.0.0.1:1", within=60))


async def test_wait_until_online_waits_for_every_agent(api: ScriptedServer) -> None:
    def status(online: bool) -> fleet_pb2.DescribeAgentStatusResponse:
        return fleet_pb2.DescribeAgentStatusResponse(
            instances=[
                fleet_pb2.AgentStatus(instance_id="i-local-1", online=True),
                fleet_pb2.AgentStatus(instance_id="i-local-2", online=online),
            ]
        )

    api.reply("FleetService/DescribeAgentStatus", status(False), status(False), status(True))
    ids = ["i-local-1", "i-local-2"]
    await until_online(api.address, ids, within=60)
    requests = api.requests("FleetService/DescribeAgentStatus")
    assert len(requests) == 3
    assert list(requests[0].instance_ids) == ids


def test_a_wait_that_gives_up_is_one_error_line() -> None:
    with (
        pytest.raises(CliError, match=r"^gave up waiting for 3 agents to come online$"),
        cli_errors(),
    ):
        raise NotReady("gave up waiting for 3 agents to come online")


def test_client_address_turns_wildcards_into_loopback() -> None:
    assert client_address("0.0.0.0:7000") == "127.0.0.1:7000"
    assert client_address("[::]:7000") == "127.0.0.1:7000"
    assert client_address("10.0.0.5:7000") == "10.0.0.5:7000"


def test_children_run_this_interpreter() -> None:
    assert kairos_command(["agent", "--name", "x"]) == [
        sys.executable,
        "-m",
        "scheduler.cli",
        "agent",
        "--name",
        "x",
    ]


def test_banner_has_copy_pasteable_commands() -> None:
    text = banner("127.0.0.1:50051", ["i-local-1", "i-local-2"], Path(".kairos/dev"))
    assert "  kairos instances\n" in text
    assert "  kairos run -i i-local-1,i-local-2 -- 'hostname; date'\n" in text
    other = banner("127.0.0.1:6000", ["i-local-1"], Path("d"))
    assert "  kairos instances --server 127.0.0.1:6000\n" in other


def test_dev_refuses_an_address_already_in_use() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(CliError, match=f"something already listens on {address}"):
            ensure_nothing_listens(address)
    ensure_nothing_listens(address)  # closed now: fine


async def test_dev_refuses_a_data_dir_it_cannot_write(tmp_path: Path) -> None:
    # Its parent is a regular file (an unwritable directory fails alike, for users other
    # than root). Before, a NotADirectoryError traceback from the supervisor's mkdir.
    (tmp_path / "file").touch()
    data_dir = tmp_path / "file" / "dev"
    outcome = await kairos(
        "dev", "--agents", "1", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(data_dir)
    )
    assert (outcome.code, outcome.out, outcome.err) == (
        1,
        "",
        f"error: --data-dir {data_dir}: cannot write in it (Not a directory)\n",
    )
