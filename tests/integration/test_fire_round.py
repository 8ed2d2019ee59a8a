"""What a fire round and a status refresh cost the database: each claimed target is
written once, and a batch of targets is found by its keys, not by reading them all.

A fire's claim holds its targets ``FOR UPDATE``; the round's advance re-derives
their statuses as it moves them on, so the refresh only counts the moves.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.domain.limits import Limits
from scheduler.domain.status import TargetKey
from scheduler.operations import firing
from scheduler.store import targets
from scheduler.store.statuses import refresh_statuses
from tests.integration.plans import plans_of, recorded
from tests.integration.seed import FIRST_FIRE, add_command, add_instance, add_invocation

INSTANCES = [f"i-{n}" for n in range(50)]


async def _seed(engine: AsyncEngine, invocations: int) -> None:
    """``invocations`` armed invocations due at ``FIRST_FIRE``, each on every instance."""
    async with engine.begin() as conn:
        await add_command(conn)
        for instance_id in INSTANCES:
            await add_instance(conn, instance_id)
        for n in range(invocations):
            await add_invocation(conn, f"inv-{n:04d}", INSTANCES, armed=True)


async def test_a_fire_round_writes_each_claimed_target_once_and_locks_none_again(
    engine: AsyncEngine,
) -> None:
    await _seed(engine, 2)
    async with engine.begin() as conn:
        due = await targets.claim_due(conn, FIRST_FIRE, 1000)
        round_ = await firing.decide(conn, due, FIRST_FIRE, grace=timedelta(seconds=60))
        with recorded(conn) as statements:
            await firing.fire(conn, Limits(), round_, FIRST_FIRE.date(), trigger="schedule")

    assert len(round_.fires) == 2 * len(INSTANCES)
    texts = [text for text, _ in statements]
    assert sum(text.startswith("UPDATE invocation_targets ") for text in texts) == 1
    assert not [text for text in texts if "FOR NO KEY UPDATE OF invocation_targets" in text]


async def test_refreshing_a_batch_of_targets_reads_only_their_invocations_targets(
    engine: AsyncEngine,
) -> None:
    # 20,000 targets, 1,000 of them (twenty whole invocations, as a ticker's batch
    # claims them) refreshed. Joined to the keys alone, PostgreSQL's cheapest plan
    # for a thousand keys is to hash the whole table; its cost then grows with every
    # invocation there is, not with what changed.
    await _seed(engine, 400)
    async with engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")
    batch = [TargetKey(f"inv-{n:04d}", i) for n in range(100, 120) for i in INSTANCES]
    async with engine.begin() as conn:
        with recorded(conn) as statements:
            await refresh_statuses(conn, batch)
        plans = await plans_of(conn, statements)

    reading_all = [plan for plan in plans if "Seq Scan on invocation_targets" in plan]
    assert plans
    assert not reading_all, reading_all[0]
