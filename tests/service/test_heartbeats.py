"""Heartbeats are written in bulk: one statement per flush for every agent of a replica.

Counted on the server's own engine (any engine of this process), as the statements
reach PostgreSQL; the recorded heartbeat times still move on for every agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from dispatcher.upkeep import HEARTBEAT_FLUSH
from kairos.v1 import agent_pb2
from scheduler.local import Kairos
from scheduler.store.database import create_engine
from scheduler.store.tables import instances
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer

BEATS = 3
"""Heartbeats each agent sends before the flush."""


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


async def test_the_heartbeats_of_all_agents_are_written_in_one_statement(
    kairos: Kairos, peers: list[Peer], servers: ServerFactory, heartbeat_writes: HeartbeatWrites
) -> None:
    before = await recorded(servers.url)
    now = Timestamp()
    now.GetCurrentTime()
    for _ in range(BEATS):
        for peer in peers:
            await peer.send(agent_pb2.AgentMessage(heartbeat=agent_pb2.Heartbeat(agent_time=now)))

    deadline = asyncio.get_running_loop().time() + 4 * HEARTBEAT_FLUSH
    while (after := await recorded(servers.url)) and any(
        after[peer.instance_id] <= before[peer.instance_id] for peer in peers
    ):
        assert asyncio.get_running_loop().time() < deadline, "heartbeats never recorded"
        await asyncio.sleep(0.2)
    # 9 heartbeats of 3 agents: one statement (two if a flush fell between them).
    assert 1 <= heartbeat_writes.count <= 2
