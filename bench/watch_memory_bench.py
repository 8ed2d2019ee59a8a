"""Server memory while watchers never read and 50 MB of output flows (issue 9).

Run from the repository root:

    .venv/bin/python -m bench.watch_memory_bench [--megabytes 50] [--watchers 3]

Everything is real: a ``kairos server`` process on its embedded PostgreSQL (in a
fresh directory under /tmp) and an agent played over a raw ``AgentService.Connect``
stream, which registers ``i-bench``, takes two one-time runs and streams output
for one of them in 16 KiB messages (as a real agent does) as fast as the server
takes it, then reports its result. Each scenario runs on a freshly started
server process (the same database):

* baseline: no watcher;
* idle watchers elsewhere: ``--watchers`` WatchInvocation streams on the *other*
  run, which never read a message (the issue's case);
* idle watchers on it: the same, on the run whose output flows (the worst case:
  every live notice is theirs).

After 2 MB of warm-up output (the server's first output allocates its statements,
pools and buffers), growth is the server's peak resident memory (``VmHWM`` of
/proc/PID/status) during the flow minus its resident memory (``VmRSS``) just before; each scenario
is printed against the baseline, as a ratio and in MB. The target: growth under
20 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import agent_pb2, agent_pb2_grpc, common_pb2, invocation_pb2
from scheduler.local import Kairos, Process, Supervisor, connect, free_port, until_serving

SERVER_START_SECONDS = 120.0  # the first start of the embedded PostgreSQL runs initdb
MESSAGE_BYTES = 16 * 1024  # agent/runner.py CHUNK_BYTES
MESSAGE_SECONDS = 30.0
TARGET_MB = 20.0
INSTANCE = "i-bench"
CHUNK = b"0123456789abcde\n" * (MESSAGE_BYTES // 16)
WARMUP_BYTES = 2 * 1024 * 1024
BARRIER = agent_pb2.ExecutionResult(execution_id="e-barrier")
"""A result for no execution: acknowledged once everything sent before it is handled."""


@dataclass(frozen=True)
class Growth:
    """The server's memory around one flow, in MB."""

    before: float
    peak: float
    after: float
    seconds: float

    @property
    def growth(self) -> float:
        return self.peak - self.before


def memory_mb(pid: int, field: str) -> float:
    """``VmRSS`` or ``VmHWM`` of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} for process {pid}")


class RawAgent:
    """The agent's side of one real AgentService stream, driven by the benchmark."""

    def __init__(self, address: str) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._outbox: asyncio.Queue[agent_pb2.AgentMessage | None] = asyncio.Queue(maxsize=8)
        self._call = agent_pb2_grpc.AgentServiceStub(self._channel).Connect(self._requests())

    async def _requests(self) -> AsyncIterator[agent_pb2.AgentMessage]:
        while (message := await self._outbox.get()) is not None:
            yield message

    async def send(self, message: agent_pb2.AgentMessage) -> None:
        await self._outbox.put(message)  # bounded: sends as fast as gRPC takes them

    async def receive(self, kind: str) -> agent_pb2.DispatcherMessage:
        while True:
            message = await asyncio.wait_for(self._call.read(), MESSAGE_SECONDS)
            if message is grpc.aio.EOF:
                raise RuntimeError("the server closed the agent stream")
            if message.WhichOneof("kind") == kind:
                return message  # type: ignore[no-any-return]

    async def close(self) -> None:
        await self._outbox.put(None)
        await self._channel.close()


async def flow(server: Process, megabytes: int, watchers: int, on_flowing: bool) -> Growth:
    """One scenario on a started server: the watchers open, then the output flows."""
    kairos = connect(server.address)
    agent = RawAgent(server.address)
    try:
        hello = agent_pb2.Hello(
            instance_id=INSTANCE, instance_name=INSTANCE, agent_version="bench", boot_id="b"
        )
        await agent.send(agent_pb2.AgentMessage(hello=hello))
        await agent.receive("welcome")
        quiet, flowing = [await _run(kairos) for _ in range(2)]
        # Runs of an earlier scenario (same database) come again: wait for this one's.
        while (await agent.receive("task")).task.invoke_id != flowing:
            pass
        execution = await _started(kairos, agent, flowing)
        async with _idle_watches(kairos, flowing if on_flowing else quiet, watchers):
            # A little output first, so that what is measured is the flow, not the
            # allocations of the server's first output (statements, pools, buffers).
            await _stream(agent, execution, 0, WARMUP_BYTES)
            await agent.send(agent_pb2.AgentMessage(result=BARRIER))
            await agent.receive("result_ack")  # everything before it has been handled
            pid = server.popen.pid if server.popen else 0
            before = memory_mb(pid, "VmRSS")
            began = time.monotonic()
            total = WARMUP_BYTES + megabytes * 1024 * 1024
            await _stream(agent, execution, WARMUP_BYTES, total)
            await agent.send(
                agent_pb2.AgentMessage(
                    result=agent_pb2.ExecutionResult(
                        execution_id=execution,
                        status=common_pb2.INVOCATION_STATUS_SUCCESS,
                        output=CHUNK,
                        dropped=total - len(CHUNK),
                    )
                )
            )
            await agent.receive("result_ack")
            seconds = time.monotonic() - began
            return Growth(
                before=before,
                peak=memory_mb(pid, "VmHWM"),
                after=memory_mb(pid, "VmRSS"),
                seconds=seconds,
            )
    finally:
        await agent.close()
        await kairos.channel.close()


async def _stream(agent: RawAgent, execution: str, start: int, end: int) -> None:
    """Output from byte ``start`` to ``end``, in messages as a real agent sends them."""
    for offset in range(start, end, len(CHUNK)):
        output = agent_pb2.ExecutionOutput(execution_id=execution, offset=offset, data=CHUNK)
        await agent.send(agent_pb2.AgentMessage(output=output))


async def _run(kairos: Kairos) -> str:
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="cat /dev/urandom",
            instance_ids=[INSTANCE],
        )
    )
    return str(response.invoke_id)


async def _started(kairos: Kairos, agent: RawAgent, invoke_id: str) -> str:
    results = await kairos.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=invoke_id)
    )
    execution = str(results.results[0].execution_id)
    now = Timestamp()
    now.GetCurrentTime()
    await agent.send(agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=execution)))
    started = agent_pb2.ExecutionStarted(execution_id=execution, start_time=now)
    await agent.send(agent_pb2.AgentMessage(started=started))
    return execution


@contextlib.asynccontextmanager
async def _idle_watches(kairos: Kairos, invoke_id: str, count: int) -> AsyncIterator[None]:
    """``count`` watches of the invocation that never read a message."""
    request = invocation_pb2.WatchInvocationRequest(invoke_id=invoke_id)
    calls = [kairos.invocations.WatchInvocation(request) for _ in range(count)]
    for call in calls:
        await call.initial_metadata()  # the server serves it (headers only, no message read)
    try:
        yield
    finally:
        for call in calls:
            call.cancel()


async def scenario(
    supervisor: Supervisor, root: Path, megabytes: int, watchers: int, on_flowing: bool
) -> Growth:
    """Start a fresh server process on the benchmark's database, run one flow, stop it."""
    server = supervisor.start_server(
        f"127.0.0.1:{free_port()}", data_dir=root / "server", flags=["--log-level", "WARNING"]
    )
    try:
        await until_serving(server.address, SERVER_START_SECONDS)
        return await supervisor.supervise(flow(server, megabytes, watchers, on_flowing))
    finally:
        supervisor.stop_all()
        supervisor.processes.clear()


async def bench(args: argparse.Namespace, root: Path) -> list[tuple[str, Growth]]:
    supervisor = Supervisor(root / "logs")
    with supervisor.stop_on_signals():
        runs = []
        for name, watchers, on_flowing in (
            ("baseline: no watcher", 0, False),
            (f"{args.watchers} idle watchers, other invocation", args.watchers, False),
            (f"{args.watchers} idle watchers, same invocation", args.watchers, True),
        ):
            runs.append(
                (name, await scenario(supervisor, root, args.megabytes, watchers, on_flowing))
            )
            print(f"  {name}: done", file=sys.stderr, flush=True)
        return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=50, help="output that flows (MB)")
    parser.add_argument("--watchers", type=int, default=3, help="idle watchers")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="kairos-bench-", dir="/tmp"))
    try:
        runs = asyncio.run(bench(args, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = runs[0][1]
    print(f"server memory while {args.megabytes} MB of output flows (MB; growth = peak - before)")
    print(
        f"{'scenario':44} {'before':>7} {'peak':>7} {'after':>7} {'growth':>7} "
        f"{'ratio':>6} {'s':>5}"
    )
    for name, run in runs:
        ratio = run.growth / base.growth if base.growth > 0 else float("nan")
        print(
            f"{name:44} {run.before:7.1f} {run.peak:7.1f} {run.after:7.1f} "
            f"{run.growth:7.1f} {ratio:6.2f} {run.seconds:5.1f}"
        )
    worst = max(run.growth for _, run in runs[1:])
    print(f"worst growth with watchers: {worst:.1f} MB (target < {TARGET_MB:.0f} MB)")
    return 0 if worst < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
