"""The store's per-target status rule in SQL is ``domain.status.target_status``, case by case.

``refresh_statuses`` runs on a real PostgreSQL over one target for every
combination of its latest execution's status (or none) and whether it is armed;
each target must end in the status the pure rule gives, and the invocation in
the overall status of those (through its counts).
"""

from __future__ import annotations

import itertools

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.domain.enums import EXECUTION_STATUSES, InvocationStatus
from scheduler.domain.status import TargetKey, overall_status, target_status
from scheduler.store.statuses import refresh_statuses
from scheduler.store.tables import invocation_status_counts, invocation_targets, invocations
from tests.integration.seed import (
    add_command,
    add_execution,
    add_instance,
    add_invocation,
    recount,
)

LATEST: list[InvocationStatus | None] = [None, *sorted(EXECUTION_STATUSES)]


def _earlier(latest: InvocationStatus) -> InvocationStatus:
    # A different status before the latest: only the latest run may count.
    if latest is InvocationStatus.SUCCESS:
        return InvocationStatus.RUNNING
    return InvocationStatus.SUCCESS


async def test_refreshed_target_statuses_follow_the_rule(engine: AsyncEngine) -> None:
    cases = list(itertools.product(LATEST, [False, True]))
    expected: dict[str, InvocationStatus] = {}
    async with engine.begin() as conn:
        await add_command(conn)
        for armed in (False, True):
            instance_ids = [f"i-{n}-{armed}" for n in range(len(LATEST))]
            for instance_id in instance_ids:
                await add_instance(conn, instance_id)
            await add_invocation(conn, f"inv-{armed}", instance_ids, armed=armed)
        for latest, armed in cases:
            instance_id = f"i-{LATEST.index(latest)}-{armed}"
            if latest is not None:
                invoke_id = f"inv-{armed}"
                await add_execution(conn, invoke_id, instance_id, status=_earlier(latest), repeat=1)
                await add_execution(conn, invoke_id, instance_id, status=latest, repeat=2)
            expected[instance_id] = target_status(latest, armed=armed)
            # A stale status unlike the expected one: the refresh must write every target.
            stale = (
                InvocationStatus.STOPPED
                if expected[instance_id] is InvocationStatus.PARTIAL_FAILED
                else InvocationStatus.PARTIAL_FAILED
            )
            await conn.execute(
                update(invocation_targets)
                .where(invocation_targets.c.instance_id == instance_id)
                .values(status=stale.value)
            )
        # Counted as they now are: the counts hold what the targets hold.
        await conn.execute(delete(invocation_status_counts))
        await recount(conn, ["inv-False", "inv-True"])

    async with engine.begin() as conn:
        await refresh_statuses(
            conn,
            [TargetKey(f"inv-{i.rsplit('-', 1)[1]}", i) for i in expected],
        )

    async with engine.connect() as conn:
        targets = await conn.execute(
            select(invocation_targets.c.instance_id, invocation_targets.c.status)
        )
        found = {row.instance_id: InvocationStatus(row.status) for row in targets}
        overall = await conn.execute(select(invocations.c.id, invocations.c.status))
        found_overall = {row.id: InvocationStatus(row.status) for row in overall}
    assert found == expected
    assert found_overall == {
        f"inv-{armed}": overall_status(
            status for instance_id, status in expected.items() if instance_id.endswith(str(armed))
        )
        for armed in (False, True)
    }
