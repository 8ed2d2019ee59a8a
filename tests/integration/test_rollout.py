"""Rolling rate control in the database: a periodic fire's slices, releases, cancels.

Real rows on a real PostgreSQL, through the functions the ticker, the report batches
and a stop use: ``operations.firing.fire``, ``store.reports.finish`` then
``invocations_changed``, ``operations.lifecycle.request_stop``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler.domain.agent_reports import Finished
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.limits import Limits
from scheduler.domain.tenancy import InstanceKey
from scheduler.operations import firing
from scheduler.operations.changes import invocations_changed
from scheduler.operations.lifecycle import request_stop
from scheduler.store import reports, targets
from scheduler.store.rollout import advance_fires
from scheduler.store.tables import executions, invocation_targets
from tests.factories import execution_result
from tests.integration.plans import plans_of, recorded
from tests.integration.seed import (
    FIRST_FIRE,
    TENANT,
    add_command,
    add_instance,
    add_invocation,
)

INSTANCES = [f"i-{n}" for n in range(8)]
S = InvocationStatus


async def _fire(engine: AsyncEngine, *, max_concurrency: str, max_errors: str = "") -> None:
    """A periodic invocation ``inv-1`` on ``INSTANCES``, fired once by a ticker's round."""
    async with engine.begin() as conn:
        await add_command(conn)
        for instance_id in INSTANCES:
            await add_instance(conn, instance_id)
        await add_invocation(
            conn,
            "inv-1",
            INSTANCES,
            armed=True,
            max_concurrency=max_concurrency,
            max_errors=max_errors,
        )
    async with engine.begin() as conn:
        due = await targets.claim_due(conn, FIRST_FIRE, 1000)
        round_ = await firing.decide(conn, due, FIRST_FIRE, grace=timedelta(seconds=60))
        await firing.fire(conn, Limits(), round_, FIRST_FIRE.date(), trigger="schedule")


async def _state(conn: AsyncConnection) -> dict[str, tuple[str, bool, str]]:
    """Each instance's execution: status, whether released, error code."""
    rows = await conn.execute(
        select(
            executions.c.instance_id,
            executions.c.status,
            executions.c.released_at.is_not(None).label("released"),
            executions.c.error_code,
        )
    )
    return {row.instance_id: (row.status, row.released, row.error_code) for row in rows}


async def _end(conn: AsyncConnection, statuses: dict[str, InvocationStatus]) -> None:
    """The agents report these instances' executions ended so (as a report batch does)."""
    ids = {
        row.instance_id: row.id
        for row in await conn.execute(
            select(executions.c.id, executions.c.instance_id).where(
                executions.c.status == S.PENDING.value
            )
        )
    }
    ended = await reports.finish(
        conn,
        [
            Finished(
                agent=InstanceKey(TENANT, instance_id),
                result=execution_result(ids[instance_id], status=status),
            )
            for instance_id, status in statuses.items()
        ],
    )
    assert len(ended) == len(statuses)
    await invocations_changed(conn, [c.target for c in ended])


def released(state: dict[str, tuple[str, bool, str]]) -> list[str]:
    """The instances whose executions are released and open."""
    return sorted(
        i for i, (status, go, _) in state.items() if go and status in {S.PENDING, S.RUNNING}
    )


async def test_a_periodic_fire_releases_its_first_slice_by_instance_id(
    engine: AsyncEngine,
) -> None:
    await _fire(engine, max_concurrency="25%")

    async with engine.connect() as conn:
        state = await _state(conn)
    assert released(state) == ["i-0", "i-1"]
    assert {i for i, (status, go, _) in state.items() if not go} == set(INSTANCES[2:])
    assert {status for status, _, _ in state.values()} == {S.PENDING}


async def test_each_end_releases_the_next_and_too_many_failures_cancel_the_rest(
    engine: AsyncEngine,
) -> None:
    await _fire(engine, max_concurrency="2", max_errors="1")

    async with engine.begin() as conn:
        await _end(conn, {"i-0": S.SUCCESS})
        assert released(await _state(conn)) == ["i-1", "i-2"]
    async with engine.begin() as conn:
        await _end(conn, {"i-1": S.FAILED})  # one failure: allowed
        assert released(await _state(conn)) == ["i-2", "i-3"]
    async with engine.begin() as conn:
        await _end(conn, {"i-2": S.TIMEOUT})  # the second: more than max_errors

    async with engine.connect() as conn:
        state = await _state(conn)
        statuses = dict(
            (
                await conn.execute(
                    select(invocation_targets.c.instance_id, invocation_targets.c.status)
                )
            ).all()
        )
    assert released(state) == ["i-3"]  # released: it runs to its end
    for instance_id in INSTANCES[4:]:
        assert state[instance_id] == (S.CANCELLED, False, "MaxErrorsExceeded")
        # Re-derived from its cancelled execution: waiting for its next fire (it was Pending).
        assert statuses[instance_id] == S.SCHEDULED


async def test_a_stop_cancels_held_ones_and_frees_the_slots_of_the_stopped(
    engine: AsyncEngine,
) -> None:
    await _fire(engine, max_concurrency="2", max_errors="0")

    async with engine.begin() as conn:
        # i-0 is released, i-5 held: both cancelled by the operator, no failure.
        await request_stop(conn, "inv-1", ["i-0", "i-5"], whole=False)

    async with engine.connect() as conn:
        state = await _state(conn)
    assert state["i-0"] == (S.CANCELLED, True, "")
    assert state["i-5"] == (S.CANCELLED, False, "")
    assert released(state) == ["i-1", "i-2"]
    assert not [
        i
        for i, (status, _, _) in state.items()
        if status == S.CANCELLED and i not in {"i-0", "i-5"}
    ]


async def test_concurrent_ends_of_one_fire_release_exactly_into_the_room_they_leave(
    engine: AsyncEngine,
) -> None:
    # Two report batches (two replicas) end one execution each at the same time. Each
    # must count the other's end once it committed: neither more than the limit
    # released, nor fewer.
    await _fire(engine, max_concurrency="2")

    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        await _end(first, {"i-0": S.SUCCESS})
        await second.begin()
        later = asyncio.create_task(_end(second, {"i-1": S.SUCCESS}))
        await _until_waiting_for_a_lock(engine)
        await first.commit()
        await later
        await second.commit()

    async with engine.connect() as conn:
        assert released(await _state(conn)) == ["i-2", "i-3"]


async def _until_waiting_for_a_lock(engine: AsyncEngine) -> None:
    """Poll until a transaction of this database waits for a lock (the second's)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    async with asyncio.timeout(10), engine.connect() as conn:
        while not (await conn.execute(waiting)).scalar_one():
            await conn.rollback()
            await asyncio.sleep(0.01)


async def test_without_rate_control_nothing_is_held(engine: AsyncEngine) -> None:
    await _fire(engine, max_concurrency="")

    async with engine.connect() as conn:
        assert released(await _state(conn)) == INSTANCES


async def test_held_targets_are_pending_not_scheduled(engine: AsyncEngine) -> None:
    await _fire(engine, max_concurrency="1")

    async with engine.connect() as conn:
        statuses = dict(
            (
                await conn.execute(
                    select(invocation_targets.c.instance_id, invocation_targets.c.status)
                )
            ).all()
        )
    assert set(statuses.values()) == {S.PENDING}


async def test_the_step_reads_the_held_and_the_fire_never_the_history(
    engine: AsyncEngine,
) -> None:
    # A periodic invocation with a long history of finished fires, and one fire going.
    await _fire(engine, max_concurrency="2", max_errors="3")
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO executions (id, account_id, region_id, invocation_id, instance_id,"
                " scheduled_at, repeat, status, script, released_at)"
                " SELECT 'e-old-' || i || '-' || r, :account, :region, 'inv-1', i,"
                " :first - r * interval '10 seconds', r + 1, 'Success', ''::bytea, now()"
                " FROM unnest(CAST(:instances AS TEXT[])) AS i, generate_series(1, 400) AS r"
            ),
            {
                "account": TENANT.account_id,
                "region": TENANT.region_id,
                "first": FIRST_FIRE,
                "instances": INSTANCES,
            },
        )
    async with engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")

    async with engine.begin() as conn:
        await _end(conn, {"i-0": S.FAILED})
        with recorded(conn) as statements:
            await advance_fires(conn, ["inv-1"])
        plans = await plans_of(conn, statements)
        with recorded(conn) as without_rate_control:
            await advance_fires(conn, ["inv-none"])

    assert len(plans) == 3  # the held fires, the invocations' lock, the fires' counts
    reading_all = [plan for plan in plans if "Seq Scan on executions" in plan]
    assert not reading_all, "\n\n".join(reading_all)
    assert len(without_rate_control) == 1
