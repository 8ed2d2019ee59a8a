"""The supervisor: watching children while work runs, stops on purpose, restarts, signals."""

import asyncio
import io
import os
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import fleet_pb2
from scheduler.local import ProcessExited, StopRequested, Supervisor, until_online
from tests.cli.cli_harness import ScriptedServer


async def test_supervise_returns_what_the_work_returns(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    supervisor.spawn("agent i-1", ["sleep", "30"], tmp_path / "i-1.log")

    async def work() -> str:
        await asyncio.sleep(0.3)
        return "done"

    assert await supervisor.supervise(work()) == "done"
    supervisor.stop_all()


async def test_a_child_dying_during_work_ends_it(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    supervisor.spawn("server", ["sh", "-c", "sleep 0.2; exit 4"], tmp_path / "server.log")
    work = asyncio.ensure_future(asyncio.sleep(30))
    with pytest.raises(ProcessExited, match=r"^server exited unexpectedly with code 4 \(log: "):
        await supervisor.supervise(work)
    assert work.cancelled()


async def test_children_stopped_on_purpose_are_no_failure(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    killed = supervisor.spawn("agent i-1", ["sleep", "30"], tmp_path / "i-1.log")
    terminated = supervisor.spawn("agent i-2", ["sleep", "30"], tmp_path / "i-2.log")
    killed.kill()
    assert terminated.terminate() == -signal.SIGTERM
    assert killed.returncode == -signal.SIGKILL
    supervisor.check()
    assert await supervisor.supervise(asyncio.sleep(0.3, "fine")) == "fine"


def test_a_name_starts_again_only_once_its_process_has_ended(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path, grace=5)
    first = supervisor.spawn("server", ["sleep", "30"], tmp_path / "server.log")
    with pytest.raises(RuntimeError, match="server is running already"):
        supervisor.spawn("server", ["sleep", "30"], tmp_path / "server.log")
    first.kill()
    second = supervisor.spawn("server", ["sleep", "30"], tmp_path / "server.log")
    assert list(supervisor.processes.values()) == [second]
    supervisor.check()
    supervisor.stop_all()
    assert second.returncode == -signal.SIGTERM


async def test_a_signal_only_requests_a_stop(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    with supervisor.stop_on_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(StopRequested):
            await supervisor.supervise(asyncio.sleep(30))
        await supervisor.until_stopped()  # returns: the stop was requested


async def test_until_online_since_waits_for_a_heartbeat_after_it(api: ScriptedServer) -> None:
    since = datetime.now(UTC)

    def status(heard: datetime) -> fleet_pb2.DescribeAgentStatusResponse:
        when = Timestamp()
        when.FromDatetime(heard)
        return fleet_pb2.DescribeAgentStatusResponse(
            instances=[
                fleet_pb2.AgentStatus(instance_id="i-1", online=True, last_heartbeat_time=when)
            ]
        )

    # Online from the agent's last run, then heard from again after its restart.
    before, after = since - timedelta(seconds=5), since + timedelta(seconds=1)
    api.reply("FleetService/DescribeAgentStatus", status(before), status(before), status(after))
    await until_online(api.address, ["i-1"], within=60, since=since)
    assert len(api.requests("FleetService/DescribeAgentStatus")) == 3


class _GoneTerminal(io.TextIOBase):
    """stderr once the terminal is gone: every write fails."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_children_are_stopped_even_when_the_terminal_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before, the notice printed before a SIGKILL raised, and stop_all gave up there:
    # the slow child and every server after it were left running.
    supervisor = Supervisor(tmp_path, grace=0.2)
    stubborn = supervisor.spawn(
        "agent i-1",
        [sys.executable, "-c", _IGNORES_SIGTERM],
        tmp_path / "agent.log",
    )
    server = supervisor.spawn(
        "server", [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "server.log",
        address="127.0.0.1:1",
    )  # fmt: skip
    ready = tmp_path / "agent.log"
    deadline = time.monotonic() + 10
    while "ready" not in ready.read_text():  # its SIGTERM handler is in place
        assert time.monotonic() < deadline
        time.sleep(0.01)
    monkeypatch.setattr(sys, "stderr", _GoneTerminal())
    supervisor.stop_all()
    assert not stubborn.alive()
    assert not server.alive()


_IGNORES_SIGTERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)
