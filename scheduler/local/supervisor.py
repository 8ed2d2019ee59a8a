"""The children of one run (`kairos dev`, an end-to-end test, a benchmark), watched, stopped."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from scheduler.local.processes import (
    Process,
    client_address,
    kairos_command,
    stop,
    stop_orphaned_postgres,
)

T = TypeVar("T")

STOP_GRACE_SECONDS = 20.0
WATCH_SECONDS = 0.2  # how often `supervise` looks at the processes and for a stop request


class StopRequested(Exception):
    """Ctrl-C, SIGTERM or SIGHUP arrived (see `Supervisor.stop_on_signals`)."""


class Supervisor:
    """Processes by name, their logs in one directory; stopped agents first, then servers."""

    def __init__(self, logs: Path, *, grace: float = STOP_GRACE_SECONDS) -> None:
        self.logs = logs
        self.grace = grace
        self.processes: dict[str, Process] = {}
        self.stop_requested = False

    def start_server(
        self,
        listen: str,
        *,
        name: str = "server",
        data_dir: Path | None = None,
        database_url: str | None = None,
        flags: Sequence[str] = (),
    ) -> Process:
        """Start `kairos server` on `listen`, on `database_url` or its embedded PostgreSQL.

        The embedded PostgreSQL lives in `data_dir` (the server's default without
        it). The log is `LOGS/NAME.log`; `Process.address` is where to reach it.
        """
        arguments = ["server", "--listen", listen]
        postgres = None
        if database_url is not None:
            arguments += ["--database-url", database_url]
        if data_dir is not None:
            arguments += ["--data-dir", str(data_dir)]
            if database_url is None:
                postgres = data_dir / "postgres"  # where the server keeps it (server/app.py)
        return self.spawn(
            name,
            kairos_command([*arguments, *flags]),
            self.logs / f"{name}.log",
            address=client_address(listen),
            postgres=postgres,
        )

    def start_agent(
        self,
        instance_id: str,
        server: str,
        state_dir: Path,
        *,
        flags: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> Process:
        """Start `kairos agent` for `instance_id`, connecting to `server`, as `agent ID`.

        `env`: variables added to the agent's environment. The log is `LOGS/ID.log`.
        """
        arguments = [
            "agent",
            "--server",
            server,
            "--instance-id",
            instance_id,
            "--state-dir",
            str(state_dir),
            *flags,
        ]
        return self.spawn(
            f"agent {instance_id}",
            kairos_command(arguments),
            self.logs / f"{instance_id}.log",
            env=env or {},
        )

    def spawn(
        self,
        name: str,
        command: list[str],
        log: Path,
        *,
        address: str = "",
        postgres: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Process:
        """Start any command as process `name`, replacing an ended one of that name."""
        previous = self.processes.get(name)
        if previous is not None and previous.alive():
            raise RuntimeError(f"{name} is running already")
        process = Process(
            name=name, command=command, log=log, address=address, postgres=postgres, env=env or {}
        )
        process.start()
        self.processes[name] = process
        return process

    def check(self) -> None:
        """Raise `ProcessExited` if any process ended without being asked to."""
        for process in self.processes.values():
            process.check()

    async def supervise(self, work: Awaitable[T]) -> T:
        """Await `work` while watching the processes, and return its result.

        Raises `ProcessExited` as soon as a process ends on its own and
        `StopRequested` once a stop is requested; either way `work` is cancelled.
        """
        task = asyncio.ensure_future(work)
        try:
            while True:
                await asyncio.wait([task], timeout=WATCH_SECONDS)
                if task.done():
                    return task.result()
                if self.stop_requested:
                    raise StopRequested
                self.check()
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait([task])

    async def until_stopped(self) -> None:
        """Watch the processes until a stop is requested; raises `ProcessExited` if one ends."""
        with contextlib.suppress(StopRequested):
            # A future nobody completes: only a stop or a dead process ends the watch.
            await self.supervise(asyncio.get_running_loop().create_future())

    @contextlib.contextmanager
    def stop_on_signals(self) -> Iterator[None]:
        """Within: SIGINT, SIGTERM and SIGHUP request a stop; `supervise` raises `StopRequested`.

        Nothing is interrupted halfway, so the processes are stopped in order, and
        a second Ctrl-C cannot cut `stop_all` short. Needs a running event loop.
        """
        loop = asyncio.get_running_loop()
        # SIGHUP: the terminal went away; the children must not outlive it.
        signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        for signum in signals:
            loop.add_signal_handler(signum, self.request_stop)
        try:
            yield
        finally:
            for signum in signals:
                loop.remove_signal_handler(signum)

    def request_stop(self) -> None:
        """Make `supervise` raise `StopRequested` (and `until_stopped` return)."""
        self.stop_requested = True

    def stop_all(self) -> None:
        """SIGTERM the agents together, then the servers; SIGKILL whatever outlives the grace.

        A server killed that way leaves its embedded PostgreSQL running: it is stopped too.
        """
        servers = [p for p in self.processes.values() if p.address]
        stop([p for p in self.processes.values() if not p.address], self.grace)
        stop(servers, self.grace)
        for server in servers:
            if server.postgres is not None:
                stop_orphaned_postgres(server.postgres, self.grace)
