"""After executions or targets change: their invocations' statuses, and who is told."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.store import invocations as invocation_store
from scheduler.store import notices


async def invocations_changed(
    conn: AsyncConnection, invoke_ids: Iterable[str], *, new_work_in: Iterable[str] = ()
) -> None:
    """Executions or targets of these invocations changed: bring their statuses up to date.

    Refreshes the targets' and the invocations' derived statuses, then tells
    watchers (EXECUTION) and, for the ``new_work_in`` invocations (with executions
    for agents to run or stop), the dispatchers holding their agents
    (``notices.send_dispatch``). Notices go out when the transaction commits.
    """
    ids = sorted(set(invoke_ids))
    await invocation_store.refresh_statuses(conn, ids)
    await notices.send(conn, notices.executions_changed(ids))
    await notices.send_dispatch(conn, new_work_in)
