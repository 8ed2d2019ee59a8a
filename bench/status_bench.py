"""What an invocation's status costs per result: per-status counts against a full recompute.

Run from the repository root:

    .venv/bin/python -m bench.status_bench [--targets 1000] [--json]

One invocation with ``--targets`` targets, each with a running execution, is
seeded once into a local PostgreSQL started the way ``kairos server`` starts its
embedded default (``bench.ticker_bench.embedded``: a fresh directory under /tmp,
default durable settings unless ``--setting``, migrated). Two copies of it
(``CREATE DATABASE … TEMPLATE``) then have every target finished one by one,
each result its own transaction as results arrive from agents
(``store.reports.finish``, then the refresh, then the EXECUTION notice):

* **baseline** — the algorithm before per-status counts, kept here only as the
  baseline (``full_recompute_baseline``): lock the invocation row, re-derive
  every target of the invocation from its latest execution, read all target
  statuses back and write the overall status. O(targets) per result, so
  O(targets²) per invocation.
* **counts** — the server's own ``operations.changes.invocations_changed``:
  only the finished target is re-derived, the invocation's status counts change
  by delta, the overall status follows from them. O(1) per result.

Both end with every target ``Success``; the benchmark checks that they agree
before it prints the figures (wall time, per-result p50/p99) and the ratio
baseline / counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.ticker_bench import Bench, embedded
from scheduler.domain.agent_reports import Finished
from scheduler.domain.enums import CommandType, InvocationStatus, OsType, RepeatMode
from scheduler.domain.limits import Limits
from scheduler.domain.models import Command, ExecutionResult, InvocationSettings, PlannedExecution
from scheduler.domain.status import TargetKey, overall_status
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.operations.changes import invocations_changed
from scheduler.operations.context import Context
from scheduler.store import notices, reports
from scheduler.store.database import create_engine
from scheduler.store.executions import NewExecution, insert_executions
from scheduler.store.invocations import NewTarget, insert_invocation
from scheduler.store.statuses import target_status_sql
from scheduler.store.tables import executions, instances, invocation_targets, invocations

TENANT = Tenant("bench", "local")
INVOKE_ID = "t-bench"
SEED = "status_seed"

Refresh = Callable[[AsyncConnection, TargetKey], Awaitable[None]]
"""What a result's transaction does after storing it: bring the statuses up to date."""


# --------------------------------------------------------------------------- the two algorithms


async def full_recompute_baseline(conn: AsyncConnection, target: TargetKey) -> None:
    """BASELINE ONLY — the refresh before per-status counts (``store.invocations.
    refresh_statuses`` until migration 0006), for comparison: the invocation row is
    locked for the whole aggregation and every one of its targets is re-derived and
    read back, whichever changed."""
    invoke_id = target.invocation_id
    await conn.execute(
        select(invocations.c.id).where(invocations.c.id == invoke_id).with_for_update()
    )
    t = invocation_targets.alias("t")
    latest = (
        select(executions.c.status)
        .where(
            executions.c.invocation_id == t.c.invocation_id,
            executions.c.instance_id == t.c.instance_id,
        )
        .order_by(executions.c.repeat.desc())
        .limit(1)
        .lateral("e")
    )
    derived = (
        select(
            t.c.invocation_id,
            t.c.instance_id,
            target_status_sql(latest.c.status, t.c.armed).label("status"),
        )
        .select_from(t.outerjoin(latest, true()))
        .where(t.c.invocation_id == invoke_id)
        .subquery("s")
    )
    await conn.execute(
        update(invocation_targets)
        .where(
            invocation_targets.c.invocation_id == invoke_id,
            invocation_targets.c.invocation_id == derived.c.invocation_id,
            invocation_targets.c.instance_id == derived.c.instance_id,
            invocation_targets.c.status != derived.c.status,
        )
        .values(status=derived.c.status, updated_at=func.now())
    )
    statuses = await conn.execute(
        select(invocation_targets.c.status).where(invocation_targets.c.invocation_id == invoke_id)
    )
    overall = overall_status(InvocationStatus(s) for s in statuses.scalars())
    await conn.execute(
        update(invocations).where(invocations.c.id == invoke_id).values(status=overall.value)
    )
    await notices.send(conn, notices.executions_changed([invoke_id]))


async def with_counts(conn: AsyncConnection, target: TargetKey) -> None:
    """The server's refresh: the changed target, then its invocation through the counts."""
    await invocations_changed(conn, [target])


# --------------------------------------------------------------------------- seeding and runs


def instance_id(number: int) -> str:
    return f"i-{number:05d}"


async def seed(ctx: Context, targets: int) -> None:
    """One invocation on ``targets`` instances, each running its execution."""
    command = Command(
        id="c-bench",
        name="bench",
        description="",
        type=CommandType.RUN_SHELL_SCRIPT,
        content=b"true",
        working_dir="",
        timeout=60,
        enable_parameter=False,
        parameter_names=[],
        kept=False,
    )
    ids = [instance_id(n) for n in range(targets)]
    now = datetime.now(UTC)

    async def store(conn: AsyncConnection) -> None:
        await conn.execute(
            insert(instances),
            [
                {
                    "id": i,
                    "account_id": TENANT.account_id,
                    "region_id": TENANT.region_id,
                    "os_type": OsType.LINUX.value,
                }
                for i in ids
            ],
        )
        await insert_invocation(
            conn,
            TENANT,
            invoke_id=INVOKE_ID,
            command=command,
            settings=InvocationSettings(
                repeat_mode=RepeatMode.ONCE,
                frequency="",
                parameters={},
                username="",
                working_dir="",
                timeout=60,
                container_id="",
                container_name="",
            ),
            targets=[
                NewTarget(
                    instance_id=i,
                    status=InvocationStatus.RUNNING,
                    armed=False,
                    next_fire_at=None,
                    repeats=1,
                )
                for i in ids
            ],
        )
        await insert_executions(
            conn,
            [
                NewExecution(
                    tenant=TENANT,
                    invocation_id=INVOKE_ID,
                    plan=PlannedExecution(
                        id=f"e-{i}",
                        instance_id=i,
                        script=b"true",
                        status=InvocationStatus.RUNNING,
                    ),
                    scheduled_at=now,
                    repeat=1,
                )
                for i in ids
            ],
        )

    await ctx.transaction(store)


@dataclass(frozen=True)
class Run:
    """Every target finished one by one with one refresh algorithm."""

    name: str
    results: int
    seconds: float
    p50_ms: float
    p99_ms: float
    final_status: str

    @property
    def per_second(self) -> float:
        return self.results / self.seconds


async def finish_all(bench: Bench, database: str, name: str, refresh: Refresh) -> Run:
    """Finish every target of the seeded invocation, one transaction per result."""
    engine = create_engine(bench.url(database))
    ctx = Context(engine, Limits())
    try:
        ids = await ctx.transaction(_instances)
        samples: list[float] = []
        began = time.perf_counter()
        for instance in ids:
            before = time.perf_counter()
            await ctx.transaction(_finishing(instance, refresh))
            samples.append((time.perf_counter() - before) * 1000.0)
        seconds = time.perf_counter() - began
        final = await ctx.transaction(_overall)
    finally:
        await engine.dispose()
    cuts = statistics.quantiles(samples, n=100)
    return Run(
        name=name,
        results=len(samples),
        seconds=seconds,
        p50_ms=statistics.median(samples),
        p99_ms=cuts[98],
        final_status=final,
    )


async def _instances(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(
        select(invocation_targets.c.instance_id)
        .where(invocation_targets.c.invocation_id == INVOKE_ID)
        .order_by(invocation_targets.c.instance_id)
    )
    return list(rows.scalars())


async def _overall(conn: AsyncConnection) -> str:
    rows = await conn.execute(select(invocations.c.status).where(invocations.c.id == INVOKE_ID))
    return str(rows.scalar_one())


def _finishing(instance: str, refresh: Refresh) -> Callable[[AsyncConnection], Awaitable[None]]:
    """The transaction of the result of ``instance``: stored, then refreshed."""

    async def record(conn: AsyncConnection) -> None:
        changed = await reports.finish(
            conn, [Finished(InstanceKey(TENANT, instance), _success(instance))]
        )
        assert changed, f"the execution on {instance} was not open"
        await refresh(conn, changed[0].target)

    return record


def _success(instance: str) -> ExecutionResult:
    return ExecutionResult(
        execution_id=f"e-{instance}",
        status=InvocationStatus.SUCCESS,
        exit_code=0,
        error_code="",
        error_info="",
        output=b"",
        dropped=0,
        started_at=None,
        finished_at=None,
    )


# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Results:
    """Both runs on the same PostgreSQL, and the machine's load when they began."""

    targets: int
    load: tuple[float, float, float]
    baseline: Run
    counts: Run

    @property
    def ratio(self) -> float:
        """How many times faster the counts finish the invocation than the baseline."""
        return self.baseline.seconds / self.counts.seconds

    def as_json(self) -> dict[str, object]:
        return {
            "targets": self.targets,
            "load": self.load,
            "baseline": {**asdict(self.baseline), "per_second": self.baseline.per_second},
            "counts": {**asdict(self.counts), "per_second": self.counts.per_second},
            "ratio": self.ratio,
        }

    def table(self) -> str:
        rows = [("", "wall s", "results/s", "p50 ms", "p99 ms", "final")]
        for run in (self.baseline, self.counts):
            rows.append(
                (
                    run.name,
                    f"{run.seconds:.2f}",
                    f"{run.per_second:.0f}",
                    f"{run.p50_ms:.2f}",
                    f"{run.p99_ms:.2f}",
                    run.final_status,
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [
            f"Finishing all {self.targets} targets of one invocation, one result per "
            f"transaction (load average {self.load[0]:.2f} at the start)",
            *("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in rows),
            f"ratio baseline / counts: {self.ratio:.1f}x",
        ]
        return "\n".join(lines)


async def run(args: argparse.Namespace, bench: Bench) -> Results:
    """Seed once, then finish every target with each algorithm on a copy of the seed."""
    load = os.getloadavg()
    await bench.create(SEED)
    engine = create_engine(bench.url(SEED))
    try:
        await seed(Context(engine, Limits()), args.targets)
    finally:
        await engine.dispose()
    await bench.create("status_baseline", SEED)
    await bench.create("status_counts", SEED)
    baseline = await finish_all(
        bench, "status_baseline", "baseline (full recompute)", full_recompute_baseline
    )
    counts = await finish_all(bench, "status_counts", "counts", with_counts)
    if baseline.final_status != counts.final_status:
        raise RuntimeError(
            f"the algorithms disagree: {baseline.final_status} against {counts.final_status}"
        )
    return Results(targets=args.targets, load=load, baseline=baseline, counts=counts)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.status_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--targets", type=int, default=1_000, help="targets of the invocation")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting (e.g. synchronous_commit=off); default: durable defaults",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.targets < 2:
        parser.error("--targets must be at least 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = dict(s.split("=", 1) for s in args.setting)
    with embedded(settings) as server:
        results = asyncio.run(run(args, Bench(server)))
    print(json.dumps(results.as_json()) if args.json else results.table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
