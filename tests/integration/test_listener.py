"""LISTEN/NOTIFY fan-out on a real PostgreSQL: filtered, bounded, never lost silently."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.store import notices
from scheduler.store.listener import GAP, Listener, Notice, conninfo
from scheduler.store.notices import Channel, OutputChunk


@pytest_asyncio.fixture
async def listener(database_url: str) -> AsyncIterator[Listener]:
    started = Listener(conninfo(database_url), list(Channel))
    await started.start()
    yield started
    await started.stop()


def _chunk(invoke_id: str, offset: int) -> OutputChunk:
    return OutputChunk(
        invoke_id=invoke_id, execution_id="e-1", instance_id="i-1", offset=offset, data=b"x" * 100
    )


async def _send(engine: AsyncEngine, sent: list[tuple[Channel, str]]) -> None:
    async with engine.begin() as conn:
        await notices.send(conn, sent)


async def test_a_watcher_is_queued_only_its_own_invocations_notices(
    listener: Listener, engine: AsyncEngine
) -> None:
    async with listener.subscribe(
        Channel.EXECUTION, Channel.OUTPUT, wanted=notices.about("t-mine")
    ) as mine:
        others = notices.output(_chunk("t-other", 0)) + notices.executions_changed(["t-other"])
        await _send(engine, others * 50)
        await _send(engine, notices.output(_chunk("t-mine", 0)))
        await _send(engine, notices.executions_changed(["t-mine"]))
        first = await asyncio.wait_for(mine.get(), 10)
        assert notices.output_chunk(first.payload).invoke_id == "t-mine"
        assert await asyncio.wait_for(mine.get(), 10) == Notice(Channel.EXECUTION, "t-mine")


async def test_a_subscriber_that_stops_reading_holds_a_bounded_queue_then_a_gap(
    listener: Listener, engine: AsyncEngine
) -> None:
    async with listener.subscribe(Channel.OUTPUT, size=10) as stalled:
        async with listener.subscribe(Channel.OUTPUT) as reading:
            burst = [n for k in range(100) for n in notices.output(_chunk("t-1", k * 100))]
            await _send(engine, burst)
            for _ in burst:  # all delivered to the one that reads
                assert (await asyncio.wait_for(reading.get(), 10)).channel == Channel.OUTPUT
        # The one that did not read holds at most its bound, and reads a GAP first.
        assert stalled._queue.qsize() <= 10  # the bound is what this test is about
        assert await stalled.get() == Notice(GAP, "")
