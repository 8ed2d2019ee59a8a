"""What agents report, applied to executions: one statement per kind for a whole batch.

Every statement joins the reports, given as rows (``Unnested``), on the
execution's id *and* the reporting agent's instance: an agent only ever touches
executions of its own instance, in its own tenant. Each statement has one text
whatever the number of reports. Callers pass at most one report of a kind per
execution (``domain.agent_reports.grouped``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    LargeBinary,
    Row,
    Text,
    and_,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from scheduler.domain.agent_reports import (
    Acknowledged,
    ExecutionKey,
    Finished,
    JoinedOutput,
    Started,
)
from scheduler.domain.enums import ACTIVE_STATUSES, InvocationStatus
from scheduler.domain.status import TargetKey
from scheduler.store.arrays import Unnested
from scheduler.store.tables import Timestamp, executions, instance_columns, on_instances, values_of


@dataclass(frozen=True)
class Changed:
    """An execution that a report changed, and its invocation."""

    key: ExecutionKey
    invocation_id: str

    @property
    def target(self) -> TargetKey:
        """The target the execution is a run of, whose status follows."""
        agent, _ = self.key
        return TargetKey(self.invocation_id, agent.instance_id)


def _reports(name: str, **columns: TypeEngine[Any]) -> Unnested:
    """Rows naming executions as their agents do, with ``columns`` more."""
    return Unnested(
        name, id=Text(), account_id=Text(), region_id=Text(), instance_id=Text(), **columns
    )


def _of_agent(rows: Unnested) -> ColumnElement[bool]:
    return and_(executions.c.id == rows.c.id, on_instances(executions, rows.rows))


def _bind(rows: Unnested, keys: Sequence[ExecutionKey], **columns: list[Any]) -> dict[str, Any]:
    return rows.bind(
        id=[execution_id for _, execution_id in keys],
        **instance_columns(agent for agent, _ in keys),
        **columns,
    )


_RETURNED = (
    executions.c.id,
    executions.c.account_id,
    executions.c.region_id,
    executions.c.instance_id,
    executions.c.invocation_id,
)


def _changed(rows: Iterable[Row[Any]], keys: Sequence[ExecutionKey]) -> list[Changed]:
    """The executions of ``keys`` among ``rows``: the same id, of the same agent."""
    found = {r.id: r for r in rows}
    changed = []
    for agent, execution_id in keys:
        row = found.get(execution_id)
        if (
            row is not None
            and row.instance_id == agent.instance_id
            and row.account_id == agent.tenant.account_id
            and row.region_id == agent.tenant.region_id
        ):
            changed.append(Changed((agent, execution_id), row.invocation_id))
    return changed


_acked = _reports("k")
_ACKNOWLEDGE = (
    update(executions)
    .where(_of_agent(_acked), executions.c.status.in_(values_of(ACTIVE_STATUSES)))
    .values(acked_at=func.coalesce(executions.c.acked_at, func.now()))
    .returning(*_RETURNED)
)


async def acknowledge(conn: AsyncConnection, reports: Sequence[Acknowledged]) -> set[ExecutionKey]:
    """The agents hold these executions; returns those still open.

    A late acknowledgement of one that has ended, or of one that is not the
    agent's own, changes nothing (and is not returned).
    """
    if not reports:
        return set()
    keys = [(r.agent, r.execution_id) for r in reports]
    rows = await conn.execute(_ACKNOWLEDGE, _bind(_acked, keys))
    return {change.key for change in _changed(rows, keys)}


_started = _reports("s", started_at=Timestamp)
_START = (
    update(executions)
    .where(_of_agent(_started), executions.c.status == InvocationStatus.PENDING.value)
    .values(
        status=InvocationStatus.RUNNING.value,
        started_at=_started.c.started_at,
        acked_at=func.coalesce(executions.c.acked_at, func.now()),
        updated_at=func.now(),
    )
    .returning(*_RETURNED)
)
_running = _reports("r")
_RUNNING = select(*_RETURNED).where(
    _of_agent(_running), executions.c.status == InvocationStatus.RUNNING.value
)


async def start(
    conn: AsyncConnection, reports: Sequence[Started]
) -> tuple[list[Changed], set[ExecutionKey]]:
    """Mark these pending executions running: returns those it changed, and those now running.

    Anything reported started that is not running afterwards (a stop came while
    the task was on its way, it ended meanwhile, it is not the agent's) is for
    the agent to stop.
    """
    if not reports:
        return [], set()
    keys = [(r.agent, r.execution_id) for r in reports]
    started_at = [r.started_at for r in reports]
    changed = _changed(
        await conn.execute(_START, _bind(_started, keys, started_at=started_at)), keys
    )
    running = _changed(await conn.execute(_RUNNING, _bind(_running, keys)), keys)
    return changed, {change.key for change in running}


_chunks = _reports("o", offset=BigInteger(), data=LargeBinary(), end_offset=BigInteger())
_APPEND = (
    update(executions)
    .where(
        _of_agent(_chunks),
        executions.c.status.in_(values_of(ACTIVE_STATUSES)),
        # A chunk before the stored end is a resend: the head it belongs to is stored.
        executions.c.output_size <= _chunks.c.offset,
    )
    .values(
        output=func.substring(
            executions.c.output.concat(_chunks.c.data), 1, bindparam("limit", type_=Integer)
        ),
        output_size=_chunks.c.end_offset,
    )
)
_open = _reports("p")
_OPEN = select(*_RETURNED).where(
    _of_agent(_open), executions.c.status.in_(values_of(ACTIVE_STATUSES))
)


async def append_output(
    conn: AsyncConnection, chunks: Sequence[JoinedOutput], limit: int
) -> list[Changed]:
    """Keep live output up to ``limit`` bytes; returns the executions still open.

    Only the head is stored while running; the agent's final result carries
    head and tail. A chunk before the stored end (a resend) is ignored; one
    after it (the agent dropped live output while disconnected) is appended.
    Output of an execution that has ended (a lost agent's, say) changes nothing.
    """
    if not chunks:
        return []
    keys = [(c.agent, c.execution_id) for c in chunks]
    await conn.execute(
        _APPEND,
        {
            **_bind(
                _chunks,
                keys,
                offset=[c.offset for c in chunks],
                data=[c.data for c in chunks],
                end_offset=[c.end for c in chunks],
            ),
            "limit": limit,
        },
    )
    return _changed(await conn.execute(_OPEN, _bind(_open, keys)), keys)


_results = _reports(
    "f",
    status=Text(),
    exit_code=Integer(),
    error_code=Text(),
    error_info=Text(),
    output=LargeBinary(),
    dropped=BigInteger(),
    started_at=Timestamp,
    finished_at=Timestamp,
)
_FINISH = (
    update(executions)
    .where(
        _of_agent(_results),
        # A final status never changes: a late report is not stored over it.
        executions.c.status.in_(values_of(ACTIVE_STATUSES)),
    )
    .values(
        status=_results.c.status,
        exit_code=_results.c.exit_code,
        error_code=_results.c.error_code,
        error_info=_results.c.error_info,
        output=_results.c.output,
        output_size=func.length(_results.c.output) + _results.c.dropped,
        dropped=_results.c.dropped,
        started_at=func.coalesce(_results.c.started_at, executions.c.started_at),
        finished_at=func.coalesce(_results.c.finished_at, func.now()),
        updated_at=func.now(),
    )
    .returning(*_RETURNED)
)


async def finish(conn: AsyncConnection, reports: Sequence[Finished]) -> list[Changed]:
    """Record the agents' final results; returns the executions changed (not a resend's)."""
    if not reports:
        return []
    keys = [(r.agent, r.execution_id) for r in reports]
    results = [r.result for r in reports]
    rows = await conn.execute(
        _FINISH,
        _bind(
            _results,
            keys,
            status=[r.status.value for r in results],
            exit_code=[r.exit_code for r in results],
            error_code=[r.error_code for r in results],
            error_info=[r.error_info for r in results],
            output=[r.output for r in results],
            dropped=[r.dropped for r in results],
            started_at=[r.started_at for r in results],
            finished_at=[r.finished_at for r in results],
        ),
    )
    return _changed(rows, keys)
