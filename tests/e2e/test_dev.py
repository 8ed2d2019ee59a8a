"""`kairos dev` as a person runs it: every child stops, whichever way it is stopped."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from scheduler.local import free_port, kairos_command

pytestmark = pytest.mark.e2e

START_SECONDS = 180  # the first start runs initdb and the migrations
STOP_SECONDS = 60


def _children_of(data_dir: Path) -> list[int]:
    """Processes still running with ``data_dir`` on their command line (server, agents, PG)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        if str(data_dir).encode() in command:
            found.append(int(entry.name))
    return found


def _start_dev(data_dir: Path) -> subprocess.Popen[bytes]:
    dev = subprocess.Popen(
        kairos_command(
            [
                "dev",
                "--agents",
                "1",
                "--data-dir",
                str(data_dir),
                "--listen",
                f"127.0.0.1:{free_port()}",
            ]
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert dev.stdout is not None
    # The banner's first line says everything is up; read up to it.
    for line in iter(dev.stdout.readline, b""):
        if line.startswith(b"Kairos is running"):
            return dev
    dev.kill()
    raise AssertionError(f"kairos dev did not start: {dev.stderr.read() if dev.stderr else ''!r}")


@pytest.mark.timeout(START_SECONDS + 2 * STOP_SECONDS)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_every_child_stops_even_when_the_output_pipe_is_gone(
    tmp_path: Path, signum: signal.Signals
) -> None:
    # As `kairos dev 2>&1 | tee log` then Ctrl-C: the pipe's reader dies with the same
    # signal, so the goodbye message cannot be written; the children must stop anyway.
    data_dir = tmp_path / "dev"
    dev = _start_dev(data_dir)
    try:
        assert _children_of(data_dir), "no child found: the test would prove nothing"
        assert dev.stdout is not None and dev.stderr is not None
        dev.stdout.close()
        dev.stderr.close()
        os.kill(dev.pid, signum)
        dev.wait(STOP_SECONDS)
        assert _children_of(data_dir) == []
    finally:
        if dev.poll() is None:
            dev.kill()
        for pid in _children_of(data_dir):
            os.kill(pid, signal.SIGKILL)
