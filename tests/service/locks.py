"""A slow database on demand: a row held by a transaction of the test's, and waits for
what the server does meanwhile (a statement blocked on it, work gathering behind it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import REGISTRY
from sqlalchemy import Table, select, text

from scheduler.store.database import create_engine

WAIT = 30.0


@asynccontextmanager
async def row_held(database_url: str, table: Table, row_id: str) -> AsyncIterator[None]:
    """The row of ``table`` with id ``row_id`` locked by another transaction until the block
    ends."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(select(table.c.id).where(table.c.id == row_id).with_for_update())
            yield
            await conn.commit()
    finally:
        await engine.dispose()


async def until_blocked(database_url: str, waiting: int = 1) -> None:
    """Until ``waiting`` statements of the server wait for a lock (a row's, or an
    advisory one)."""
    engine = create_engine(database_url)
    query = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    try:
        async with asyncio.timeout(WAIT):
            while True:
                async with engine.connect() as conn:
                    if (await conn.execute(query)).scalar_one() >= waiting:
                        return
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


def gauge(name: str) -> float:
    """A gauge of this process's metrics (the server under test runs in it)."""
    return REGISTRY.get_sample_value(name) or 0.0


async def until_gauge(name: str, at_least: float) -> None:
    """Until the gauge ``name`` reaches ``at_least``."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while gauge(name) < at_least:
        assert asyncio.get_running_loop().time() < deadline, f"{name} never reached {at_least}"
        await asyncio.sleep(0.05)
