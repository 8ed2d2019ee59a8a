"""A fleet of simulated agents against Kairos and against a bare gRPC server (issue 10).

Run from the repository root:

    .venv/bin/python -m bench.fleet_bench [--agents 1000,10000] [--quick]

For each fleet size N (``--agents``, a comma-separated list), two servers are
measured in turn with the same simulator (``bench/fleet_sim.py``: one asyncio
process holding N ``AgentService.Connect`` streams, 100 per HTTP/2 connection,
answering every task at once):

* bare: ``bench/fleet_bare.py``, a plain ``grpc.aio`` server doing the agent
  protocol's push and ack with no database — the baseline;
* Kairos: one ``kairos server`` process on its embedded PostgreSQL (a fresh data
  directory under /tmp), with limits raised so that they never interfere.

On each, in this order:

1. connect: all N agents open their streams at once; seconds until every one is
   welcomed, and the streams refused on the way (each retried with the real
   agent's back-off);
2. KB per agent: the server's resident memory growth over the connect, / N;
3. idle: CPU of the server (and of PostgreSQL: the postmaster with all its
   backends) over ``--idle-seconds``, as % of one core, from ``--settle-seconds``
   after the last Welcome (the connect's tail, each stream's first delivery
   round, is not idleness), heartbeats from random phases at the interval each server's
   Welcome names: the bare server's ``--heartbeat-interval``; Kairos's its
   ``--agent-lost-after`` (120 s), its ``--heartbeat-interval`` being the keepalive
   pings it sends each connection (answered in gRPC's core, no Python);
4. single instance: ``--single-calls`` sequential RunCommand ``true`` on one
   instance of the idle fleet;
5. closed loops: ``--callers`` callers each RunCommand ``true`` on 50 (then on
   1,000) instances and wait for every result before the next call, for
   ``--loop-seconds`` (each caller finishes the call it is in); executions/s,
   invoke→start, CPU ms per execution of the server and of PostgreSQL, and the
   CPU of this process (the simulator and callers: near 100 % of a core, the bare
   figure is the simulator's limit rather than the bare server's);
6. reconnect storm: every agent drops (streams cancelled, connections closed)
   and reconnects at once; seconds from the drop until all are welcomed again.

Invoke→start is when the simulated agent received the Task minus when the
caller sent RunCommand (one process, one clock). A call's results are in when
the server has acknowledged each one to its agent (Kairos does so after storing
it). After each phase a check finds, in the database, every execution final,
none duplicated, none Aborted (the benchmark injects no fault), all Success and
as many as were asked for, and the simulator saw no task twice; against the
bare server the simulator's count is checked. The benchmark exits 1 if a check
fails.

On a 2-core machine with today's Kairos, N = 1,000 takes about 3.5 minutes for
both servers (the 1,000-per-call loop alone is 90 s: four calls of 1,000 at about
45 executions/s); N = 10,000 about 9 more (Kairos connects 10,000 agents in about
100 s). ``--quick`` (N = 100, short phases) takes about 35 s.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.fleet_check import Check, stored_check
from bench.fleet_probe import Postmaster, cpu_seconds, rss_kb, tree_cpu_seconds
from bench.fleet_report import Figures, Loop, table
from bench.fleet_sim import Fleet, instance_ids
from bench.invocation_report import Distribution
from kairos.v1 import common_pb2, invocation_pb2
from scheduler.local import (
    Kairos,
    Process,
    ProcessExited,
    StopRequested,
    Supervisor,
    connect,
    free_port,
    until_serving,
)
from scheduler.store.database import create_engine

SERVER_START_SECONDS = 120.0  # the first start of the embedded PostgreSQL runs initdb
CONNECT_SECONDS = 900.0
CALL_SECONDS = 600.0  # one call's results, however slow the server
LARGE_PER_CALL = 1000
SMALL_PER_CALL = 50
LOG_TAIL_LINES = 40


@dataclass(kw_only=True)
class Server:
    """One measured server process and, for Kairos, its PostgreSQL."""

    name: str
    process: Process
    postmaster: Postmaster | None = None
    engine: AsyncEngine | None = None

    @property
    def pid(self) -> int:
        return self.process.popen.pid if self.process.popen else 0

    def cpu(self) -> tuple[float, float | None]:
        """CPU seconds so far of the server and of its PostgreSQL (None: it has none)."""
        postgres = None if self.postmaster is None else tree_cpu_seconds(self.postmaster.pid)
        return cpu_seconds(self.pid), postgres


@dataclass
class Trial:
    """One fleet against one server: the phases, and the checks after each."""

    server: Server
    fleet: Fleet
    api: Kairos
    requested: int = 0
    checks: list[Check] = field(default_factory=list)

    async def check(self, phase: str) -> None:
        if self.server.engine is None:
            check = Check(
                phase=phase,
                requested=self.requested,
                executions=self.fleet.acknowledged,
                seen_twice=self.fleet.duplicates,
                stored=False,
            )
        else:
            check = await stored_check(
                self.server.engine,
                phase=phase,
                requested=self.requested,
                seen_twice=self.fleet.duplicates,
            )
        self.checks.append(check)

    async def idle(self, settle: float, seconds: float) -> tuple[float, float | None]:
        """% of one core the server and PostgreSQL use while the fleet only heartbeats."""
        await asyncio.sleep(settle)  # a fixed pause: the server tells nobody it has settled
        server_before, postgres_before = self.server.cpu()
        began = time.perf_counter()
        await asyncio.sleep(seconds)  # the measuring window itself
        server_after, postgres_after = self.server.cpu()
        elapsed = time.perf_counter() - began
        postgres = None
        if postgres_before is not None and postgres_after is not None:
            postgres = (postgres_after - postgres_before) / elapsed * 100
        return (server_after - server_before) / elapsed * 100, postgres

    async def loop(
        self, *, per_call: int, callers: int, seconds: float = math.inf, calls: int | None = None
    ) -> Loop:
        """``callers`` closed loops of RunCommand on ``per_call`` instances each.

        Calls take the fleet's instances in turn, so concurrent calls name
        different instances while the fleet has enough of them.
        """
        ids = self.fleet.ids
        numbers = itertools.count()
        samples: list[float] = []
        failed: Counter[str] = Counter()
        done = 0
        deadline = time.monotonic() + seconds

        async def caller() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                number = next(numbers)
                if calls is not None and number >= calls:
                    return
                start = number * per_call % len(ids)
                batch = ids[start : start + per_call]
                batch += ids[: per_call - len(batch)]
                sent = time.time_ns()
                try:
                    reply = await self.api.invocations.RunCommand(
                        invocation_pb2.RunCommandRequest(
                            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                            command_content="true",
                            instance_ids=batch,
                        ),
                        timeout=CALL_SECONDS,
                    )
                except grpc.aio.AioRpcError as error:
                    failed[error.code().name] += 1
                    continue
                self.requested += len(batch)
                try:
                    tally = await asyncio.wait_for(
                        self.fleet.results(reply.invoke_id, len(batch)), CALL_SECONDS
                    )
                except TimeoutError:
                    raise RuntimeError(
                        f"{self.server.name}: invocation {reply.invoke_id} on {len(batch)} "
                        f"instances did not finish within {CALL_SECONDS:.0f} s"
                    ) from None
                samples.extend((received - sent) / 1e6 for received in tally.received_ns)
                done += len(batch)

        server_before, postgres_before = self.server.cpu()
        simulator_before = cpu_seconds(os.getpid())
        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        elapsed = time.perf_counter() - began
        server_after, postgres_after = self.server.cpu()
        simulator = cpu_seconds(os.getpid()) - simulator_before
        return Loop(
            per_call=per_call,
            callers=callers,
            executions=done,
            seconds=elapsed,
            invoke_to_start=Distribution.of(samples),
            server_cpu_seconds=server_after - server_before,
            postgres_cpu_seconds=(
                None
                if postgres_before is None or postgres_after is None
                else postgres_after - postgres_before
            ),
            simulator_cpu_seconds=simulator,
            failed_calls=failed,
        )


async def measure(server: Server, args: argparse.Namespace, agents: int) -> Figures:
    """Every phase on a serving server, with a fresh fleet of ``agents``."""
    fleet = Fleet(server.process.address, instance_ids(agents), per_connection=args.per_connection)
    trial = Trial(server, fleet, connect(server.process.address))
    name = f"{server.name}, N={agents:,}"
    try:
        rss_before = rss_kb(server.pid)
        _progress(args, f"{name}: connecting")
        connected = await asyncio.wait_for(fleet.connect(), CONNECT_SECONDS)
        kb_per_agent = (rss_kb(server.pid) - rss_before) / agents
        await trial.check("connect")
        _progress(args, f"{name}: idle for {args.settle_seconds:g} + {args.idle_seconds:g} s")
        idle_server, idle_postgres = await trial.idle(args.settle_seconds, args.idle_seconds)
        _progress(args, f"{name}: {args.single_calls} single-instance calls")
        single = await trial.loop(per_call=1, callers=1, calls=args.single_calls)
        await trial.check("single instance")
        loops = []
        for per_call in (SMALL_PER_CALL, LARGE_PER_CALL):
            per_call = min(per_call, agents)
            _progress(args, f"{name}: closed loop, {per_call} per call")
            loops.append(
                await trial.loop(per_call=per_call, callers=args.callers, seconds=args.loop_seconds)
            )
            await trial.check(f"{per_call} per call")
        _progress(args, f"{name}: reconnect storm")
        storm = await asyncio.wait_for(fleet.reconnect_storm(), CONNECT_SECONDS)
        await trial.check("reconnect storm")
        return Figures(
            server=server.name,
            agents=agents,
            connect=connected,
            kb_per_agent=kb_per_agent,
            idle_server_percent=idle_server,
            idle_postgres_percent=idle_postgres,
            single=single,
            small=loops[0],
            large=loops[1],
            storm=storm,
            lost=fleet.lost,
            stops=fleet.stops,
            checks=trial.checks,
        )
    finally:
        await fleet.drop()
        await trial.api.channel.close()


async def on_bare(
    supervisor: Supervisor, args: argparse.Namespace, root: Path, agents: int
) -> Figures:
    """Start the bare server, measure it, stop it."""
    listen = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "bench.fleet_bare", "--listen", listen]
    command += ["--heartbeat-interval", str(args.heartbeat_interval)]
    process = supervisor.spawn("bare", command, root / "logs" / "bare.log", address=listen)
    try:
        await until_serving(listen, SERVER_START_SECONDS)
        return await measure(Server(name="bare", process=process), args, agents)
    finally:
        supervisor.stop_all()
        supervisor.processes.clear()


async def on_kairos(
    supervisor: Supervisor, args: argparse.Namespace, root: Path, agents: int
) -> Figures:
    """Start `kairos server` on a fresh embedded PostgreSQL, measure it, stop it."""
    data_dir = root / f"kairos-{agents}"
    flags = [
        # Limits out of the way: the benchmark runs far more than a day's default quota,
        # 1,000 instances per call, and N agents.
        "--max-daily-executions",
        "1000000000",
        "--max-instances-per-call",
        str(LARGE_PER_CALL),
        "--max-instances",
        str(2 * agents),
        "--heartbeat-interval",
        str(args.heartbeat_interval),
        "--log-level",
        args.log_level,
    ]
    process = supervisor.start_server(f"127.0.0.1:{free_port()}", data_dir=data_dir, flags=flags)
    engine: AsyncEngine | None = None
    try:
        await until_serving(process.address, SERVER_START_SECONDS)
        postmaster = Postmaster.of(data_dir / "postgres")
        engine = create_engine(postmaster.url, pool_size=1, max_overflow=0)
        server = Server(name="Kairos", process=process, postmaster=postmaster, engine=engine)
        return await measure(server, args, agents)
    finally:
        if engine is not None:
            await engine.dispose()
        supervisor.stop_all()
        supervisor.processes.clear()


async def bench(args: argparse.Namespace, root: Path) -> list[tuple[Figures, Figures]]:
    """Both servers for every fleet size; every process stopped in any case."""
    supervisor = Supervisor(root / "logs", grace=args.grace)
    runs = []
    with supervisor.stop_on_signals():
        try:
            for agents in args.agents:
                bare = await supervisor.supervise(on_bare(supervisor, args, root, agents))
                kairos = await supervisor.supervise(on_kairos(supervisor, args, root, agents))
                runs.append((kairos, bare))
                print(table(kairos, bare, args.per_connection, args.heartbeat_interval), flush=True)
                print(flush=True)
        finally:
            supervisor.stop_all()
    return runs


def _progress(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- main

QUICK = {
    "agents": [100],
    "settle_seconds": 2.0,
    "idle_seconds": 3.0,
    "loop_seconds": 5.0,
    "single_calls": 20,
}
FULL = {
    "agents": [1000],
    "settle_seconds": 5.0,
    "idle_seconds": 10.0,
    "loop_seconds": 20.0,
    "single_calls": 50,
}


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--agents must be comma-separated whole numbers, got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"--agents: every fleet size must be at least 1, got {text!r}"
        )
    return sizes


def options() -> argparse.ArgumentParser:
    """The command line; phase lengths default to FULL's, or QUICK's with --quick."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--agents", type=_sizes, help="fleet sizes, comma-separated (default 1000; quick 100)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small fleet and short phases, for a smoke run"
    )
    parser.add_argument(
        "--per-connection",
        type=int,
        default=100,
        help="agent streams per HTTP/2 connection (default 100)",
    )
    parser.add_argument("--callers", type=int, default=4, help="closed-loop callers (default 4)")
    parser.add_argument(
        "--loop-seconds", type=float, help="length of each closed loop (default 20; quick 5)"
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        help="pause between the last Welcome and the idle window (default 5; quick 2)",
    )
    parser.add_argument("--idle-seconds", type=float, help="idle CPU window (default 10; quick 3)")
    parser.add_argument(
        "--single-calls", type=int, help="single-instance calls (default 50; quick 20)"
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=int,
        default=30,
        help="Kairos: seconds between keepalive pings; bare: between heartbeats (default 30)",
    )
    parser.add_argument(
        "--log-level", default="INFO", help="the Kairos server's log level (default INFO)"
    )
    parser.add_argument(
        "--grace", type=float, default=20.0, help="seconds from SIGTERM to SIGKILL (default 20)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's directory and logs")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The arguments, with the defaults of the chosen mode filled in and every value checked."""
    parser = options()
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for flag, value in (
        ("--per-connection", args.per_connection),
        ("--callers", args.callers),
        ("--single-calls", args.single_calls),
        ("--heartbeat-interval", args.heartbeat_interval),
    ):
        if value < 1:
            parser.error(f"{flag} must be at least 1, got {value}")
    for flag, seconds in (
        ("--loop-seconds", args.loop_seconds),
        ("--idle-seconds", args.idle_seconds),
        ("--settle-seconds", args.settle_seconds),
        ("--grace", args.grace),
    ):
        if not seconds > 0:
            parser.error(f"{flag} must be more than 0 seconds, got {seconds:g}")
    return args


def main() -> int:
    """Run the benchmark; always stop every process it started. Exit 1 if a check fails."""
    args = parse()
    # Short, under /tmp: PostgreSQL's unix socket path must stay under 100 characters.
    root = Path(tempfile.mkdtemp(prefix="kairos-fleet-", dir="/tmp"))
    began = time.monotonic()
    try:
        runs = asyncio.run(bench(args, root))
    except (StopRequested, KeyboardInterrupt):
        return 130
    except Exception as error:
        # The whole trace: a benchmark fails rarely, and then in code far from main.
        traceback.print_exc()
        if isinstance(error, ProcessExited):
            print("\n".join(error.process.tail(LOG_TAIL_LINES)), file=sys.stderr)
        print(f"benchmark failed: {error}\n(logs in {root / 'logs'})", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"total run {time.monotonic() - began:.0f} s")
    failed = [figures.server for pair in runs for figures in pair if figures.failed()]
    if failed:
        print(f"correctness checks FAILED on: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
