"""A dispatcher records the agents it holds alive in bulk: one statement per flush for
every agent due, whether or not it sent anything (the pings on its connection say it is
alive).

Counted on the server's own engine (any engine of this process), as the statements
reach PostgreSQL; the recorded times move on for every agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from dispatcher.upkeep import HEARTBEAT_FLUSH
from scheduler.domain.limits import Limits
from scheduler.store.database import create_engine
from scheduler.store.tables import instances
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer

AGENTS = 3


class HeartbeatWrites:
    """Statements that record heartbeats, sent by any engine of this process."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE INSTANCES SET LAST_HEARTBEAT_AT"):
            self.count += 1


@pytest.fixture
def heartbeat_writes() -> Iterator[HeartbeatWrites]:
    counter = HeartbeatWrites()
    event.listen(Engine, "after_cursor_execute", counter)
    yield counter
    event.remove(Engine, "after_cursor_execute", counter)


async def recorded(database_url: str) -> dict[str, datetime]:
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        rows = await conn.execute(select(instances.c.id, instances.c.last_heartbeat_at))
        found = {row.id: row.last_heartbeat_at for row in rows}
    await engine.dispose()
    return found


async def test_silent_connected_agents_are_recorded_alive_in_one_statement(
    servers: ServerFactory, heartbeat_writes: HeartbeatWrites
) -> None:
    # Recorded again once their record is 2 s old (half the offline threshold); silent
    # streams are closed only after 20 s (two backstop heartbeats of --agent-lost-after).
    limits = Limits(offline_after=4, agent_lost_after=10)
    address = await servers.start(limits=limits, heartbeat_interval=1)
    peers = [Peer(address, f"i-{n}") for n in range(AGENTS)]
    for peer in peers:
        await peer.hello()  # and nothing more: their pings alone say they are alive
    before = await recorded(servers.url)

    deadline = asyncio.get_running_loop().time() + 4 * HEARTBEAT_FLUSH
    while (after := await recorded(servers.url)) and any(
        after[peer.instance_id] <= before[peer.instance_id] for peer in peers
    ):
        assert asyncio.get_running_loop().time() < deadline, "agents never recorded alive"
        await asyncio.sleep(0.2)
    # Three agents: one statement (two if a flush fell between their connections).
    assert 1 <= heartbeat_writes.count <= 2
    for peer in peers:
        await peer.close()
