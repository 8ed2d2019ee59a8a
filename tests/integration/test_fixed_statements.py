"""Set-based store statements have one text whatever the number of rows they carry.

The rows travel as array parameters, so PostgreSQL prepares each statement once
and the ticker's and the dispatcher's rounds cost the same few statements for
one row or a thousand. The statements each call sends are recorded for one row
and for three rows and must be the same.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler.domain.enums import InvocationStatus
from scheduler.domain.models import PlannedExecution
from scheduler.domain.status import TargetKey
from scheduler.domain.tenancy import InstanceKey
from scheduler.store import dispatch, notices, targets
from scheduler.store.executions import NewExecution, insert_executions
from scheduler.store.statuses import refresh_statuses
from tests.integration.seed import (
    FIRST_FIRE,
    TENANT,
    add_command,
    add_execution,
    add_instance,
    add_invocation,
)

Work = Callable[[AsyncConnection, list[str]], Awaitable[Any]]
"""A store call over the targets of these invocations (one instance each)."""


async def _insert(conn: AsyncConnection, invoke_ids: list[str]) -> None:
    await insert_executions(
        conn,
        [
            NewExecution(
                tenant=TENANT,
                invocation_id=i,
                plan=PlannedExecution(
                    id=f"new-{i}",
                    instance_id=f"i-{i}",
                    script=b"true",
                    status=InvocationStatus.PENDING,
                ),
                scheduled_at=FIRST_FIRE + timedelta(seconds=90),
                repeat=9,
            )
            for i in invoke_ids
        ],
    )


async def _advance(conn: AsyncConnection, invoke_ids: list[str]) -> None:
    await targets.advance(
        conn,
        [
            targets.TargetUpdate(
                invocation_id=i,
                instance_id=f"i-{i}",
                armed=True,
                next_fire_at=FIRST_FIRE + timedelta(seconds=10),
                fired=1,
                overlap_skips=0,
                misfire_skips=0,
            )
            for i in invoke_ids
        ],
    )


async def _busy(conn: AsyncConnection, invoke_ids: list[str]) -> None:
    await targets.busy(conn, _targets(invoke_ids))


async def _notify(conn: AsyncConnection, invoke_ids: list[str]) -> None:
    await notices.send(conn, notices.executions_changed(invoke_ids))


async def _deliver(conn: AsyncConnection, invoke_ids: list[str]) -> None:
    tasks = await dispatch.undelivered(conn, [InstanceKey(TENANT, f"i-{i}") for i in invoke_ids])
    await dispatch.mark_delivered(conn, [t.execution_id for t in tasks])


def _targets(invoke_ids: list[str]) -> list[TargetKey]:
    return [TargetKey(i, f"i-{i}") for i in invoke_ids]


async def _refresh(conn: AsyncConnection, invoke_ids: list[str]) -> None:
    await refresh_statuses(conn, _targets(invoke_ids))


async def _abort(conn: AsyncConnection, invoke_ids: list[str]) -> None:
    assert await dispatch.abort_undelivered(conn, 60, 120) == _targets(invoke_ids)


WORK: dict[str, Work] = {
    "insert_executions": _insert,
    "advance": _advance,
    "busy": _busy,
    "refresh_statuses": _refresh,
    "send": _notify,
    "deliver": _deliver,
    "abort_undelivered": _abort,
}


async def _seed(engine: AsyncEngine, invoke_ids: list[str]) -> None:
    async with engine.begin() as conn:
        overdue = (await conn.execute(select(func.now()))).scalar_one() - timedelta(minutes=5)
        for invoke_id in invoke_ids:
            await add_instance(conn, f"i-{invoke_id}")
            await add_invocation(conn, invoke_id, [f"i-{invoke_id}"], armed=True)
            await add_execution(
                conn,
                invoke_id,
                f"i-{invoke_id}",
                status=InvocationStatus.PENDING,
                created_at=overdue,
            )


@contextmanager
def _recorded(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@pytest.mark.parametrize("name", WORK)
async def test_one_text_for_any_number_of_rows(engine: AsyncEngine, name: str) -> None:
    async with engine.begin() as conn:
        await add_command(conn)
    texts: list[list[str]] = []
    for invoke_ids in (["a-1"], ["b-1", "b-2", "b-3"]):
        await _seed(engine, invoke_ids)
        with _recorded(engine) as statements:
            async with engine.begin() as conn:
                await WORK[name](conn, invoke_ids)
        texts.append([s for s in statements if s not in ("BEGIN", "COMMIT")])
    assert texts[0], "nothing was executed"
    assert texts[0] == texts[1]
