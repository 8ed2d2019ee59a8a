"""Whether the retention job, deleting a large backlog of old rows, delays the ticker.

Run from the repository root:

    .venv/bin/python -m bench.retention_bench [--old-rows 300000] [--json]

Two databases on one embedded PostgreSQL (``bench.ticker_bench``'s), each holding the
same ``--old-rows`` executions (1 KB of output each) of final invocations that ended
60 days ago, ``--old-repeats`` per target. On each the real ticker loop runs the
steady scenario of ``bench.ticker_bench`` (``--steady-targets`` on
``rate(--steady-interval s)``, spread evenly, for ``--steady-seconds``):

* **baseline** — the ticker alone;
* **with retention** — the real retention job (``scheduler.retention.Retention``,
  batches of ``--batch``) started with the ticker, deleting the backlog meanwhile.

It prints the lateness (execution ``created_at`` minus ``scheduled_at``) of both runs
and their ratio, and how many old rows the job deleted during the window: a ratio
near 1 with many rows deleted is the point.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

from bench.ticker_bench import (
    Bench,
    Lateness,
    Shape,
    checkpoint,
    embedded,
    seed,
    steady,
)
from scheduler.domain.limits import Limits
from scheduler.operations.context import Context
from scheduler.retention import BATCH_SIZE, Retention
from scheduler.store.database import create_engine
from scheduler.ticker import BATCH_SIZE as TICKER_BATCH

OLD = "60 days"
"""How long ago the backlog's invocations were created and their executions ended."""


async def seed_backlog(
    conn: psycopg.AsyncConnection[Any], shape: Shape, *, rows: int, repeats: int
) -> int:
    """Final invocations of ``shape.per_invocation`` targets with ``repeats`` old executions
    each, ``rows`` executions in all (rounded down); returns how many were written."""
    await seed(conn, shape, [])  # the instances
    invocations = rows // (shape.per_invocation * repeats)
    parameters = {
        "n": invocations,
        "targets": shape.per_invocation,
        "accounts": shape.accounts,
        "repeats": repeats,
        "old": OLD,
    }
    # The tenant of invocation j, as bench.ticker_bench names them (_account).
    tenant = "'acct-' || lpad((j %% %(accounts)s)::text, 3, '0')"
    await conn.execute(
        "INSERT INTO invocations (id, account_id, region_id, command_id, command_name,"
        " command_type, content, enable_parameter, repeat_mode, frequency, timeout, status,"
        " created_at)"
        f" SELECT 't-old' || j, {tenant}, 'cn-bench', 'c-bench', 'bench', 'RunShellScript',"
        " 'true'::bytea, false, 'Period', 'rate(1h)', 60, 'Success',"
        " now() - CAST(%(old)s AS interval) FROM generate_series(0, %(n)s - 1) AS j",
        parameters,
    )
    await conn.execute(
        "INSERT INTO invocation_targets (invocation_id, account_id, region_id, instance_id,"
        " status, armed, repeats)"
        f" SELECT 't-old' || j, {tenant}, 'cn-bench',"
        " 'i-' || lpad((k * %(accounts)s + j %% %(accounts)s)::text, 7, '0'), 'Success', false,"
        " %(repeats)s"
        " FROM generate_series(0, %(n)s - 1) AS j, generate_series(0, %(targets)s - 1) AS k",
        parameters,
    )
    await conn.execute(
        "INSERT INTO invocation_status_counts (invocation_id, status, targets)"
        " SELECT 't-old' || j, 'Success', %(targets)s FROM generate_series(0, %(n)s - 1) AS j",
        parameters,
    )
    await conn.execute(
        "INSERT INTO executions (id, account_id, region_id, invocation_id, instance_id,"
        " scheduled_at, repeat, status, script, exit_code, output, output_size, created_at,"
        " finished_at)"
        " SELECT 'e-' || t.invocation_id || '-' || t.instance_id || '-' || r, t.account_id,"
        " t.region_id, t.invocation_id, t.instance_id,"
        " now() - CAST(%(old)s AS interval) + make_interval(hours => r), r, 'Success',"
        " 'true'::bytea, 0, convert_to(repeat('x', 1000), 'UTF8'), 1000,"
        " now() - CAST(%(old)s AS interval), now() - CAST(%(old)s AS interval)"
        " FROM invocation_targets t, generate_series(1, %(repeats)s) AS r"
        " WHERE t.invocation_id LIKE 't-old%%'",
        parameters,
    )
    await conn.execute("ANALYZE")
    return invocations * shape.per_invocation * repeats


@dataclass(kw_only=True, frozen=True)
class Results:
    """Both runs and what the job deleted during the second."""

    old_rows: int
    batch: int
    steady_rate: float
    baseline: Lateness
    with_retention: Lateness
    deleted_during: int
    """Old executions gone by the end of the second run's window."""

    @property
    def p99_ratio(self) -> float:
        """Lateness p99 with the job over without it."""
        return self.with_retention.p99_ms / max(self.baseline.p99_ms, 1e-9)

    @property
    def p50_ratio(self) -> float:
        """Lateness p50 with the job over without it."""
        return self.with_retention.p50_ms / max(self.baseline.p50_ms, 1e-9)

    def as_json(self) -> dict[str, Any]:
        """The figures, for ``--json``."""
        return {
            "old_rows": self.old_rows,
            "batch": self.batch,
            "steady_rate": self.steady_rate,
            "baseline": asdict(self.baseline),
            "with_retention": asdict(self.with_retention),
            "deleted_during": self.deleted_during,
            "p50_ratio": self.p50_ratio,
            "p99_ratio": self.p99_ratio,
        }

    def table(self) -> str:
        """The figures for people."""
        b, r = self.baseline, self.with_retention
        return "\n".join(
            [
                f"Kairos retention benchmark: {self.old_rows:,} old executions, batches of "
                f"{self.batch}, ticker at {self.steady_rate:,.0f} fires/s",
                f"  ticker alone      lateness p50 / p99 / max  {b.p50_ms:.1f} / {b.p99_ms:.1f}"
                f" / {b.max_ms:.1f} ms  ({b.created:,} / {b.expected:,} fires)",
                f"  with retention    lateness p50 / p99 / max  {r.p50_ms:.1f} / {r.p99_ms:.1f}"
                f" / {r.max_ms:.1f} ms  ({r.created:,} / {r.expected:,} fires)",
                f"  ratio (with / alone)  p50 {self.p50_ratio:.2f}  p99 {self.p99_ratio:.2f}",
                f"  old executions deleted during the window: {self.deleted_during:,}",
            ]
        )


async def run(args: argparse.Namespace, bench: Bench) -> Results:
    """Seed both databases, then the two steady runs, the second with the job."""
    shape = Shape(args.accounts, args.instances, args.per_invocation)
    _progress(args, "seeding")
    await bench.create("ret_seed")
    async with bench.connect("ret_seed") as conn:
        old_rows = await seed_backlog(conn, shape, rows=args.old_rows, repeats=args.old_repeats)
        await checkpoint(conn)
    for name in ("ret_alone", "ret_with"):
        await bench.create(name, "ret_seed")

    def steady_on(database: str) -> Any:
        return steady(
            bench,
            database,
            shape,
            targets=args.steady_targets,
            interval=args.steady_interval,
            seconds=args.steady_seconds,
            batch_size=TICKER_BATCH,
        )

    _progress(args, "ticker alone")
    alone = await steady_on("ret_alone")
    _progress(args, "ticker with retention")
    engine = create_engine(bench.url("ret_with"))
    job = Retention(Context(engine, Limits()), batch_size=args.batch)
    deleting = asyncio.create_task(job.round())
    try:
        together = await steady_on("ret_with")
    finally:
        deleting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await deleting
        await engine.dispose()
    async with bench.connect("ret_with") as conn:
        row = await (
            await conn.execute("SELECT count(*) FROM executions WHERE invocation_id LIKE 't-old%'")
        ).fetchone()
        assert row is not None
    return Results(
        old_rows=old_rows,
        batch=args.batch,
        steady_rate=args.steady_targets / args.steady_interval,
        baseline=alone,
        with_retention=together,
        deleted_during=old_rows - int(row[0]),
    )


def _progress(args: argparse.Namespace, step: str) -> None:
    if not args.json:
        print(f"... {step}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.retention_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--old-rows", type=int, default=300_000, help="old executions")
    parser.add_argument("--old-repeats", type=int, default=10, help="old executions per target")
    parser.add_argument("--batch", type=int, default=BATCH_SIZE, help="retention batch")
    parser.add_argument("--accounts", type=int, default=4, help="tenants")
    parser.add_argument("--instances", type=int, default=1_000, help="instances in all")
    parser.add_argument("--per-invocation", type=int, default=50, help="targets per invocation")
    parser.add_argument("--steady-targets", type=int, default=5_000)
    parser.add_argument("--steady-interval", type=int, default=10, help="seconds (rate)")
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting (e.g. synchronous_commit=off); default: durable defaults",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.steady_targets % args.per_invocation:
        parser.error("--steady-targets must be a multiple of --per-invocation")
    if args.per_invocation * args.accounts > args.instances:
        parser.error("--instances must be at least --per-invocation times --accounts")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = dict(s.split("=", 1) for s in args.setting)
    started = time.monotonic()
    with embedded(settings) as server:
        results = asyncio.run(run(args, Bench(server)))
    if args.json:
        print(json.dumps({**results.as_json(), "wall_seconds": time.monotonic() - started}))
    else:
        print(results.table())
        print(f"(whole run {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
