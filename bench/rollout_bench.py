"""Rolling rate control on a fleet: one invocation on 1,000 simulated agents, 10% at a time.

Run from the repository root:

    .venv/bin/python -m bench.rollout_bench [--agents 1000] [--max-concurrency 10%]
        [--run-seconds 0.5] [--json]

One ``kairos server`` process on its embedded PostgreSQL (a fresh data directory
under /tmp) and ``--agents`` simulated agents (``bench/fleet_sim.py``, 100 streams per
HTTP/2 connection), each task taking ``--run-seconds`` on its agent. Once every agent
is welcomed, on the same server and fleet, in this order:

* baseline: one RunCommand on all the agents without rate control;
* rate controlled: the same with ``--max-concurrency`` (and no ``max_errors``).

For each: the time from the first start to the last (the simulator's clock, when
each task arrived), the time from the call to the last result acknowledged, and the
peak concurrency observed — the most tasks started and not yet finished at any
instant, from the simulator's own start and finish timestamps. The rate-controlled
peak must not exceed the limit (``domain.rollout.concurrency_of``) and every
execution must end ``Success``: the benchmark exits 1 otherwise. The ratio printed is
rate controlled / baseline, first to last start: about the number of slices.

The invocation names its instances by selector: every simulated agent reports the tag
``FLEET_TAG`` in its Hello, and the RunCommand gives it as ``resource_tags``
(``--max-instances-per-selector`` raised to the fleet), so the run resolves the
selector as an operator's would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.fleet_sim import Fleet, instance_ids
from kairos.v1 import common_pb2, invocation_pb2
from scheduler.domain.errors import KairosError
from scheduler.domain.rollout import check_max_concurrency, concurrency_of
from scheduler.local import (
    ProcessExited,
    StopRequested,
    Supervisor,
    connect,
    free_port,
    until_serving,
)

SERVER_START_SECONDS = 120.0  # the first start of the embedded PostgreSQL runs initdb
RUN_TIMEOUT = 900.0
PER_CONNECTION = 100
LOG_TAIL_LINES = 40


FLEET_TAG = ("fleet", "rollout-bench")
"""The tag every simulated agent reports, and the benchmark's selector."""


def fire_request(*, max_concurrency: str) -> invocation_pb2.RunCommandRequest:
    """The benchmark's one invocation: ``true`` on every agent with the fleet's tag."""
    key, value = FLEET_TAG
    return invocation_pb2.RunCommandRequest(
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="true",
        resource_tags=[common_pb2.Tag(key=key, value=value)],
        max_concurrency=max_concurrency,
    )


@dataclass(kw_only=True, frozen=True)
class Run:
    """One invocation on the fleet, as the simulated agents saw it."""

    max_concurrency: str
    executions: int
    first_to_last_start: float
    call_to_last_result: float
    peak_concurrency: int
    final_status: str
    """The invocation's overall status: SUCCESS when every execution succeeded."""


def peak(runs_ns: list[tuple[int, int]]) -> int:
    """The most runs going on at once, from their (start, finish) instants."""
    events = sorted([(start, 1) for start, _ in runs_ns] + [(end, -1) for _, end in runs_ns])
    going = most = 0
    # At one instant an end counts before a start (-1 sorts first): touching runs
    # do not overlap.
    for _, change in events:
        going += change
        most = max(most, going)
    return most


async def one_run(fleet: Fleet, address: str, max_concurrency: str) -> Run:
    """Run the invocation, wait for every result, read its final statuses."""
    api = connect(address)
    try:
        sent = time.perf_counter()
        reply = await api.invocations.RunCommand(
            fire_request(max_concurrency=max_concurrency), timeout=RUN_TIMEOUT
        )
        tally = await asyncio.wait_for(fleet.results(reply.invoke_id, len(fleet.ids)), RUN_TIMEOUT)
        done = time.perf_counter()
        described = await api.invocations.DescribeInvocations(
            invocation_pb2.DescribeInvocationsRequest(invoke_id=reply.invoke_id),
            timeout=RUN_TIMEOUT,
        )
        status = common_pb2.InvocationStatus.Name(described.invocations[0].invocation_status)
    finally:
        await api.channel.close()
    starts = [start for start, _ in tally.runs_ns]
    return Run(
        max_concurrency=max_concurrency,
        executions=len(tally.runs_ns),
        first_to_last_start=(max(starts) - min(starts)) / 1e9,
        call_to_last_result=done - sent,
        peak_concurrency=peak(tally.runs_ns),
        final_status=status.removeprefix("INVOCATION_STATUS_"),
    )


async def bench(args: argparse.Namespace, root: Path) -> tuple[Run, Run]:
    """The baseline and the rate-controlled run on one server and one fleet."""
    supervisor = Supervisor(root / "logs", grace=args.grace)
    with supervisor.stop_on_signals():
        flags = [
            "--max-daily-executions",
            "1000000000",
            "--max-instances-per-selector",
            str(args.agents),
            "--max-instances",
            str(2 * args.agents),
            "--log-level",
            "warning",
        ]
        process = supervisor.start_server(
            f"127.0.0.1:{free_port()}", data_dir=root / "kairos", flags=flags
        )
        fleet = Fleet(
            process.address,
            instance_ids(args.agents),
            per_connection=PER_CONNECTION,
            run_seconds=args.run_seconds,
            tags=dict([FLEET_TAG]),
        )
        try:
            await supervisor.supervise(until_serving(process.address, SERVER_START_SECONDS))
            await supervisor.supervise(fleet.connect())
            baseline = await supervisor.supervise(one_run(fleet, process.address, ""))
            controlled = await supervisor.supervise(
                one_run(fleet, process.address, args.max_concurrency)
            )
        finally:
            await fleet.drop()
            supervisor.stop_all()
    return baseline, controlled


def failures(baseline: Run, controlled: Run, agents: int) -> list[str]:
    """What went wrong: a limit exceeded, an invocation not ``Success``."""
    limit = concurrency_of(controlled.max_concurrency, agents)
    found = []
    if limit is not None and controlled.peak_concurrency > limit:
        found.append(f"peak concurrency {controlled.peak_concurrency} > the limit {limit}")
    for run in (baseline, controlled):
        if run.final_status != "SUCCESS" or run.executions != agents:
            found.append(
                f"max_concurrency {run.max_concurrency!r}: {run.executions} of {agents} ran, "
                f"the invocation ended {run.final_status}"
            )
    return found


def report(baseline: Run, controlled: Run, agents: int) -> dict[str, object]:
    """The figures, and the ratio of the first-to-last-start spans."""
    return {
        "agents": agents,
        "limit": concurrency_of(controlled.max_concurrency, agents),
        "baseline": asdict(baseline),
        "rate_controlled": asdict(controlled),
        "ratio": controlled.first_to_last_start / max(baseline.first_to_last_start, 1e-9),
    }


def table(figures: dict[str, object]) -> str:
    rows: list[tuple[str, ...]] = [("", "baseline", "rate controlled")]
    runs = [figures["baseline"], figures["rate_controlled"]]
    for label, key, unit in (
        ("max_concurrency", "max_concurrency", ""),
        ("first to last start", "first_to_last_start", " s"),
        ("call to last result", "call_to_last_result", " s"),
        ("peak concurrency", "peak_concurrency", ""),
        ("final status", "final_status", ""),
    ):
        cells = []
        for run in runs:
            assert isinstance(run, dict)
            value = run[key]
            cells.append(f"{value:.2f}{unit}" if isinstance(value, float) else f"{value or '-'}")
        rows.append((label, *cells))
    width = max(len(row[0]) for row in rows)
    lines = [f"{row[0]:<{width}}  {row[1]:>10}  {row[2]:>16}" for row in rows]
    lines.append(
        f"ratio (rate controlled / baseline, first to last start): {figures['ratio']:.1f}x; "
        f"limit {figures['limit']} of {figures['agents']} agents"
    )
    return "\n".join(lines)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.rollout_bench", description=__doc__)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--max-concurrency", default="10%")
    parser.add_argument("--run-seconds", type=float, default=0.5)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the data and logs")
    args = parser.parse_args(argv)
    if args.agents < 1:
        parser.error(f"--agents must be at least 1, got {args.agents}")
    if not args.run_seconds > 0:
        parser.error(f"--run-seconds must be more than 0, got {args.run_seconds:g}")
    if not args.max_concurrency:
        parser.error("--max-concurrency is required: it is what is measured")
    try:
        check_max_concurrency(args.max_concurrency)
    except KairosError as error:
        parser.error(error.message)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; always stop every process it started. Exit 1 if a check fails."""
    args = parse(argv)
    # Short, under /tmp: PostgreSQL's unix socket path must stay under 100 characters.
    root = Path(tempfile.mkdtemp(prefix="kairos-rollout-", dir="/tmp"))
    try:
        baseline, controlled = asyncio.run(bench(args, root))
    except (StopRequested, KeyboardInterrupt):
        return 130
    except Exception as error:
        traceback.print_exc()
        if isinstance(error, ProcessExited):
            print("\n".join(error.process.tail(LOG_TAIL_LINES)), file=sys.stderr)
        print(f"benchmark failed: {error}\n(logs in {root / 'logs'})", file=sys.stderr)
        args.keep = True
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    figures = report(baseline, controlled, args.agents)
    print(json.dumps(figures) if args.json else table(figures))
    wrong = failures(baseline, controlled, args.agents)
    for failure in wrong:
        print(f"check FAILED: {failure}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
