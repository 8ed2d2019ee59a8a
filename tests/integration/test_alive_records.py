"""Recording agents alive (``store.instances.heartbeats``) never takes an instance back
from the replica its agent reconnected to, nor undoes a recorded departure."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.domain.tenancy import InstanceKey
from scheduler.store import instances as instance_store
from scheduler.store import registrations
from scheduler.store.tables import instances
from tests.integration.seed import TENANT, add_instance

AGENT = InstanceKey(TENANT, "i-x")


async def holder(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        query = select(instances.c.dispatcher_id).where(instances.c.id == AGENT.instance_id)
        held: str | None = (await conn.execute(query)).scalar_one()
        return held


async def test_a_stale_replica_does_not_take_back_an_agent_that_moved(engine: AsyncEngine) -> None:
    # The agent reconnected to replica B while replica A still holds its half-open stream.
    async with engine.begin() as conn:
        await add_instance(conn, AGENT.instance_id, dispatcher_id="d-B")
    async with engine.begin() as conn:
        await instance_store.heartbeats(conn, [AGENT], "d-A")
    assert await holder(engine) == "d-B"
    # A's old stream ends at last: B still holds the agent (before: nobody did).
    async with engine.begin() as conn:
        await registrations.disconnect(conn, [(AGENT, datetime.now(UTC))], "d-A")
    assert await holder(engine) == "d-B"


async def test_a_recorded_departure_stays_recorded(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await add_instance(conn, AGENT.instance_id, dispatcher_id="d-A")
    async with engine.begin() as conn:
        await registrations.disconnect(conn, [(AGENT, datetime.now(UTC))], "d-A")
    # A flush that listed the session before it ended commits after its departure.
    async with engine.begin() as conn:
        await instance_store.heartbeats(conn, [AGENT], "d-A")
    assert await holder(engine) is None


async def test_the_holding_replica_records_its_agent_alive(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await add_instance(
            conn,
            AGENT.instance_id,
            dispatcher_id="d-A",
            last_heartbeat_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    async with engine.begin() as conn:
        await instance_store.heartbeats(conn, [AGENT], "d-A")
    async with engine.connect() as conn:
        query = select(instances.c.last_heartbeat_at).where(instances.c.id == AGENT.instance_id)
        assert (await conn.execute(query)).scalar_one() > datetime(2026, 12, 1, tzinfo=UTC)
