"""Executions per second and invoke-to-start latency of one-time invocations on local agents.

Run from the repository root (it imports ``tests.e2e.cluster``):

    .venv/bin/python -m bench.invocation_bench [--agents 50] [--rounds 20] [--in-flight 4] [--json]

Everything is real, as in the end-to-end tests: one ``kairos server`` process on
its embedded PostgreSQL (in a fresh directory under /tmp) and ``--agents``
``kairos agent`` processes on this machine. Once every agent is online the
benchmark measures, in this order and on the same server:

* the baseline: ``--baseline-calls`` sequential calls of the gRPC health Check (a
  raw round trip: no auth, no database) and of DescribeAccountAttributes (an API
  call with auth and one database read);
* sequential rounds: ``--rounds`` times RunCommand ``true`` on all agents, each
  followed over WatchInvocation until the invocation is final;
* concurrent rounds: the same number of invocations again, ``--in-flight`` at a
  time (skipped with ``--in-flight 1``).

Throughput is executions / wall time from the first RunCommand sent to the last
``finished`` event received. Invoke-to-start of an execution is its agent-reported
``start_time`` minus the client's clock when it sent the RunCommand (one machine,
one clock); invoke-to-finish likewise with ``finish_time``. The invocation's
``creation_time`` splits invoke-to-start into API (send → stored) and dispatch
(stored → started on the agent).

All processes run in their own sessions and are stopped on exit, on error and on
Ctrl-C or SIGTERM: SIGTERM, then SIGKILL of the whole session after ``--grace``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kairos.v1 import common_pb2, fleet_pb2, invocation_pb2
from tests.e2e.cluster import Process, free_port
from tests.service.harness import Kairos, connect

SERVER_START_SECONDS = 120.0  # the first start of the embedded PostgreSQL runs initdb
AGENTS_ONLINE_SECONDS = 120.0
INVOCATION_SECONDS = 60.0
POLL_SECONDS = 0.2
MAX_RESULTS = 50  # DescribeInvocationResults / DescribeAgentStatus page size


# --------------------------------------------------------------------------- processes


@dataclass
class Fleet:
    """The server and agent processes of one benchmark run, in a directory of their own."""

    root: Path
    agent_count: int
    log_level: str
    port: int = field(default_factory=free_port)
    server: Process | None = None
    agents: list[Process] = field(default_factory=list)

    @property
    def address(self) -> str:
        """Where the server listens (client API, agent API and health on one port)."""
        return f"127.0.0.1:{self.port}"

    @property
    def instance_ids(self) -> list[str]:
        """The instance ids of the agents, i-1 … i-N."""
        return [f"i-{k}" for k in range(1, self.agent_count + 1)]

    def start_server(self) -> None:
        """Start ``kairos server`` on its embedded PostgreSQL in ``root/server``."""
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.server = Process(
            "server",
            [
                "server",
                "--listen",
                self.address,
                "--data-dir",
                str(self.root / "server"),
                # The benchmark alone runs more than the default daily quota allows.
                "--max-daily-executions",
                "100000000",
                "--log-level",
                self.log_level,
            ],
            self.root / "logs" / "server.log",
        )
        self.server.start()

    def start_agents(self) -> None:
        """Start every agent at once, each with its own state directory."""
        for instance_id in self.instance_ids:
            agent = Process(
                instance_id,
                [
                    "agent",
                    "--server",
                    self.address,
                    "--instance-id",
                    instance_id,
                    "--state-dir",
                    str(self.root / "agents" / instance_id),
                    "--log-level",
                    self.log_level,
                ],
                self.root / "logs" / f"{instance_id}.log",
            )
            agent.start()
            self.agents.append(agent)

    def check(self) -> None:
        """Raise ``RuntimeError`` with the log's tail if a process has exited."""
        for process in [self.server, *self.agents]:
            if process is not None and process.popen is not None and not process.alive():
                raise RuntimeError(
                    f"{process.name} exited with code {process.popen.returncode}\n{process.tail()}"
                )

    def stop(self, grace: float) -> None:
        """SIGTERM the agents together, then the server; SIGKILL sessions outliving ``grace``.

        The embedded PostgreSQL runs in a session of its own and the server stops it on
        exit; should the server have been killed instead, it is stopped here.
        """
        _terminate(self.agents, grace)
        _terminate([self.server] if self.server is not None else [], grace)
        _stop_postgres(self.root / "server" / "postgres", grace)


def _terminate(processes: Sequence[Process], grace: float) -> None:
    running = [p for p in processes if p.popen is not None and p.popen.poll() is None]
    for process in running:
        assert process.popen is not None
        process.popen.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        assert process.popen is not None
        try:
            process.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{process.name} did not stop in {grace:.0f} s; killing it", file=sys.stderr)
            # The whole session: the server's PostgreSQL, an agent's scripts.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait()


def _stop_postgres(data_dir: Path, grace: float) -> None:
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        # A stale pid file may name a pid some other process has taken since.
        if str(data_dir).encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
    except (OSError, ValueError, IndexError):
        return  # not running (or never started)
    print(f"stopping the orphaned PostgreSQL {pid}", file=sys.stderr)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(POLL_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values``, linearly interpolated; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Distribution:
    """p50, p99 and max of a set of samples in milliseconds."""

    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> Distribution:
        """Summarise ``samples_ms``."""
        return cls(
            n=len(samples_ms),
            p50_ms=percentile(samples_ms, 50),
            p99_ms=percentile(samples_ms, 99),
            max_ms=max(samples_ms, default=math.nan),
        )


# --------------------------------------------------------------------------- measurements


@dataclass(frozen=True)
class RoundTrip:
    """Sequential calls of one RPC: latency and calls per second."""

    name: str
    latency: Distribution
    calls_per_second: float


@dataclass
class Invocation:
    """One RunCommand as the client saw it, with the per-instance results read back after."""

    invoke_id: str
    sent_ns: int  # wall clock, to compare with agent-reported times
    replied_ns: int
    finished_ns: int  # the WatchInvocation "finished" event arrived
    sent_mono: float
    finished_mono: float
    status: int
    creation_ns: int = 0
    results: list[invocation_pb2.InvocationResult] = field(default_factory=list)


@dataclass(frozen=True)
class Run:
    """Invocations run ``in_flight`` at a time, and what they add up to."""

    label: str
    in_flight: int
    invocations: list[Invocation]
    executions: int
    not_successful: int
    wall_seconds: float
    executions_per_second: float
    run_command: Distribution  # RunCommand send → reply
    api: Distribution  # RunCommand send → invocation creation_time (stored)
    dispatch: Distribution  # creation_time → execution start_time (on the agent)
    invoke_to_start: Distribution
    invoke_to_finish: Distribution


async def round_trips(name: str, call: Callable[[], Awaitable[object]], count: int) -> RoundTrip:
    """Time ``count`` sequential awaits of ``call`` (after a few unmeasured ones)."""
    for _ in range(min(20, count)):
        await call()
    samples: list[float] = []
    began = time.perf_counter()
    for _ in range(count):
        before = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - before) * 1000.0)
    elapsed = time.perf_counter() - began
    return RoundTrip(name, Distribution.of(samples), count / elapsed)


async def baseline(api: Kairos, count: int) -> list[RoundTrip]:
    """The raw gRPC round trip (health Check) and a trivial API call, on the same server."""
    health: Any = health_pb2_grpc.HealthStub(api.channel)  # the stub's types declare no methods
    check = health_pb2.HealthCheckRequest(service="")
    attributes = fleet_pb2.DescribeAccountAttributesRequest()
    return [
        await round_trips("health Check", lambda: health.Check(check), count),
        await round_trips(
            "DescribeAccountAttributes",
            lambda: api.fleet.DescribeAccountAttributes(attributes),
            count,
        ),
    ]


async def invoke(api: Kairos, instance_ids: list[str]) -> Invocation:
    """RunCommand ``true`` on ``instance_ids`` and follow WatchInvocation to its end."""
    request = invocation_pb2.RunCommandRequest(
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="true",
        instance_ids=instance_ids,
    )
    sent_mono = time.perf_counter()
    sent_ns = time.time_ns()
    response = await api.invocations.RunCommand(request)
    replied_ns = time.time_ns()
    status: int | None = None
    call = api.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=response.invoke_id)
    )
    async with asyncio.timeout(INVOCATION_SECONDS):
        async for event in call:
            if event.WhichOneof("event") == "finished":
                status = event.finished
    if status is None:
        raise RuntimeError(f"WatchInvocation of {response.invoke_id} ended without 'finished'")
    return Invocation(
        invoke_id=response.invoke_id,
        sent_ns=sent_ns,
        replied_ns=replied_ns,
        finished_ns=time.time_ns(),
        sent_mono=sent_mono,
        finished_mono=time.perf_counter(),
        status=status,
    )


async def read_back(api: Kairos, invocation: Invocation) -> None:
    """Fill in the invocation's creation_time and every instance's result."""
    described = await api.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest(invoke_id=invocation.invoke_id)
    )
    invocation.creation_ns = described.invocations[0].creation_time.ToNanoseconds()
    token = ""
    while True:
        page = await api.invocations.DescribeInvocationResults(
            invocation_pb2.DescribeInvocationResultsRequest(
                invoke_id=invocation.invoke_id, max_results=MAX_RESULTS, next_token=token
            )
        )
        invocation.results.extend(page.results)
        token = page.next_token
        if not token:
            return


async def invocations(
    api: Kairos, instance_ids: list[str], count: int, in_flight: int, per_call: int
) -> list[Invocation]:
    """``count`` rounds over all instances, ``in_flight`` rounds at a time.

    A round over more instances than one call may name is several RunCommands sent together.
    """
    batches = [instance_ids[k : k + per_call] for k in range(0, len(instance_ids), per_call)]
    queue = iter(range(count))
    done: list[Invocation] = []

    async def worker() -> None:
        for _ in queue:
            done.extend(await asyncio.gather(*(invoke(api, batch) for batch in batches)))

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return done


async def measure(
    api: Kairos, label: str, instance_ids: list[str], count: int, in_flight: int, per_call: int
) -> Run:
    """Run the rounds, read their results back and summarise them."""
    done = await invocations(api, instance_ids, count, in_flight, per_call)
    for invocation in done:
        await read_back(api, invocation)
    results = [(i, r) for i in done for r in i.results]
    started = [(i, r) for i, r in results if r.HasField("start_time")]
    finished = [(i, r) for i, r in results if r.HasField("finish_time")]
    wall = max(i.finished_mono for i in done) - min(i.sent_mono for i in done)
    ms = 1e-6
    return Run(
        label=label,
        in_flight=in_flight,
        invocations=done,
        executions=len(results),
        not_successful=sum(
            r.invocation_status != common_pb2.INVOCATION_STATUS_SUCCESS for _, r in results
        ),
        wall_seconds=wall,
        executions_per_second=len(results) / wall,
        run_command=Distribution.of([(i.replied_ns - i.sent_ns) * ms for i in done]),
        api=Distribution.of([(i.creation_ns - i.sent_ns) * ms for i in done]),
        dispatch=Distribution.of(
            [(r.start_time.ToNanoseconds() - i.creation_ns) * ms for i, r in started]
        ),
        invoke_to_start=Distribution.of(
            [(r.start_time.ToNanoseconds() - i.sent_ns) * ms for i, r in started]
        ),
        invoke_to_finish=Distribution.of(
            [(r.finish_time.ToNanoseconds() - i.sent_ns) * ms for i, r in finished]
        ),
    )


# --------------------------------------------------------------------------- orchestration


async def until_serving(fleet: Fleet) -> None:
    """Poll the health service until the server reports SERVING."""
    channel = grpc.aio.insecure_channel(fleet.address)
    health: Any = health_pb2_grpc.HealthStub(channel)
    try:
        async with asyncio.timeout(SERVER_START_SECONDS):
            while True:
                fleet.check()
                try:
                    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.aio.AioRpcError:
                    pass  # not listening yet
                await asyncio.sleep(POLL_SECONDS)
    finally:
        await channel.close()


async def online(api: Kairos, instance_ids: list[str]) -> int:
    """How many of ``instance_ids`` DescribeAgentStatus shows online."""
    count = 0
    for k in range(0, len(instance_ids), MAX_RESULTS):
        try:
            reply = await api.fleet.DescribeAgentStatus(
                fleet_pb2.DescribeAgentStatusRequest(
                    instance_ids=instance_ids[k : k + MAX_RESULTS], max_results=MAX_RESULTS
                )
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                continue  # an instance is unknown until its agent has said hello
            raise
        count += sum(agent.online for agent in reply.instances)
    return count


async def until_online(fleet: Fleet, api: Kairos) -> None:
    """Poll DescribeAgentStatus until every agent is online."""
    async with asyncio.timeout(AGENTS_ONLINE_SECONDS):
        while await online(api, fleet.instance_ids) < fleet.agent_count:
            fleet.check()
            await asyncio.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class Report:
    """Every figure of one run."""

    agents: int
    server_start_seconds: float
    agents_online_seconds: float
    baseline: list[RoundTrip]
    runs: list[Run]
    total_seconds: float = 0.0


async def bench(fleet: Fleet, args: argparse.Namespace, began: float) -> Report:
    """Start the fleet, measure, and return the figures (the caller stops the processes)."""
    fleet.start_server()
    await until_serving(fleet)
    served = time.monotonic()
    fleet.start_agents()
    api = connect(fleet.address)
    try:
        await until_online(fleet, api)
        up = time.monotonic()
        _progress(args, f"server up in {served - began:.1f} s, agents in {up - served:.1f} s")
        _progress(args, f"baseline: {args.baseline_calls} calls of each RPC")
        trips = await baseline(api, args.baseline_calls)
        ids = fleet.instance_ids
        per_call = args.per_call
        if args.warmup:
            await invocations(api, ids, args.warmup, 1, per_call)
        _progress(args, f"{args.rounds} sequential rounds")
        runs = [await measure(api, "sequential", ids, args.rounds, 1, per_call)]
        if args.in_flight > 1:
            _progress(args, f"{args.rounds} rounds, {args.in_flight} in flight")
            label = f"{args.in_flight} in flight"
            runs.append(await measure(api, label, ids, args.rounds, args.in_flight, per_call))
        fleet.check()
        return Report(fleet.agent_count, served - began, up - served, trips, runs)
    finally:
        await api.channel.close()


def _progress(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- output


def table(report: Report, rounds: int) -> str:
    """The figures as a compact, aligned text table."""
    raw = report.baseline[0]
    head = f"{'':36} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'per s':>9}"
    lines = [
        f"Kairos one-time invocations of `true` on {report.agents} local agents, "
        f"{rounds} rounds per run",
        f"setup: server serving after {report.server_start_seconds:.1f} s, all agents online "
        f"{report.agents_online_seconds:.1f} s later; total run {report.total_seconds:.1f} s",
        "",
        head,
        "-" * len(head),
    ]

    def row(name: str, d: Distribution, rate: float | None = None) -> None:
        per_second = f"{rate:9.1f}" if rate is not None else f"{'':9}"
        lines.append(
            f"{name:36} {d.n:6d} {d.p50_ms:9.2f} {d.p99_ms:9.2f} {d.max_ms:9.2f} {per_second}"
        )

    for trip in report.baseline:
        row(f"baseline: {trip.name}", trip.latency, trip.calls_per_second)
    for run in report.runs:
        lines.append(
            f"{run.label}: {run.executions} executions ({run.not_successful} not Success) in "
            f"{run.wall_seconds:.2f} s = {run.executions_per_second:.1f} executions/s"
        )
        row("  RunCommand call (send → reply)", run.run_command)
        row("  send → creation_time (API)", run.api)
        row("  creation_time → start (dispatch)", run.dispatch)
        row("  invoke → start", run.invoke_to_start)
        row("  invoke → finish", run.invoke_to_finish)
    lines.append("")
    for run in report.runs:
        lines.append(
            f"{run.label}: invoke→start p50 / raw gRPC round-trip p50 = "
            f"{run.invoke_to_start.p50_ms:.2f} / {raw.latency.p50_ms:.3f} ms = "
            f"{run.invoke_to_start.p50_ms / raw.latency.p50_ms:.0f}×"
        )
    return "\n".join(lines)


def as_json(report: Report) -> dict[str, Any]:
    """The figures as plain JSON data."""

    def dist(d: Distribution) -> dict[str, float]:
        return {"n": d.n, "p50_ms": d.p50_ms, "p99_ms": d.p99_ms, "max_ms": d.max_ms}

    raw = report.baseline[0].latency.p50_ms
    return {
        "agents": report.agents,
        "server_start_seconds": report.server_start_seconds,
        "agents_online_seconds": report.agents_online_seconds,
        "total_seconds": report.total_seconds,
        "baseline": [
            {"call": t.name, **dist(t.latency), "calls_per_second": t.calls_per_second}
            for t in report.baseline
        ],
        "runs": [
            {
                "label": run.label,
                "in_flight": run.in_flight,
                "invocations": len(run.invocations),
                "executions": run.executions,
                "not_successful": run.not_successful,
                "wall_seconds": run.wall_seconds,
                "executions_per_second": run.executions_per_second,
                "run_command": dist(run.run_command),
                "send_to_creation": dist(run.api),
                "creation_to_start": dist(run.dispatch),
                "invoke_to_start": dist(run.invoke_to_start),
                "invoke_to_finish": dist(run.invoke_to_finish),
                "invoke_to_start_p50_over_round_trip_p50": run.invoke_to_start.p50_ms / raw,
            }
            for run in report.runs
        ],
    }


# --------------------------------------------------------------------------- main


def options() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=50, help="local agents (default 50)")
    parser.add_argument("--rounds", type=int, default=20, help="invocations per run (default 20)")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=4,
        help="rounds in flight in the concurrent run; 1 skips it (default 4)",
    )
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds (default 2)")
    parser.add_argument(
        "--baseline-calls", type=int, default=1000, help="calls per baseline RPC (default 1000)"
    )
    parser.add_argument(
        "--per-call",
        type=int,
        default=50,
        help="instances per RunCommand, at most the server's limit (default 50)",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="log level of server and agents (default INFO)"
    )
    parser.add_argument(
        "--grace", type=float, default=20.0, help="seconds from SIGTERM to SIGKILL (default 20)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's directory and logs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def main() -> int:
    """Run the benchmark; always stop every process it started."""
    args = options().parse_args()
    if args.agents < 1 or args.rounds < 1 or args.in_flight < 1 or args.per_call < 1:
        options().error("--agents, --rounds, --in-flight and --per-call must be at least 1")
    # SIGTERM unwinds like Ctrl-C, through the finally below.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # Short, under /tmp: PostgreSQL's unix socket path must stay under 100 characters.
    root = Path(tempfile.mkdtemp(prefix="kairos-bench-", dir="/tmp"))
    fleet = Fleet(root, args.agents, args.log_level)
    began = time.monotonic()
    code = 0
    report: Report | None = None
    try:
        report = asyncio.run(bench(fleet, args, began))
    except KeyboardInterrupt:
        print("interrupted; stopping agents and server", file=sys.stderr)
        code = 130
    except Exception as error:
        print(f"benchmark failed: {error}\n(logs in {root / 'logs'})", file=sys.stderr)
        args.keep = True
        code = 1
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        fleet.stop(args.grace)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if code or report is None:
        return code or 1
    report = dataclasses.replace(report, total_seconds=time.monotonic() - began)
    print(json.dumps(as_json(report), indent=2) if args.json else table(report, args.rounds))
    if args.keep:
        print(f"(run directory kept: {root})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
