# Over 400 lines on purpose: four measurements and their same-run baselines behind one command.
"""How fast and how punctually the ticker turns due schedules into executions.

Run from the repository root:

    .venv/bin/python -m bench.ticker_bench [--schedules 100000] [--due 20000] [--json]

Everything runs in this process against a local PostgreSQL started the way
``kairos server`` starts its embedded default (``EmbeddedPostgres`` in a fresh
directory under /tmp, default durable settings, migrated with
``scheduler.store.migrate.upgrade``). Rows are seeded directly with ``COPY``;
the ticker is the real ``scheduler.ticker.Ticker`` on a real ``Context`` and
``Listener``. Four measurements, each on a database of its own:

* **materialised** — ``--schedules`` armed targets (``--per-invocation``
  instances per invocation, as one invocation's targets share its grid); whole
  invocations totalling ``--due`` targets are overdue by up to 10 s, the rest
  fire an hour from now. ``Ticker.tick()`` runs until nothing is due;
  executions created / wall time.
* **baseline** — the same data (a ``CREATE DATABASE … TEMPLATE`` copy made
  before either run) drained by one hand-written statement per batch of
  ``--baseline-batch`` rows: ``WITH claimed AS (SELECT … FOR UPDATE SKIP
  LOCKED LIMIT n), advanced AS (UPDATE … RETURNING …) INSERT INTO executions
  … SELECT … FROM advanced``, one transaction each. The raw rate the database
  allows; the ticker is reported as a fraction of it.
* **lateness** — ``--steady-targets`` targets on ``rate(--steady-interval s)``
  whose first fires are spread evenly over one interval, so that
  targets / interval fires come due every second, next to idle schedules up to
  ``--schedules`` in all. The real ticker loop (``Ticker.start()``) runs for
  ``--steady-seconds``; lateness is each execution's ``created_at`` minus its
  ``scheduled_at`` (both from the database's clock). A stand-in for the agents
  finishes executions a second after they were created, so that the next fire
  of a target is not skipped as an overlap.
* **burst** — ``--burst`` targets all due at the same instant (next to idle
  schedules); how long after that instant the last execution is created.

Each timed scenario starts after a ``CHECKPOINT``, so that writing back what
seeding wrote does not fall into it. The machine's load average at the start is
printed too: other work on a 2-core machine moves every figure.

The figures are printed as a table with the targets of issue 4 and PASS/MISS,
or as JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from scheduler.domain.limits import Limits
from scheduler.operations.context import Context
from scheduler.store.database import create_engine
from scheduler.store.embedded import EmbeddedPostgres
from scheduler.store.listener import Listener, conninfo
from scheduler.store.migrate import upgrade
from scheduler.store.notices import Channel
from scheduler.ticker import BATCH_SIZE, Ticker

TEMPLATE = "bench_empty"
"""A migrated, empty database every scenario's database is copied from."""

MATERIALISED_TARGET = 5_000.0
"""Executions per second materialised with 100,000 active schedules (issue 4)."""
LATENESS_P99_TARGET_MS = 50.0
"""Lateness p99 at a steady 1,000 fires per second (issue 4)."""
BURST_TARGET_S = 2.5
"""Seconds until a burst of 10,000 due in the same second is created (issue 4)."""

HUGE_QUOTA = 1_000_000_000
IDLE_IN = timedelta(hours=1)
"""Idle schedules fire this far (and up to twice this far) in the future."""
START_DELAY = timedelta(seconds=3)
"""Between arming a timed scenario and its first fire: the ticker is started meanwhile."""
COMPLETE_AFTER = 1.0
"""Seconds after its creation the stand-in agents finish an execution."""
BURST_TIMEOUT = 60.0
POLL = 0.05

SCRIPT = b"#!/bin/sh\necho '{{greeting}} from {{ACS::InstanceId}} ({{ACS::InvokeId}})'\n"
PARAMETERS = '{"greeting": "hello"}'


# --------------------------------------------------------------------------- seeding


@dataclass(frozen=True)
class Shape:
    """How many tenants and instances the seeded schedules are spread over."""

    accounts: int
    instances: int
    per_invocation: int

    def instance_ids(self, account: int) -> list[str]:
        """The instances of account ``account`` (instance k belongs to account k mod accounts)."""
        return [f"i-{k:07d}" for k in range(account, self.instances, self.accounts)]


@dataclass(kw_only=True, frozen=True)
class Group:
    """Invocations to seed, ``per_invocation`` targets each, all on one frequency.

    Invocation ``j`` (0-based) was created at ``created_at + j·step`` and its
    targets next fire at ``first_fire + j·step``.
    """

    prefix: str
    invocations: int
    frequency: str
    created_at: datetime
    first_fire: datetime
    step: timedelta


async def seed(conn: psycopg.AsyncConnection[Any], shape: Shape, groups: Sequence[Group]) -> int:
    """Insert the instances (once), the groups' invocations and armed targets; returns targets."""
    async with conn.cursor() as cur:
        if (await (await cur.execute("SELECT count(*) FROM instances")).fetchone()) == (0,):
            async with cur.copy(
                "COPY instances (id, account_id, region_id, name, os_type, time_zone) FROM STDIN"
            ) as copy:
                for k in range(shape.instances):
                    await copy.write_row(
                        (f"i-{k:07d}", _account(k % shape.accounts), "cn-bench", f"host-{k}",
                         "linux", "UTC")
                    )  # fmt: skip
        pools = [shape.instance_ids(a) for a in range(shape.accounts)]
        cursors = [0] * shape.accounts
        invocation_rows: list[tuple[Any, ...]] = []
        target_rows: list[tuple[Any, ...]] = []
        for group in groups:
            for j in range(group.invocations):
                account = j % shape.accounts
                pool = pools[account]
                invoke_id = f"t-{group.prefix}{j:09d}"
                invocation_rows.append(
                    (invoke_id, _account(account), "cn-bench", "c-bench", "bench", "RunShellScript",
                     SCRIPT, True, PARAMETERS, "Period", group.frequency, 60, "Scheduled",
                     group.created_at + j * group.step)
                )  # fmt: skip
                fire = group.first_fire + j * group.step
                for _ in range(shape.per_invocation):
                    instance = pool[cursors[account] % len(pool)]
                    cursors[account] += 1
                    target_rows.append(
                        (invoke_id, _account(account), "cn-bench", instance, "Scheduled", True,
                         fire)
                    )  # fmt: skip
        async with cur.copy(
            "COPY invocations (id, account_id, region_id, command_id, command_name, command_type,"
            " content, enable_parameter, parameters, repeat_mode, frequency, timeout, status,"
            " created_at) FROM STDIN"
        ) as copy:
            for row in invocation_rows:
                await copy.write_row(row)
        async with cur.copy(
            "COPY invocation_targets (invocation_id, account_id, region_id, instance_id, status,"
            " armed, next_fire_at) FROM STDIN"
        ) as copy:
            for row in target_rows:
                await copy.write_row(row)
        # What the store keeps with every invocation (store/invocations.py insert_invocation).
        await cur.execute(
            "INSERT INTO invocation_status_counts (invocation_id, status, targets)"
            " SELECT invocation_id, status, count(*) FROM invocation_targets"
            " WHERE invocation_id = ANY(%s) GROUP BY invocation_id, status",
            ([row[0] for row in invocation_rows],),
        )
    await conn.execute("ANALYZE")
    return len(target_rows)


async def shift(conn: psycopg.AsyncConnection[Any], prefix: str, delta: timedelta) -> None:
    """Move a group's invocations (their rate grids) and next fires by ``delta``."""
    like = f"t-{prefix}%"
    await conn.execute(
        "UPDATE invocations SET created_at = created_at + %s WHERE id LIKE %s", (delta, like)
    )
    await conn.execute(
        "UPDATE invocation_targets SET next_fire_at = next_fire_at + %s"
        " WHERE invocation_id LIKE %s",
        (delta, like),
    )


async def checkpoint(conn: psycopg.AsyncConnection[Any]) -> None:
    """Flush what seeding wrote, so that no checkpoint it triggers falls into a measurement."""
    await conn.execute("CHECKPOINT")


def _account(number: int) -> str:
    return f"acct-{number:03d}"


def idle_group(shape: Shape, schedules: int, now: datetime) -> Group:
    """Schedules that will not fire during the run: they only make the tables realistic."""
    invocations = max(0, schedules // shape.per_invocation)
    step = IDLE_IN / max(1, invocations)
    return Group(
        prefix="idle",
        invocations=invocations,
        frequency="rate(1h)",
        created_at=now,
        first_fire=now + IDLE_IN,
        step=step,
    )


# --------------------------------------------------------------------------- databases


class Bench:
    """The embedded PostgreSQL of one run and the databases made on it."""

    def __init__(self, server: EmbeddedPostgres) -> None:
        self.server = server

    def url(self, database: str) -> str:
        """SQLAlchemy URL of ``database``."""
        return self.server.url_for(database)

    def libpq(self, database: str) -> str:
        """libpq URL of ``database``."""
        return self.url(database).replace("postgresql+psycopg://", "postgresql://", 1)

    async def create(self, name: str, template: str = TEMPLATE) -> str:
        """A new database ``name`` copied from ``template``; returns its name."""
        async with await psycopg.AsyncConnection.connect(
            self.libpq("postgres"), autocommit=True
        ) as admin:
            await admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        return name

    @contextlib.asynccontextmanager
    async def connect(self, database: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """An autocommit connection to ``database``."""
        async with await psycopg.AsyncConnection.connect(
            self.libpq(database), autocommit=True
        ) as conn:
            yield conn


@contextlib.contextmanager
def embedded(settings: dict[str, str]) -> Iterator[EmbeddedPostgres]:
    """A fresh embedded PostgreSQL under /tmp with the empty template migrated; removed after."""
    root = Path(tempfile.mkdtemp(prefix="ktb-"))
    try:
        with EmbeddedPostgres(root / "data", settings=settings) as server:
            with psycopg.connect(
                server.url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True
            ) as admin:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
            upgrade(server.url_for(TEMPLATE))
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.asynccontextmanager
async def ticker_on(
    bench: Bench, database: str, limits: Limits, batch_size: int
) -> AsyncIterator[Ticker]:
    """A real ticker (engine, context, listener) on ``database``; started by the caller."""
    engine = create_engine(bench.url(database))
    listener = Listener(conninfo(bench.url(database)), [Channel.SCHEDULE])
    await listener.start()
    ticker = Ticker(Context(engine, limits), listener, batch_size=batch_size)
    try:
        yield ticker
    finally:
        await ticker.shutdown()
        await listener.stop()
        await engine.dispose()


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Rate:
    """Rows per second over one drain of the due targets."""

    rows: int
    seconds: float
    batches: int

    @property
    def per_second(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds > 0 else math.nan


@dataclass(kw_only=True, frozen=True)
class Lateness:
    """Execution created_at minus scheduled_at over a window of scheduled instants."""

    expected: int
    created: int
    overlap_skips: int
    misfire_skips: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    min_ms: float


@dataclass(kw_only=True, frozen=True)
class Burst:
    """A burst of fires due at one instant."""

    expected: int
    created: int
    p50_s: float
    all_s: float


BASELINE = """
WITH claimed AS (
  SELECT invocation_id, instance_id, next_fire_at
  FROM invocation_targets
  WHERE armed AND next_fire_at IS NOT NULL AND next_fire_at <= clock_timestamp()
  ORDER BY next_fire_at
  LIMIT %(batch)s
  FOR UPDATE SKIP LOCKED
),
advanced AS (
  UPDATE invocation_targets t
  SET next_fire_at = c.next_fire_at + interval '1 hour',
      repeats = t.repeats + 1,
      updated_at = now()
  FROM claimed c
  WHERE t.invocation_id = c.invocation_id AND t.instance_id = c.instance_id
  RETURNING t.invocation_id, t.instance_id, c.next_fire_at AS scheduled_at, t.repeats
)
INSERT INTO executions (id, account_id, region_id, invocation_id, instance_id, scheduled_at,
                        repeat, status, script, created_at, released_at)
SELECT 'e-' || substr(md5(random()::text || clock_timestamp()::text), 1, 24),
       i.account_id, i.region_id, a.invocation_id, a.instance_id, a.scheduled_at,
       a.repeats, 'Pending', i.content, clock_timestamp(), clock_timestamp()
FROM advanced a JOIN invocations i ON i.id = a.invocation_id
ON CONFLICT ON CONSTRAINT uq_executions_fire DO NOTHING
"""


async def baseline(bench: Bench, database: str, batch: int) -> Rate:
    """Drain the due targets with one claim-advance-insert statement per transaction."""
    async with bench.connect(database) as conn:
        rows = batches = 0
        started = time.perf_counter()
        while True:
            cursor = await conn.execute(BASELINE, {"batch": batch})
            if cursor.rowcount <= 0:
                break
            rows += cursor.rowcount
            batches += 1
        return Rate(rows, time.perf_counter() - started, batches)


async def materialised(bench: Bench, database: str, batch_size: int) -> Rate:
    """Drain the due targets with ``Ticker.tick()``; rows are the executions created."""
    limits = Limits(max_daily_executions=HUGE_QUOTA, misfire_grace=3600)
    async with (
        ticker_on(bench, database, limits, batch_size) as ticker,
        bench.connect(database) as conn,
    ):
        before = await _count(conn)
        rounds = 0
        started = time.perf_counter()
        while await ticker.tick() > 0:
            rounds += 1
        seconds = time.perf_counter() - started
        return Rate(await _count(conn) - before, seconds, rounds)


async def steady(
    bench: Bench,
    database: str,
    shape: Shape,
    *,
    targets: int,
    interval: int,
    seconds: float,
    batch_size: int,
) -> Lateness:
    """Run the ticker loop while targets / interval fires come due every second."""
    invocations = targets // shape.per_invocation
    interval_td = timedelta(seconds=interval)
    step = interval_td / invocations
    limits = Limits(max_daily_executions=HUGE_QUOTA)
    async with bench.connect(database) as conn:
        far = datetime.now(UTC) + timedelta(days=1)
        # Seeded a day ahead, then moved in one statement so that seeding time does not count.
        group = Group(
            prefix="st",
            invocations=invocations,
            frequency=f"rate({interval}s)",
            created_at=far - interval_td,
            first_fire=far,
            step=step,
        )
        await seed(conn, shape, [group])
        await checkpoint(conn)
        async with ticker_on(bench, database, limits, batch_size) as ticker:
            start = datetime.now(UTC).replace(microsecond=0) + START_DELAY
            await shift(conn, "st", start - far)
            await ticker.start()
            end = start + timedelta(seconds=seconds)
            async with _completing(bench, database):
                await _sleep_until(end + timedelta(seconds=0.5))
        return await _lateness(conn, start, end, expected=round(targets * seconds / interval))


async def burst(
    bench: Bench, database: str, shape: Shape, *, targets: int, batch_size: int
) -> Burst:
    """Run the ticker loop across an instant at which ``targets`` fires are due."""
    invocations = targets // shape.per_invocation
    limits = Limits(max_daily_executions=HUGE_QUOTA)
    async with bench.connect(database) as conn:
        far = datetime.now(UTC) + timedelta(days=1)
        group = Group(
            prefix="bu",
            invocations=invocations,
            frequency="rate(1h)",
            created_at=far - timedelta(hours=1),
            first_fire=far,
            step=timedelta(0),
        )
        await seed(conn, shape, [group])
        await checkpoint(conn)
        async with ticker_on(bench, database, limits, batch_size) as ticker:
            instant = datetime.now(UTC).replace(microsecond=0) + START_DELAY
            await shift(conn, "bu", instant - far)
            await ticker.start()
            await _sleep_until(instant)
            expected = invocations * shape.per_invocation
            for _ in range(round(BURST_TIMEOUT / POLL)):
                if await _count(conn) >= expected:
                    break
                await asyncio.sleep(POLL)
        row = await (
            await conn.execute(
                "SELECT count(*),"
                " percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - %s)),"
                " extract(epoch FROM max(created_at) - %s) FROM executions",
                (instant, instant),
            )
        ).fetchone()
        assert row is not None
        return Burst(expected=expected, created=row[0], p50_s=_float(row[1]), all_s=_float(row[2]))


@contextlib.asynccontextmanager
async def _completing(bench: Bench, database: str) -> AsyncIterator[None]:
    """Stand-in agents: finish executions ``COMPLETE_AFTER`` seconds after their creation."""

    async def complete() -> None:
        async with bench.connect(database) as conn:
            while True:
                await conn.execute(
                    "UPDATE executions SET status = 'Success', exit_code = 0,"
                    " finished_at = clock_timestamp(), updated_at = clock_timestamp()"
                    " WHERE status = 'Pending'"
                    " AND created_at < clock_timestamp() - make_interval(secs => %s)",
                    (COMPLETE_AFTER,),
                )
                await asyncio.sleep(COMPLETE_AFTER / 4)

    task = asyncio.create_task(complete(), name="bench-agents")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _lateness(
    conn: psycopg.AsyncConnection[Any], start: datetime, end: datetime, *, expected: int
) -> Lateness:
    row = await (
        await conn.execute(
            """
            SELECT count(*),
              percentile_cont(0.5) WITHIN GROUP (ORDER BY lat),
              percentile_cont(0.99) WITHIN GROUP (ORDER BY lat),
              max(lat), min(lat)
            FROM (SELECT extract(epoch FROM created_at - scheduled_at) * 1000 AS lat
                  FROM executions WHERE scheduled_at >= %s AND scheduled_at < %s) s
            """,
            (start, end),
        )
    ).fetchone()
    skips = await (
        await conn.execute(
            "SELECT coalesce(sum(overlap_skips), 0), coalesce(sum(misfire_skips), 0)"
            " FROM invocation_targets"
        )
    ).fetchone()
    assert row is not None and skips is not None
    return Lateness(
        expected=expected,
        created=row[0],
        overlap_skips=int(skips[0]),
        misfire_skips=int(skips[1]),
        p50_ms=_float(row[1]),
        p99_ms=_float(row[2]),
        max_ms=_float(row[3]),
        min_ms=_float(row[4]),
    )


async def _count(conn: psycopg.AsyncConnection[Any]) -> int:
    row = await (await conn.execute("SELECT count(*) FROM executions")).fetchone()
    assert row is not None
    return int(row[0])


async def _sleep_until(instant: datetime) -> None:
    await asyncio.sleep(max(0.0, (instant - datetime.now(UTC)).total_seconds()))


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)


# --------------------------------------------------------------------------- the run


@dataclass(kw_only=True, frozen=True)
class Results:
    """Everything one run measured."""

    schedules: int
    due: int
    batch_size: int
    load: tuple[float, float, float]
    """The machine's load average (1, 5, 15 min) when the run started: others' work skews it."""
    baseline: Rate
    materialised: Rate
    steady_rate: float
    lateness: Lateness
    burst: Burst

    def as_json(self) -> dict[str, Any]:
        """The figures, verdicts included."""
        return {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_average": self.load,
            },
            "schedules": self.schedules,
            "due": self.due,
            "batch_size": self.batch_size,
            "baseline": {**asdict(self.baseline), "per_second": self.baseline.per_second},
            "materialised": {
                **asdict(self.materialised),
                "per_second": self.materialised.per_second,
                "ratio_to_baseline": self.ratio,
                "target_per_second": MATERIALISED_TARGET,
                "pass": self.materialised.per_second >= MATERIALISED_TARGET,
            },
            "lateness": {
                **asdict(self.lateness),
                "fires_per_second": self.steady_rate,
                "target_p99_ms": LATENESS_P99_TARGET_MS,
                "pass": self.lateness_pass,
            },
            "burst": {**asdict(self.burst), "target_s": BURST_TARGET_S, "pass": self.burst_pass},
        }

    @property
    def ratio(self) -> float:
        """Materialised rate as a fraction of the raw statement's."""
        return self.materialised.per_second / self.baseline.per_second

    @property
    def lateness_pass(self) -> bool:
        """p99 within target and every expected fire created."""
        return (
            self.lateness.p99_ms <= LATENESS_P99_TARGET_MS
            and self.lateness.created >= self.lateness.expected
        )

    @property
    def burst_pass(self) -> bool:
        """Every fire created within the target."""
        return self.burst.created >= self.burst.expected and self.burst.all_s <= BURST_TARGET_S

    def table(self) -> str:
        """The compact table of figures, targets and verdicts."""
        m, b, lat, bu = self.materialised, self.baseline, self.lateness, self.burst
        verdict = {True: "PASS", False: "MISS"}
        rows = [
            ("measure", "measured", "target", ""),
            (
                f"materialised, {self.schedules:,} schedules ({m.rows:,} fires)",
                f"{m.per_second:,.0f} exec/s",
                f">= {MATERIALISED_TARGET:,.0f}/s",
                verdict[m.per_second >= MATERIALISED_TARGET],
            ),
            (
                f"raw claim-advance-insert, batches of {b.rows // max(1, b.batches):,}",
                f"{b.per_second:,.0f} rows/s",
                "baseline",
                "",
            ),
            ("  ticker / raw", f"{self.ratio:.2f}", "", ""),
            (
                f"lateness p50 / p99 / max at {self.steady_rate:,.0f} fires/s",
                f"{lat.p50_ms:.1f} / {lat.p99_ms:.1f} / {lat.max_ms:.1f} ms",
                f"p99 <= {LATENESS_P99_TARGET_MS:.0f} ms",
                verdict[self.lateness_pass],
            ),
            (
                "  fires created / expected (overlap, misfire skips)",
                f"{lat.created:,} / {lat.expected:,} ({lat.overlap_skips}, {lat.misfire_skips})",
                "",
                "",
            ),
            (
                f"burst of {bu.expected:,} due at one instant: all / p50",
                f"{bu.all_s:.2f} / {bu.p50_s:.2f} s ({bu.created:,} created)",
                f"<= {BURST_TARGET_S} s",
                verdict[self.burst_pass],
            ),
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [
            f"Kairos ticker benchmark: {os.cpu_count()} CPUs (load average "
            f"{self.load[0]:.2f} at start), PostgreSQL local, ticker batch {self.batch_size}"
        ]
        for row in rows:
            lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        return "\n".join(lines)


async def run(args: argparse.Namespace, server: EmbeddedPostgres) -> Results:
    """All four measurements on ``server``."""
    load = os.getloadavg()
    bench = Bench(server)
    shape = Shape(args.accounts, args.instances, args.per_invocation)
    due_invocations = args.due // shape.per_invocation
    now = datetime.now(UTC)
    _progress(args, "seeding")
    await bench.create("bench_seed")
    async with bench.connect("bench_seed") as conn:
        # Due ones overdue by up to 10 s (within the misfire grace given to the ticker).
        overdue = timedelta(seconds=10)
        due = Group(
            prefix="due",
            invocations=due_invocations,
            frequency="rate(1h)",
            created_at=now - timedelta(hours=1) - overdue,
            first_fire=now - overdue,
            step=overdue / max(1, due_invocations),
        )
        seeded = await seed(conn, shape, [due, idle_group(shape, args.schedules - args.due, now)])
    await bench.create("bench_baseline", "bench_seed")
    await bench.create("bench_ticker", "bench_seed")

    async with bench.connect("bench_seed") as conn:
        await checkpoint(conn)
    _progress(args, "baseline")
    raw = await baseline(bench, "bench_baseline", args.baseline_batch)
    _progress(args, "materialised")
    mat = await materialised(bench, "bench_ticker", args.batch_size)

    _progress(args, "steady")
    await bench.create("bench_steady")
    async with bench.connect("bench_steady") as conn:
        await seed(conn, shape, [idle_group(shape, args.schedules - args.steady_targets, now)])
    late = await steady(
        bench,
        "bench_steady",
        shape,
        targets=args.steady_targets,
        interval=args.steady_interval,
        seconds=args.steady_seconds,
        batch_size=args.batch_size,
    )

    _progress(args, "burst")
    await bench.create("bench_burst")
    async with bench.connect("bench_burst") as conn:
        await seed(conn, shape, [idle_group(shape, args.schedules - args.burst, now)])
    bu = await burst(bench, "bench_burst", shape, targets=args.burst, batch_size=args.batch_size)
    return Results(
        schedules=seeded,
        due=due_invocations * shape.per_invocation,
        batch_size=args.batch_size,
        load=load,
        baseline=raw,
        materialised=mat,
        steady_rate=args.steady_targets / args.steady_interval,
        lateness=late,
        burst=bu,
    )


def _progress(args: argparse.Namespace, step: str) -> None:
    if not args.json:
        print(f"... {step}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.ticker_bench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--schedules", type=int, default=100_000, help="armed targets in all")
    parser.add_argument("--due", type=int, default=20_000, help="targets due (materialised)")
    parser.add_argument("--accounts", type=int, default=4, help="tenants")
    parser.add_argument("--instances", type=int, default=1_000, help="instances in all")
    parser.add_argument("--per-invocation", type=int, default=50, help="targets per invocation")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="ticker batch")
    parser.add_argument("--baseline-batch", type=int, default=1_000, help="raw statement batch")
    parser.add_argument("--steady-targets", type=int, default=10_000)
    parser.add_argument("--steady-interval", type=int, default=10, help="seconds (rate)")
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    parser.add_argument("--burst", type=int, default=10_000, help="fires due at one instant")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a PostgreSQL setting (e.g. synchronous_commit=off); default: durable defaults",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    for name in ("due", "steady_targets", "burst"):
        if getattr(args, name) % args.per_invocation:
            parser.error(f"--{name.replace('_', '-')} must be a multiple of --per-invocation")
    if args.due > args.schedules:
        parser.error("--due must not exceed --schedules")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = dict(s.split("=", 1) for s in args.setting)
    started = time.monotonic()
    with embedded(settings) as server:
        results = asyncio.run(run(args, server))
    if args.json:
        print(json.dumps({**results.as_json(), "wall_seconds": time.monotonic() - started}))
    else:
        print(results.table())
        print(f"(whole run {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
