"""One `kairos` child process: started in a session of its own, its output in a log file."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


def kairos_command(arguments: Sequence[str]) -> list[str]:
    """The command line running `kairos ARGUMENTS` with this very interpreter."""
    return [sys.executable, "-m", "scheduler.cli", *arguments]


PRIVATE_PORTS_FROM = 20_000
PORT_ATTEMPTS = 200


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now.

    Chosen below the kernel's ephemeral range: a port from that range can be
    taken, between this probe and the server's bind, by any outgoing connection
    of this machine (a restarted replica once lost its port that way).
    """
    low = _ephemeral_low()
    candidates = random.Random().sample(range(PRIVATE_PORTS_FROM, low), k=PORT_ATTEMPTS)
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port below {low} after {PORT_ATTEMPTS} attempts")


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; IANA's 49152 elsewhere)."""
    try:
        low = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
    except OSError:
        return 49_152
    return max(int(low), PRIVATE_PORTS_FROM + PORT_ATTEMPTS)


def client_address(listen: str) -> str:
    """Where a local client reaches a server listening on `listen` (wildcards → loopback)."""
    host, _, port = listen.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):
        return f"127.0.0.1:{port}"
    return listen


class ProcessExited(Exception):
    """A child ended although nobody asked it to: `server exited unexpectedly with code 3`."""

    def __init__(self, process: Process, code: int) -> None:
        super().__init__(f"{process.name} {_how_it_ended(code)} (log: {process.log})")
        self.process = process


@dataclass(eq=False, kw_only=True)
class Process:
    """A child process, started by `start` (again, to restart it), its output in `log`."""

    name: str
    command: list[str]
    log: Path
    address: str = ""
    """Where clients reach a server process (empty for agents)."""
    postgres: Path | None = None
    """The data directory of a server's embedded PostgreSQL, if it runs one."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Variables set for the process on top of the environment it inherits."""
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    stopping: bool = field(default=False, init=False)
    """Asked to end (SIGTERM or SIGKILL from us): its exit is no failure."""

    def start(self) -> None:
        """Start the command in its own session, its output appended to the log.

        Its own session: a Ctrl-C in our terminal reaches only us, and we stop the
        children in order.
        """
        if self.alive():
            raise RuntimeError(f"{self.name} is running already")
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self.popen = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env} if self.env else None,
            )
        self.stopping = False

    def alive(self) -> bool:
        """Started and not ended yet."""
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: the signal that ended it); None while it runs."""
        return None if self.popen is None else self.popen.poll()

    def check(self) -> None:
        """Raise `ProcessExited` if the process ended without being asked to."""
        code = self.returncode
        if code is not None and not self.stopping:
            raise ProcessExited(self, code)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait up to `timeout` seconds; returns the exit code."""
        popen = self._started()
        self.stopping = True
        popen.terminate()
        return popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, like a crash: the process gets no chance to clean up."""
        popen = self._started()
        self.stopping = True
        popen.kill()
        popen.wait()

    def tail(self, lines: int) -> list[str]:
        """The last `lines` lines of the log (none if it cannot be read)."""
        try:
            return self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []

    def _started(self) -> subprocess.Popen[bytes]:
        if self.popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self.popen


def _say(message: str) -> None:
    """Tell the operator, if the terminal is still there: `kairos dev` may be stopping
    because it is gone (a closed window, a `| tee` killed with it), and the children must
    be stopped all the same."""
    with contextlib.suppress(OSError):
        print(message, file=sys.stderr)


def stop(processes: Sequence[Process], grace: float) -> None:
    """SIGTERM the running ones together; SIGKILL the session of any alive after `grace` s."""
    running = [(p, p.popen) for p in processes if p.popen is not None and p.popen.poll() is None]
    for process, popen in running:
        process.stopping = True
        popen.terminate()
    deadline = time.monotonic() + grace
    for process, popen in running:
        try:
            popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _say(f"{process.name} did not stop in {grace:.0f} s; killing it")
            # The whole session: it may have children of its own (PostgreSQL, scripts).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()


def stop_orphaned_postgres(data_dir: Path, grace: float) -> None:
    """Stop the PostgreSQL running in `data_dir` whose server was killed before stopping it.

    The embedded PostgreSQL runs in a session of its own and its server stops it on
    exit; a server that was killed instead leaves it running.
    """
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        # A stale pid file may name a pid some other process has taken since.
        if str(data_dir).encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
    except (OSError, ValueError, IndexError):
        return  # not running (or never started)
    _say(f"stopping the orphaned PostgreSQL {pid}")
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)  # nothing to wait on but the pid going away
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _how_it_ended(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited unexpectedly with code {code}"
