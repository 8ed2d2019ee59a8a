"""Runs one task as a real process: checks, spawn, output capture, timeout and stop.

Each script runs in its own session (so its own process group) with stdin on
/dev/null and stdout+stderr merged into one pipe. A timeout or a stop kills
the whole group, grandchildren included. A script that exits on its own may
leave background processes behind: they are left alone, as with a login shell.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import pwd
import subprocess
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from agent import outcome
from agent.containers.locate import ContainerError, Locator
from agent.machine import LocalMachine, Machine
from agent.namespaces import Namespaces
from agent.process import kill_group, process_start_time
from agent.switch_user import as_user
from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.codes import ExecutionErrorCode
from scheduler.domain.output import STORED_BYTES, HeadTail

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3600  # seconds, when a task carries none (SPEC §3)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CHUNK_BYTES = 16 * 1024  # largest ExecutionOutput message
CHUNK_INTERVAL = 0.05  # seconds between two output messages: at most 20 a second
# The first messages of a run, as many as the stored head takes, go without a pause: a
# burst does not hold back the line printed after it by a pause per head chunk.
UNPACED_CHUNKS = -(-STORED_BYTES // CHUNK_BYTES)
# Live output more than this far behind the script skips ahead to its latest bytes
# (the stored head excepted): a watcher sees what the script prints now, not what it
# printed a minute ago, and the server announces the skip as a gap.
LIVE_BACKLOG = 2 * CHUNK_BYTES
# After the script exits, how long its output pipe may stay open (held by a
# background process) before the agent stops reading it.
DRAIN_GRACE = 1.0
# Output kept in the spool file at most: enough for the head and tail after a
# crash, bounded so that a chatty script cannot fill the disk. Output beyond it
# still counts in the result (head, tail, dropped) but is neither spooled nor
# streamed live.
SPOOL_BYTES = 16 * 1024 * 1024
_READ_BYTES = 64 * 1024


class RunEvents(Protocol):
    """Receives what happens while a script runs."""

    def started(self, pgid: int, process_start: int, start_time: datetime) -> None:
        """The script's process group exists; called before any output."""

    def output(self, offset: int, data: bytes) -> None:
        """Live output, ``CHUNK_BYTES`` each, paced to at most 20 calls a second after the
        first ``UNPACED_CHUNKS``; past the stored head, it skips ahead when it falls
        ``LIVE_BACKLOG`` behind the script."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Plan:
    """A task that passed its checks: who runs it, where, with which environment."""

    task: agent_pb2.Task
    user: pwd.struct_passwd
    switch_user: bool  # the agent (root) must become another user
    working_dir: str
    env: Mapping[str, str]
    # Where the script runs: the agent's own namespaces (None), or a container's or
    # the node's. Inside them the working directory and the user are the target's.
    namespaces: Namespaces | None = None
    # The user's supplementary groups when the agent switches to it, from the same
    # user database as ``user`` (the node's in host mode).
    groups: tuple[int, ...] = ()

    @property
    def in_container(self) -> bool:
        """The task names a container: ``Runner.enter_container`` must find it first."""
        return _names_container(self.task)


class Runner:
    """Checks and runs tasks as processes of a machine: the agent's own, or the node's
    in host mode (``machine``)."""

    def __init__(
        self,
        scripts_dir: Path,
        *,
        shell: str | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        machine: Machine | None = None,
        containers: Locator | None = None,
    ) -> None:
        self._scripts_dir = scripts_dir
        self._machine = machine or LocalMachine()
        self._containers = containers or Locator.of_sockets()
        self._shell = shell or ("/bin/bash" if os.access("/bin/bash", os.X_OK) else "/bin/sh")
        self._environ = dict(os.environ if environ is None else environ)
        self._clock = clock
        self._uid = os.geteuid()

    @property
    def machine(self) -> Machine:
        """Where tasks run: the agent's own machine, or the node in host mode."""
        return self._machine

    def prepare(self, task: agent_pb2.Task) -> Plan | agent_pb2.ExecutionResult:
        """Check that ``task`` can run here; return its plan, or the ``Invalid`` result."""

        def invalid(error: ExecutionErrorCode, info: str) -> agent_pb2.ExecutionResult:
            return outcome.not_run(
                task.execution_id, common_pb2.INVOCATION_STATUS_INVALID, error, info, self._clock()
            )

        if task.type not in (
            common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            common_pb2.COMMAND_TYPE_UNSPECIFIED,
        ):
            kind = common_pb2.CommandType.Name(task.type)
            return invalid(
                ExecutionErrorCode.INVALID_COMMAND_TYPE,
                f"{kind} cannot run on a Linux instance; use COMMAND_TYPE_RUN_SHELL_SCRIPT",
            )
        if _names_container(task):
            # username and working_dir do not apply inside a container (Cloud Assistant's
            # rule, scheduler/domain/containers.py): its root, in its root directory. The
            # container itself is found by enter_container, which may wait on its runtime.
            own = self._own_account()
            return Plan(
                task=task, user=own, switch_user=False, working_dir="/", env=self._script_env(own)
            )
        machine = self._machine
        if task.username:
            named = machine.user_named(task.username)
            if named is None:
                return invalid(
                    ExecutionErrorCode.ACCOUNT_NOT_EXISTS,
                    f"user {task.username!r} does not exist",
                )
            user = named
        else:
            user = machine.user_with_id(self._uid) or self._own_account()
        switch_user = user.pw_uid != self._uid
        if switch_user and self._uid != 0:
            agent_user = self._own_account().pw_name
            return invalid(
                ExecutionErrorCode.USER_NOT_PERMITTED,
                f"cannot run as {user.pw_name!r}: the agent runs as {agent_user!r}, not root",
            )
        if task.working_dir:
            working_dir = os.path.join(user.pw_dir, task.working_dir)
            if not machine.is_dir(working_dir):
                return invalid(
                    ExecutionErrorCode.DIRECTORY_NOT_EXISTS,
                    f"working directory {task.working_dir!r} does not exist",
                )
        else:
            # The home of a system user often does not exist: run from / then.
            working_dir = user.pw_dir if machine.is_dir(user.pw_dir) else "/"
        return Plan(
            task=task,
            user=user,
            switch_user=switch_user,
            working_dir=working_dir,
            env=self._script_env(user),
            namespaces=machine.namespaces,
            groups=tuple(machine.groups_of(user)) if switch_user else (),
        )

    async def enter_container(self, plan: Plan) -> Plan | agent_pb2.ExecutionResult:
        """Aim a plan whose task names a container at that container's namespaces; or
        return the ``Invalid`` result that says why it cannot be entered."""
        task = plan.task
        try:
            entered = await self._containers.enter(task.container_id, task.container_name)
        except ContainerError as error:
            return outcome.not_run(
                task.execution_id,
                common_pb2.INVOCATION_STATUS_INVALID,
                error.code,
                error.info,
                self._clock(),
            )
        return dataclasses.replace(
            plan, namespaces=entered.namespaces, env=self._container_env(entered.environ)
        )

    async def run(
        self, plan: Plan, output_path: Path, events: RunEvents, stop: asyncio.Event
    ) -> agent_pb2.ExecutionResult:
        """Run a prepared task to its end and return its result.

        Output is written to ``output_path`` as it arrives. Setting ``stop``
        kills the process group and ends the run ``Terminated``.
        """
        task = plan.task
        timeout = task.timeout if task.timeout > 0 else DEFAULT_TIMEOUT
        script = self._write_script(plan)
        try:
            return await self._spawn_and_wait(plan, script, timeout, output_path, events, stop)
        finally:
            script.unlink(missing_ok=True)

    async def _spawn_and_wait(
        self,
        plan: Plan,
        script: Path,
        time_limit: int,
        output_path: Path,
        events: RunEvents,
        stop: asyncio.Event,
    ) -> agent_pb2.ExecutionResult:
        execution_id = plan.task.execution_id
        read_fd, write_fd = os.pipe()
        script_fd = os.open(script, os.O_RDONLY)
        # Through the agent's open descriptor, the target user needs no access to
        # the (private) state directory holding the file, and it crosses namespaces.
        script_path = f"/dev/fd/{script_fd}"
        user = plan.user if plan.switch_user else None
        try:
            if plan.namespaces is None:
                argv, cwd = [self._shell, script_path], plan.working_dir
                if user is not None:
                    argv = as_user(argv, gid=user.pw_gid, groups=plan.groups, uid=user.pw_uid)
            else:
                argv = plan.namespaces.command(
                    script_path,
                    working_dir=plan.working_dir,
                    uid=None if user is None else user.pw_uid,
                    gid=None if user is None else user.pw_gid,
                    groups=plan.groups,
                )
                cwd = "/"
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                cwd=cwd,
                env=dict(plan.env),
                start_new_session=True,
                pass_fds=(script_fd,),
            )
        except (OSError, subprocess.SubprocessError) as error:
            os.close(read_fd)
            return outcome.not_run(
                execution_id,
                common_pb2.INVOCATION_STATUS_ERROR,
                ExecutionErrorCode.EXECUTION_EXCEPTION,
                f"the script could not be started: {error}",
                self._clock(),
            )
        finally:
            os.close(write_fd)
            os.close(script_fd)
        start = self._clock()
        try:
            events.started(process.pid, process_start_time(process.pid) or 0, start)
            capture = _Capture(read_fd, output_path, events)
        except Exception:
            # Nothing would time it out or stop it: the script goes with the failure
            # (its record could not be written: a full disk, no descriptor left).
            kill_group(process.pid)
            await process.wait()
            os.close(read_fd)
            raise
        try:
            returncode, timed_out, stopped = await _wait(process, time_limit, stop)
            await capture.finish()
        finally:
            capture.close()
        output, dropped = capture.buffer.result()
        return outcome.finished(
            execution_id,
            returncode,
            timed_out=timed_out,
            stopped=stopped,
            timeout=time_limit,
            output=output,
            dropped=dropped,
            start=start,
            finish=self._clock(),
        )

    def _write_script(self, plan: Plan) -> Path:
        path = self._scripts_dir / f"{uuid.uuid4().hex}.sh"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
        with os.fdopen(descriptor, "wb") as file:
            file.write(plan.task.script)
            if plan.switch_user:
                os.fchown(file.fileno(), plan.user.pw_uid, plan.user.pw_gid)
        return path

    def _container_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        # The container's own environment, as its root: none of the agent's.
        env = dict(environ)
        for name, value in (("HOME", "/root"), ("USER", "root"), ("LOGNAME", "root")):
            env.setdefault(name, value)
        env.setdefault("PATH", DEFAULT_PATH)
        return env

    def _own_account(self) -> pwd.struct_passwd:
        """The account the agent runs as. When the name service has no entry for its uid
        (a container run with an arbitrary uid, as OpenShift does), one named by the
        number, at home in the agent's $HOME (or /): its scripts still run, as the agent."""
        try:
            return pwd.getpwuid(self._uid)
        except KeyError:
            home = self._environ.get("HOME") or "/"
            return pwd.struct_passwd(
                (str(self._uid), "x", self._uid, os.getegid(), "", home, self._shell)
            )

    def _script_env(self, user: pwd.struct_passwd) -> dict[str, str]:
        # The agent's own settings (its token above all) are not the script's business.
        env = {k: v for k, v in self._environ.items() if not k.startswith("KAIROS_")}
        env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
        env.setdefault("PATH", DEFAULT_PATH)
        return env


def _names_container(task: agent_pb2.Task) -> bool:
    return bool(task.container_id or task.container_name)


async def _wait(
    process: asyncio.subprocess.Process, time_limit: int, stop: asyncio.Event
) -> tuple[int, bool, bool]:
    """Wait for the script's exit, its timeout or a stop.

    Return ``(returncode, timed_out, stopped)``.
    """
    exited = asyncio.ensure_future(process.wait())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({exited, stopping}, timeout=time_limit, return_when="FIRST_COMPLETED")
        if exited.done():
            return exited.result(), False, False
        # Which came first, as it stands now: a stop arriving while the killed script is
        # reaped does not make a timeout a stop.
        stopped = stopping.done()
        kill_group(process.pid)
        returncode = await exited
        return returncode, not stopped, stopped
    finally:
        stopping.cancel()
        if not exited.done():
            # Cancelled from outside (the agent is shutting down): leave no orphans.
            kill_group(process.pid)
            exited.cancel()


class _Capture:
    """Reads the script's output pipe into the spool file, the stored output and live chunks."""

    def __init__(self, read_fd: int, output_path: Path, events: RunEvents) -> None:
        self.buffer = HeadTail()
        self._read_fd = read_fd
        os.set_blocking(read_fd, False)
        self._file = open(output_path, "wb")  # noqa: SIM115 - closed in close()
        self._reread = os.open(output_path, os.O_RDONLY)
        self._events = events
        self._written = 0
        self._spool_failed = False
        self._sent = 0
        self._unpaced = UNPACED_CHUNKS
        self._arrived = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())
        self._streamer = asyncio.ensure_future(self._stream())

    async def finish(self) -> None:
        """After the script exited: read what is left, then send a last small chunk."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._reader), DRAIN_GRACE)
        self._reader.cancel()
        self._streamer.cancel()
        # Live output stops with the script; the result carries the stored
        # output. A short remainder is still sent so small outputs stream whole.
        remaining = self._written - self._sent
        if 0 < remaining <= CHUNK_BYTES:
            self._events.output(self._sent, os.pread(self._reread, remaining, self._sent))
            self._sent += remaining

    def close(self) -> None:
        """Stop reading and release the descriptors."""
        self._reader.cancel()
        self._streamer.cancel()
        self._file.close()
        os.close(self._reread)
        with contextlib.suppress(OSError):
            os.close(self._read_fd)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(self._read_fd, readable.set)
        try:
            while True:
                await readable.wait()
                readable.clear()
                try:
                    data = os.read(self._read_fd, _READ_BYTES)
                except BlockingIOError:
                    continue
                if not data:
                    return
                self.buffer.feed(data)
                spooled = data[: SPOOL_BYTES - self._written]
                if spooled and not self._spool_failed:
                    self._spool(spooled)
        finally:
            loop.remove_reader(self._read_fd)

    def _spool(self, data: bytes) -> None:
        try:
            self._file.write(data)
            # Flushed at once: the file is what survives an agent crash.
            self._file.flush()
        except OSError as error:
            # A full disk: the output is still read (the script must not block on its
            # pipe) and kept in the result's head and tail; only spooling stops.
            log.warning("output of a running script no longer spooled: %s", error)
            self._spool_failed = True
            return
        self._written += len(data)
        self._arrived.set()

    async def _stream(self) -> None:
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            while self._sent < self._written:
                if self._sent >= STORED_BYTES and self._written - self._sent > LIVE_BACKLOG:
                    self._sent = self._written - CHUNK_BYTES
                size = min(CHUNK_BYTES, self._written - self._sent)
                self._events.output(self._sent, os.pread(self._reread, size, self._sent))
                self._sent += size
                if self._unpaced:
                    self._unpaced -= 1
                else:
                    await asyncio.sleep(CHUNK_INTERVAL)
