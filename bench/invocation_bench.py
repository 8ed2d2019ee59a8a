"""Executions per second and invoke-to-start latency of one-time invocations on local agents.

Run from the repository root:

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

The processes are ``scheduler.local``'s, as for ``kairos dev``: each in its own
session, stopped on exit, on error and on Ctrl-C or SIGTERM (agents, then the
server): SIGTERM, then SIGKILL of the whole session after ``--grace``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from grpc_health.v1 import health_pb2, health_pb2_grpc

from bench.invocation_report import (
    Distribution,
    Invocation,
    Report,
    RoundTrip,
    Run,
    as_json,
    table,
)
from kairos.v1 import common_pb2, fleet_pb2, invocation_pb2
from scheduler.local import (
    Kairos,
    ProcessExited,
    StopRequested,
    Supervisor,
    connect,
    free_port,
    until_online,
    until_serving,
)

SERVER_START_SECONDS = 120.0  # the first start of the embedded PostgreSQL runs initdb
AGENTS_ONLINE_SECONDS = 120.0
INVOCATION_SECONDS = 60.0
MAX_RESULTS = 50  # DescribeInvocationResults page size
LOG_TAIL_LINES = 40


# --------------------------------------------------------------------------- measurements


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


async def bench(args: argparse.Namespace, root: Path, began: float) -> Report:
    """Start server and agents in ``root``, measure, return the figures; stop them in any case."""
    supervisor = Supervisor(root / "logs", grace=args.grace)
    with supervisor.stop_on_signals():
        try:
            report = await supervisor.supervise(measure_all(supervisor, args, root, began))
            supervisor.check()  # a process that died after the last measurement
            return report
        except StopRequested:
            print("interrupted; stopping agents and server", file=sys.stderr)
            raise
        finally:
            supervisor.stop_all()


async def measure_all(
    supervisor: Supervisor, args: argparse.Namespace, root: Path, began: float
) -> Report:
    """Start the server, then every agent at once; once all are online, measure."""
    log_level = ["--log-level", args.log_level]
    server = supervisor.start_server(
        f"127.0.0.1:{free_port()}",
        data_dir=root / "server",
        # The benchmark alone runs more than the default daily quota allows.
        flags=["--max-daily-executions", "100000000", *log_level],
    )
    await until_serving(server.address, SERVER_START_SECONDS)
    served = time.monotonic()
    ids = [f"i-{k}" for k in range(1, args.agents + 1)]
    for instance_id in ids:
        supervisor.start_agent(
            instance_id, server.address, root / "agents" / instance_id, flags=log_level
        )
    await until_online(server.address, ids, AGENTS_ONLINE_SECONDS)
    up = time.monotonic()
    _progress(args, f"server up in {served - began:.1f} s, agents in {up - served:.1f} s")
    api = connect(server.address)
    try:
        _progress(args, f"baseline: {args.baseline_calls} calls of each RPC")
        trips = await baseline(api, args.baseline_calls)
        per_call = args.per_call
        if args.warmup:
            await invocations(api, ids, args.warmup, 1, per_call)
        _progress(args, f"{args.rounds} sequential rounds")
        runs = [await measure(api, "sequential", ids, args.rounds, 1, per_call)]
        if args.in_flight > 1:
            _progress(args, f"{args.rounds} rounds, {args.in_flight} in flight")
            label = f"{args.in_flight} in flight"
            runs.append(await measure(api, label, ids, args.rounds, args.in_flight, per_call))
        return Report(
            agents=args.agents,
            server_start_seconds=served - began,
            agents_online_seconds=up - served,
            baseline=trips,
            runs=runs,
        )
    finally:
        await api.channel.close()


def _progress(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


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
    # Short, under /tmp: PostgreSQL's unix socket path must stay under 100 characters.
    root = Path(tempfile.mkdtemp(prefix="kairos-bench-", dir="/tmp"))
    began = time.monotonic()
    code = 0
    report: Report | None = None
    try:
        report = asyncio.run(bench(args, root, began))
    except (StopRequested, KeyboardInterrupt):
        code = 130
    except Exception as error:
        if isinstance(error, ProcessExited):
            print("\n".join(error.process.tail(LOG_TAIL_LINES)), file=sys.stderr)
        print(f"benchmark failed: {error}\n(logs in {root / 'logs'})", file=sys.stderr)
        args.keep = True
        code = 1
    finally:
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
