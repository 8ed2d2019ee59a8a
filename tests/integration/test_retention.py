"""Retention: the history stays bounded under a steady load, a batch at a time, and the
derived statuses stay right (``scheduler.retention``, ``store.retention``).

Time passes by ageing the rows: each simulated day moves every stored instant one
day back, as if the database's clock had moved one day on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler.domain.enums import InvocationStatus, RepeatMode
from scheduler.domain.limits import Limits
from scheduler.domain.status import TargetKey
from scheduler.operations.context import Context
from scheduler.retention import Retention
from scheduler.store import retention
from scheduler.store.statuses import refresh_statuses
from scheduler.store.tables import executions, invocation_status_counts, invocations
from tests.integration.plans import plans_of, recorded
from tests.integration.seed import TENANT, add_command, add_instance, add_invocation

DAYS = 28
OUTPUT = b"o" * 1000
PERIODIC = ["i-1", "i-2", "i-3"]
ONCE = ["i-4", "i-5"]


async def add_finished(
    conn: AsyncConnection, invoke_id: str, instance_ids: list[str], repeat: int, *, count: int = 1
) -> None:
    """``count`` executions of each target from ``repeat`` on, finished now, with output."""
    await conn.execute(
        text(
            "INSERT INTO executions (id, account_id, region_id, invocation_id, instance_id,"
            " scheduled_at, repeat, status, script, output, output_size, finished_at)"
            " SELECT 'e-' || :invoke || '-' || i || '-' || r, :account, :region, :invoke, i,"
            " now() - make_interval(secs => r), r, 'Success', ''::bytea, :output, :size, now()"
            " FROM unnest(CAST(:instances AS TEXT[])) AS i,"
            " generate_series(CAST(:repeat AS INT), :repeat + :count - 1) AS r"
        ),
        {
            "invoke": invoke_id,
            "account": TENANT.account_id,
            "region": TENANT.region_id,
            "instances": instance_ids,
            "repeat": repeat,
            "count": count,
            "output": OUTPUT,
            "size": len(OUTPUT),
        },
    )


async def age(conn: AsyncConnection, days: int = 1) -> None:
    """Move every stored instant ``days`` back: that much time has passed."""
    back = {"days": days}
    await conn.execute(
        text(
            "UPDATE executions SET finished_at = finished_at - make_interval(days => :days),"
            " created_at = created_at - make_interval(days => :days)"
        ),
        back,
    )
    await conn.execute(
        text("UPDATE invocations SET created_at = created_at - make_interval(days => :days)"),
        back,
    )
    await conn.execute(
        text("UPDATE idempotency_keys SET created_at = created_at - make_interval(days => :days)"),
        back,
    )
    await conn.execute(text("UPDATE daily_usage SET day = day - :days"), back)


Rows = set[tuple[Any, ...]]


async def statuses(conn: AsyncConnection) -> tuple[Rows, Rows, Rows]:
    """Every target's, invocation's and count row's status, as stored."""
    targets = await conn.execute(
        text("SELECT invocation_id, instance_id, status FROM invocation_targets")
    )
    overall = await conn.execute(select(invocations.c.id, invocations.c.status))
    counts = await conn.execute(
        select(invocation_status_counts).where(invocation_status_counts.c.targets > 0)
    )
    return ({tuple(r) for r in targets}, {tuple(r) for r in overall}, {tuple(r) for r in counts})


async def test_the_history_stays_bounded_under_a_steady_load(engine: AsyncEngine) -> None:
    job = Retention(Context(engine=engine, limits=Limits(retention_days=DAYS)), batch_size=7)
    async with engine.begin() as conn:
        await add_command(conn)
        for instance_id in PERIODIC + ONCE:
            await add_instance(conn, instance_id)
        await add_invocation(conn, "t-periodic", PERIODIC, armed=True)
        # Fired twice on the first day, never again: its latest execution stays.
        await add_invocation(conn, "t-quiet", ["i-1"], armed=True)
        await add_finished(conn, "t-quiet", ["i-1"], 1, count=2)

    per_day = len(PERIODIC) + len(ONCE)
    sizes = []
    for day in range(40):
        async with engine.begin() as conn:
            await age(conn)
            await add_finished(conn, "t-periodic", PERIODIC, day + 1)
            await add_invocation(
                conn,
                f"t-once-{day:02}",
                ONCE,
                status=InvocationStatus.SUCCESS,
                repeat_mode=RepeatMode.ONCE,
            )
            await add_finished(conn, f"t-once-{day:02}", ONCE, 1)
            await conn.execute(
                text(
                    "INSERT INTO daily_usage (account_id, region_id, day, executions)"
                    " VALUES (:account, :region, (now() AT TIME ZONE 'UTC')::date, :n)"
                ),
                {"account": TENANT.account_id, "region": TENANT.region_id, "n": per_day},
            )
        await job.round()
        async with engine.connect() as conn:
            sizes.append(await conn.scalar(select(func.count()).select_from(executions)))

    quiet_latest = 1
    # Rows age by whole days: those of the last DAYS days (today's included) stay.
    assert sizes[: DAYS - 1] == [(day + 1) * per_day + 2 for day in range(DAYS - 1)]
    assert sizes[DAYS - 1 :] == [DAYS * per_day + quiet_latest] * (40 - DAYS + 1)
    async with engine.begin() as conn:
        quiet = await conn.execute(
            select(executions.c.repeat, executions.c.output).where(
                executions.c.invocation_id == "t-quiet"
            )
        )
        assert [(row.repeat, row.output) for row in quiet] == [(2, OUTPUT)]
        # The daily quota's counts: today's and yesterday's only.
        assert await conn.scalar(text("SELECT count(*) FROM daily_usage")) == 2
        output_bytes = await conn.scalar(select(func.sum(func.octet_length(executions.c.output))))
        assert output_bytes == (DAYS * per_day + quiet_latest) * len(OUTPUT)
        remaining = await conn.scalars(select(invocations.c.id).order_by(invocations.c.id))
        assert list(remaining) == [
            *(f"t-once-{day:02}" for day in range(40 - DAYS, 40)),
            "t-periodic",
            "t-quiet",
        ]
        # Deriving every status afresh from what is left changes nothing.
        before = await statuses(conn)
        every_target = [
            TargetKey(row.invocation_id, row.instance_id)
            for row in await conn.execute(
                text("SELECT invocation_id, instance_id FROM invocation_targets")
            )
        ]
        await refresh_statuses(conn, every_target)
        assert await statuses(conn) == before
        targets, _, counts = before
        by_status = Counter((invoke_id, status) for invoke_id, _, status in targets)
        assert {(i, s, n) for (i, s), n in by_status.items()} == counts


async def test_a_statement_deletes_at_most_a_batch(engine: AsyncEngine) -> None:
    instances = [f"i-{n:03}" for n in range(200)]
    async with engine.begin() as conn:
        await add_command(conn)
        for instance_id in instances:
            await add_instance(conn, instance_id)
        await add_invocation(conn, "t-periodic", ["i-000"], armed=True)
        await add_finished(conn, "t-periodic", ["i-000"], 1, count=1235)
        for n in range(3):
            await add_invocation(
                conn,
                f"t-once-{n}",
                instances,
                status=InvocationStatus.SUCCESS,
                repeat_mode=RepeatMode.ONCE,
            )
            await add_finished(conn, f"t-once-{n}", instances, 1)
        await age(conn, DAYS + 1)

    async def executions_left() -> int:
        async with engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(executions)) or 0)

    deleted, left = [], [await executions_left()]
    while True:
        async with engine.begin() as conn:
            gone = await retention.old_executions(conn, days=DAYS, batch=500)
        if not gone:
            break
        deleted.append(gone)
        left.append(await executions_left())
    # The periodic target's latest execution stays; each batch takes 500 at most.
    assert deleted == [500, 500, 234]
    assert left == [1235 + 600, 1335, 835, 601]

    invocations_deleted = []
    while True:
        async with engine.begin() as conn:
            gone_invocations, gone_rows = await retention.old_invocations(
                conn, days=DAYS, batch=500
            )
        if not gone_invocations:
            break
        invocations_deleted.append((gone_invocations, gone_rows))
    # Whole invocations while their executions fit in the batch: two of 200, then one.
    assert invocations_deleted == [(2, 400), (1, 200)]
    assert await executions_left() == 1


async def test_retention_reads_the_old_rows_only(engine: AsyncEngine) -> None:
    # 50,000 executions of the last days and a few old ones: the batches find the old
    # ones by index, never by reading the whole history.
    instances = [f"i-{n}" for n in range(50)]
    async with engine.begin() as conn:
        await add_command(conn)
        for instance_id in instances:
            await add_instance(conn, instance_id)
        await add_invocation(conn, "t-old", instances, armed=True)
        await add_finished(conn, "t-old", instances, 1, count=2)
        await age(conn, DAYS + 1)
        await add_invocation(conn, "t-new", instances, armed=True)
        await add_finished(conn, "t-new", instances, 1, count=1000)
    async with engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")

    async with engine.begin() as conn:
        with recorded(conn) as statements:
            assert await retention.old_executions(conn, days=DAYS, batch=500) == 50
            assert await retention.old_invocations(conn, days=DAYS, batch=500) == (0, 0)
            assert await retention.old_commands(conn, days=DAYS, batch=500) == 0
            assert await retention.expired_keys(conn, batch=500) == 0
        plans = await plans_of(conn, statements)

    reading_all = [plan for plan in plans if "Seq Scan on executions" in plan]
    assert len(plans) == 4
    assert not reading_all, "\n\n".join(reading_all)


async def test_commands_runcommand_did_not_keep_go_once_their_invocations_have(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await add_command(conn)
        await add_instance(conn, "i-1")
        await conn.execute(
            text(
                "INSERT INTO commands (id, account_id, region_id, name, type, content, timeout,"
                " enable_parameter, kept, created_at)"
                " SELECT c.id, :account, :region, 'run', 'RunShellScript', 'true'::bytea, 60,"
                " false, c.kept, now() - make_interval(days => c.age)"
                " FROM (VALUES ('c-unkept-old', false, 30), ('c-unkept-used', false, 30),"
                " ('c-unkept-new', false, 1), ('c-kept-old', true, 30)) AS c(id, kept, age)"
            ),
            {"account": TENANT.account_id, "region": TENANT.region_id},
        )
        await add_invocation(conn, "t-used", ["i-1"], armed=True)
        await conn.execute(text("UPDATE invocations SET command_id = 'c-unkept-used'"))

    async with engine.begin() as conn:
        assert await retention.old_commands(conn, days=DAYS, batch=500) == 1
        left = await conn.scalars(text("SELECT id FROM commands ORDER BY id"))
        assert list(left) == ["c-1", "c-kept-old", "c-unkept-new", "c-unkept-used"]


async def test_daily_usage_goes_once_its_day_is_before_yesterday(engine: AsyncEngine) -> None:
    # The quota reads today's row only; yesterday's may still be written by a fire whose
    # transaction began before midnight (UTC).
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO daily_usage (account_id, region_id, day, executions)"
                " SELECT a, :region, (now() AT TIME ZONE 'UTC')::date - d, 7"
                " FROM unnest(CAST(:accounts AS TEXT[])) AS a, unnest(ARRAY[0, 1, 2, 40]) AS d"
            ),
            {"region": TENANT.region_id, "accounts": ["acct-a", "acct-b", "acct-c"]},
        )
    async with engine.begin() as conn:
        assert await retention.old_usage(conn, batch=4) == 4
    async with engine.begin() as conn:
        assert await retention.old_usage(conn, batch=4) == 2
        assert await retention.old_usage(conn, batch=4) == 0
        days_ago = "(now() AT TIME ZONE 'UTC')::date - day"
        left = await conn.execute(text(f"SELECT DISTINCT {days_ago} FROM daily_usage ORDER BY 1"))
        assert list(left.scalars()) == [0, 1]
        assert await conn.scalar(text("SELECT count(*) FROM daily_usage")) == 6
