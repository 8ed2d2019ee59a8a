"""A watch re-reads only the executions that may have changed, never the history (issue 9)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from sqlalchemy import event, insert, update
from sqlalchemy.engine import Engine

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.domain.enums import InvocationStatus
from scheduler.local import Kairos
from scheduler.store.database import create_engine
from scheduler.store.tables import executions
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer
from tests.service.plays import receive_task, report, run_request

S = common_pb2
HISTORY = 200


class RowsRead:
    """Execution rows (with their output) read by any engine of this process: the server's."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "(SELECT")) and (
            "executions.output" in statement
        ):
            self.count += cursor.rowcount


@pytest.fixture
def rows_read() -> Iterator[RowsRead]:
    counter = RowsRead()
    event.listen(Engine, "after_cursor_execute", counter)
    yield counter
    event.remove(Engine, "after_cursor_execute", counter)


async def _give_history(database_url: str, invoke_id: str, execution_id: str) -> None:
    """Make the invocation look long-lived: ``HISTORY`` finished runs before the pending one."""
    engine = create_engine(database_url)
    first = datetime(2026, 1, 1, tzinfo=UTC)
    async with engine.begin() as conn:
        tenant = (
            await conn.execute(
                update(executions)
                .where(executions.c.id == execution_id)
                .values(repeat=HISTORY + 1)
                .returning(executions.c.account_id, executions.c.region_id)
            )
        ).one()
        await conn.execute(
            insert(executions),
            [
                {
                    "id": f"e-history-{n}",
                    "account_id": tenant.account_id,
                    "region_id": tenant.region_id,
                    "invocation_id": invoke_id,
                    "instance_id": "i-1",
                    "scheduled_at": first + timedelta(minutes=n),
                    "repeat": n,
                    "status": InvocationStatus.SUCCESS.value,
                    "script": b"echo hi",
                    "output": b"hi\n" * 1000,
                    "output_size": 3000,
                }
                for n in range(1, HISTORY + 1)
            ],
        )
    await engine.dispose()


async def test_a_watch_re_reads_only_what_changed_not_the_history(
    kairos: Kairos, peers: list[Peer], servers: ServerFactory, rows_read: RowsRead
) -> None:
    response = await kairos.invocations.RunCommand(run_request())
    task = await receive_task(peers[0])
    await _give_history(servers.url, response.invoke_id, task.execution_id)
    watch = kairos.invocations.WatchInvocation(
        invocation_pb2.WatchInvocationRequest(invoke_id=response.invoke_id)
    )
    statuses = []
    async with asyncio.timeout(10):
        first = await watch.read()  # the watch has started: its first read is done
        assert first is not grpc.aio.EOF
        started_with = rows_read.count
        await report(peers[0], task, S.INVOCATION_STATUS_SUCCESS, output=b"done\n")
        while (watched := await watch.read()) is not grpc.aio.EOF:
            if watched.WhichOneof("event") == "result":
                statuses.append(watched.result.invocation_status)
    assert statuses[-1] == S.INVOCATION_STATUS_SUCCESS
    # Running and Success each made the watch re-read: one row each time (the open
    # run), not the 201 of the invocation's history.
    re_read = rows_read.count - started_with
    assert re_read <= 5, re_read
