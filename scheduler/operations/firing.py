"""Turning fires of armed targets into executions: quota, rendering, one insert.

Shared by the ticker (periodic fires) and the dispatcher (boot triggers); the
caller holds the targets' row locks and advances them in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain import ids
from scheduler.domain.codes import ExecutionErrorCode
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.invocation import render_execution
from scheduler.domain.limits import Limits
from scheduler.domain.models import PlannedExecution
from scheduler.domain.tenancy import Tenant
from scheduler.observability import metrics
from scheduler.store import invocations as invocation_store
from scheduler.store import notices, quota
from scheduler.store.executions import NewExecution, insert_executions
from scheduler.store.targets import ArmedTarget


@dataclass(frozen=True)
class Fire:
    """One scheduled instant of one target, to run."""

    target: ArmedTarget
    scheduled_at: datetime


async def create_executions(
    conn: AsyncConnection, limits: Limits, fires: list[Fire], today: date, *, trigger: str
) -> int:
    """Create the fires' executions and wake the dispatchers; returns how many were created.

    Each tenant's daily quota is consumed in this transaction; a fire beyond
    it becomes a visible ``Failed`` execution (``InvocationQuotaExceeded``),
    never a silent gap.
    """
    by_tenant: dict[Tenant, list[Fire]] = defaultdict(list)
    for fire in sorted(fires, key=lambda f: f.scheduled_at):
        by_tenant[fire.target.tenant].append(fire)
    new: list[NewExecution] = []
    # Tenants in a fixed order: concurrent rounds (replicas) take the quota rows' locks
    # in the same order, so they queue behind one another instead of deadlocking.
    for tenant in sorted(by_tenant, key=lambda t: (t.account_id, t.region_id)):
        tenant_fires = by_tenant[tenant]
        granted = await quota.take_executions_up_to(
            conn, tenant, today, len(tenant_fires), limits.max_daily_executions
        )
        for number, fire in enumerate(tenant_fires):
            plan = _plan(fire.target)
            if number >= granted:
                plan = PlannedExecution(
                    plan.id,
                    plan.instance_id,
                    plan.script,
                    InvocationStatus.FAILED,
                    error_code=ExecutionErrorCode.INVOCATION_QUOTA_EXCEEDED,
                    error_info=(
                        f"the account's limit of {limits.max_daily_executions} executions "
                        "per UTC day was reached; this fire did not run"
                    ),
                )
            new.append(
                NewExecution(
                    tenant,
                    fire.target.invocation_id,
                    plan,
                    fire.scheduled_at,
                    repeat=fire.target.repeats + 1,
                )
            )
    created = await insert_executions(conn, new)
    created_new = [n for n in new if n.plan.id in created]
    invoke_ids = sorted({n.invocation_id for n in created_new})
    await invocation_store.refresh_statuses(conn, invoke_ids)
    pending = sorted(
        {n.plan.instance_id for n in created_new if n.plan.status is InvocationStatus.PENDING}
    )
    await notices.send(conn, notices.executions_changed(invoke_ids) + notices.dispatch(pending))
    # Counted before the commit: a rolled-back round is retried and counted again.
    metrics.fires.labels(trigger).inc(len(created_new))
    return len(created_new)


def _plan(target: ArmedTarget) -> PlannedExecution:
    return render_execution(
        command=target.command,
        values=target.parameters,
        instance=target.instance,
        tenant=target.tenant,
        invoke_id=target.invocation_id,
        execution_id=ids.execution_id(),
    )
