"""What the sweeps and the dispatcher's claim cost the database: they read the
executions not finished, never the whole history, which only grows.

Every replica sweeps every few seconds for executions no agent will answer for
(``store.lost``, ``store.dispatch.abort_undelivered``); read through the whole
table, each sweep costs what every finished execution there ever was costs.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.domain.delivery import lost_agent_failure, unreported_failure, unstarted_failure
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.tenancy import InstanceKey
from scheduler.store import dispatch, lost
from scheduler.store.tables import executions
from tests.integration.plans import plans_of, recorded
from tests.integration.seed import (
    FIRST_FIRE,
    TENANT,
    add_command,
    add_execution,
    add_instance,
    add_invocation,
)

INSTANCES = [f"i-{n}" for n in range(50)]
FINISHED_PER_INSTANCE = 2_000
LOST_AFTER = 60


async def test_the_sweeps_and_the_claim_read_only_the_executions_not_finished(
    engine: AsyncEngine,
) -> None:
    # 100,000 finished executions of history, and a few open ones: one running on an
    # instance whose agent went silent, one acknowledged, one waiting to be sent.
    async with engine.begin() as conn:
        now = (await conn.execute(select(func.now()))).scalar_one()
        await add_command(conn)
        for instance_id in INSTANCES[1:]:
            await add_instance(conn, instance_id)
        await add_instance(conn, INSTANCES[0], last_heartbeat_at=now - timedelta(hours=1))
        await add_invocation(conn, "inv-1", INSTANCES)
        await conn.execute(
            text(
                "INSERT INTO executions (id, account_id, region_id, invocation_id, instance_id,"
                " scheduled_at, repeat, status, script)"
                " SELECT 'e-' || i || '-' || r, :account, :region, 'inv-1', i,"
                " :first + r * interval '10 seconds', r, 'Success', ''::bytea"
                " FROM unnest(CAST(:instances AS TEXT[])) AS i, generate_series(2, :repeats) AS r"
            ),
            {
                "account": TENANT.account_id,
                "region": TENANT.region_id,
                "first": FIRST_FIRE,
                "instances": INSTANCES,
                "repeats": FINISHED_PER_INSTANCE,
            },
        )
        silent = await add_execution(conn, "inv-1", INSTANCES[0], status=InvocationStatus.RUNNING)
        await add_execution(
            conn, "inv-1", INSTANCES[1], status=InvocationStatus.PENDING, acked=True
        )
        await add_execution(conn, "inv-1", INSTANCES[2], status=InvocationStatus.PENDING)
    async with engine.connect() as conn:
        await conn.exec_driver_sql("ANALYZE")

    async with engine.begin() as conn:
        with recorded(conn) as statements:
            ended = await lost.end_lost(conn, LOST_AFTER, lost_agent_failure(lost_after=LOST_AFTER))
            await lost.end_unreported(conn, 30, unreported_failure(grace=30))
            await lost.end_unstarted(conn, 3600, unstarted_failure(wait=3600))
            await dispatch.abort_undelivered(conn, 60, 120)
            await dispatch.undelivered(conn, [InstanceKey(TENANT, i) for i in INSTANCES])
        plans = await plans_of(conn, statements)
        status = (
            await conn.execute(select(executions.c.status).where(executions.c.id == silent))
        ).scalar_one()

    assert [key.instance_id for key in ended] == [INSTANCES[0]]
    assert status == InvocationStatus.ERROR.value
    reading_all = [plan for plan in plans if "Seq Scan on executions" in plan]
    assert len(plans) == 5
    assert not reading_all, "\n\n".join(reading_all)
