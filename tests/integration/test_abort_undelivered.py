"""``abort_undelivered``: which executions end Aborted, with which code and message.

Real rows on a real PostgreSQL: the verdict of each overdue execution comes from
its instance's connection and last heartbeat; fresh, acknowledged, started and
locked executions are left alone.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.domain.enums import InvocationStatus
from scheduler.domain.status import TargetKey
from scheduler.store.dispatch import abort_undelivered
from scheduler.store.tables import executions
from tests.integration.seed import add_command, add_execution, add_instance, add_invocation

DELIVERY_TIMEOUT = 60
OFFLINE_AFTER = 120
PENDING = InvocationStatus.PENDING


async def test_overdue_executions_end_aborted_with_their_reason(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        now = (await conn.execute(select(func.now()))).scalar_one()
        overdue = now - timedelta(seconds=DELIVERY_TIMEOUT + 1)
        await add_command(conn)
        await add_instance(conn, "i-connected", dispatcher_id="d-1")
        # Its dispatcher crashed: the lease lapsed, so the agent counts as not connected.
        await add_instance(conn, "i-crashed", dispatcher_id="d-2", lease_lapsed=True)
        await add_instance(conn, "i-recent", last_heartbeat_at=now - timedelta(seconds=10))
        await add_instance(conn, "i-offline", last_heartbeat_at=now - timedelta(hours=1))
        instance_ids = ["i-connected", "i-crashed", "i-recent", "i-offline"]
        await add_invocation(conn, "inv-b", instance_ids)
        await add_invocation(conn, "inv-a", instance_ids)
        for instance_id in instance_ids:
            await add_execution(conn, "inv-b", instance_id, status=PENDING, created_at=overdue)
        await add_execution(conn, "inv-a", "i-offline", status=PENDING, created_at=overdue)
        # Left alone: not overdue yet, acknowledged, started.
        await add_execution(conn, "inv-a", "i-connected", status=PENDING)
        await add_execution(
            conn, "inv-a", "i-recent", status=PENDING, created_at=overdue, acked=True
        )
        await add_execution(conn, "inv-a", "i-offline", status=InvocationStatus.RUNNING, repeat=2)

    async with engine.begin() as conn:
        aborted = await abort_undelivered(conn, DELIVERY_TIMEOUT, OFFLINE_AFTER)

    assert aborted == [
        TargetKey("inv-a", "i-offline"),
        *(TargetKey("inv-b", i) for i in ("i-connected", "i-crashed", "i-offline", "i-recent")),
    ]
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(
                executions.c.id,
                executions.c.status,
                executions.c.error_code,
                executions.c.error_info,
                executions.c.finished_at.is_not(None).label("finished"),
            )
        )
        found = {row.id: tuple(row)[1:] for row in rows}
    connected = "the agent is connected but did not take the task within 60 s"
    not_connected = "the agent was not connected to take the task within 60 s"
    assert found == {
        "e-inv-b-i-connected-1": ("Aborted", "DeliveryTimeout", connected, True),
        "e-inv-b-i-crashed-1": ("Aborted", "ClientNotResponse", not_connected, True),
        "e-inv-b-i-recent-1": ("Aborted", "ClientNotResponse", not_connected, True),
        "e-inv-b-i-offline-1": ("Aborted", "ClientNotRunning", not_connected, True),
        "e-inv-a-i-offline-1": ("Aborted", "ClientNotRunning", not_connected, True),
        "e-inv-a-i-connected-1": ("Pending", "", "", False),
        "e-inv-a-i-recent-1": ("Pending", "", "", False),
        "e-inv-a-i-offline-2": ("Running", "", "", False),
    }


async def test_executions_another_sweep_holds_are_skipped_not_waited_for(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        now = (await conn.execute(select(func.now()))).scalar_one()
        overdue = now - timedelta(seconds=DELIVERY_TIMEOUT + 1)
        await add_command(conn)
        await add_instance(conn, "i-1")
        await add_instance(conn, "i-2")
        await add_invocation(conn, "inv-1", ["i-1"])
        await add_invocation(conn, "inv-2", ["i-2"])
        held = await add_execution(conn, "inv-1", "i-1", status=PENDING, created_at=overdue)
        await add_execution(conn, "inv-2", "i-2", status=PENDING, created_at=overdue)

    async with engine.begin() as holder:
        await holder.execute(
            select(executions.c.id).where(executions.c.id == held).with_for_update()
        )
        async with engine.begin() as conn:
            aborted = await asyncio.wait_for(
                abort_undelivered(conn, DELIVERY_TIMEOUT, OFFLINE_AFTER), timeout=10
            )
    assert aborted == [TargetKey("inv-2", "i-2")]


async def test_held_executions_are_never_overdue_their_clock_starts_at_release(
    engine: AsyncEngine,
) -> None:
    # Created long ago; one still held back by rate control, one released just now: no
    # agent was ever asked to take either within the delivery timeout.
    async with engine.begin() as conn:
        now = (await conn.execute(select(func.now()))).scalar_one()
        long_ago = now - timedelta(seconds=DELIVERY_TIMEOUT * 10)
        await add_command(conn)
        for instance_id in ("i-held", "i-released", "i-overdue"):
            await add_instance(conn, instance_id, dispatcher_id="d-1")
        await add_invocation(conn, "inv-1", ["i-held", "i-released", "i-overdue"])
        await add_execution(conn, "inv-1", "i-held", status=PENDING, created_at=long_ago, held=True)
        await add_execution(
            conn, "inv-1", "i-released", status=PENDING, created_at=long_ago, released_at=now
        )
        await add_execution(
            conn,
            "inv-1",
            "i-overdue",
            status=PENDING,
            created_at=long_ago,
            released_at=now - timedelta(seconds=DELIVERY_TIMEOUT + 1),
        )

    async with engine.begin() as conn:
        aborted = await abort_undelivered(conn, DELIVERY_TIMEOUT, OFFLINE_AFTER)

    assert aborted == [TargetKey("inv-1", "i-overdue")]
