"""Rows for store tests, written straight into the tables of a migrated database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import CommandType, InvocationStatus, OsType, RepeatMode
from scheduler.domain.models import Command
from scheduler.domain.tenancy import Tenant
from scheduler.store.invocations import NewTarget, insert_invocation
from scheduler.store.tables import commands, dispatchers, executions, instances
from tests.factories import invocation_settings

TENANT = Tenant(account_id="account", region_id="region")
FIRST_FIRE = datetime(2026, 12, 1, tzinfo=UTC)

COMMAND = Command(
    id="c-1",
    name="command",
    description="",
    type=CommandType.RUN_SHELL_SCRIPT,
    content=b"true",
    working_dir="",
    timeout=60,
    enable_parameter=False,
    parameter_names=[],
    kept=True,
)


async def add_command(conn: AsyncConnection) -> None:
    """The tenant's command ``COMMAND``."""
    await conn.execute(
        insert(commands).values(
            id=COMMAND.id,
            account_id=TENANT.account_id,
            region_id=TENANT.region_id,
            name=COMMAND.name,
            type=COMMAND.type.value,
            content=COMMAND.content,
            timeout=COMMAND.timeout,
            enable_parameter=COMMAND.enable_parameter,
            kept=COMMAND.kept,
        )
    )


async def add_instance(
    conn: AsyncConnection,
    instance_id: str,
    *,
    dispatcher_id: str | None = None,
    lease_lapsed: bool = False,
    last_heartbeat_at: datetime | None = None,
) -> None:
    """A Linux instance of the tenant; its heartbeat is now unless given.

    With ``dispatcher_id`` its agent is connected to that dispatcher, whose lease
    lives (or has lapsed, with ``lease_lapsed``: the replica crashed).
    """
    values: dict[str, object] = {
        "id": instance_id,
        "account_id": TENANT.account_id,
        "region_id": TENANT.region_id,
        "os_type": OsType.LINUX.value,
        "dispatcher_id": dispatcher_id,
    }
    if last_heartbeat_at is not None:
        values["last_heartbeat_at"] = last_heartbeat_at
    await conn.execute(insert(instances).values(values))
    if dispatcher_id is not None:
        expires = func.now() + timedelta(seconds=-1 if lease_lapsed else 60)
        await conn.execute(
            pg_insert(dispatchers)
            .values(
                id=dispatcher_id, renewed_at=expires - timedelta(seconds=15), expires_at=expires
            )
            .on_conflict_do_nothing()
        )


async def add_invocation(
    conn: AsyncConnection,
    invoke_id: str,
    instance_ids: list[str],
    *,
    armed: bool = False,
    status: InvocationStatus = InvocationStatus.SCHEDULED,
    repeat_mode: RepeatMode = RepeatMode.PERIOD,
    max_concurrency: str = "",
    max_errors: str = "",
) -> None:
    """An invocation of ``COMMAND`` with a target on each instance: periodic (``rate(10s)``,
    armed ones due at ``FIRST_FIRE``) unless ``repeat_mode`` is a boot trigger; rate
    controlled with ``max_concurrency`` and ``max_errors``."""
    periodic = repeat_mode is RepeatMode.PERIOD
    await insert_invocation(
        conn,
        TENANT,
        invoke_id=invoke_id,
        command=COMMAND,
        settings=invocation_settings(
            repeat_mode=repeat_mode,
            frequency="rate(10s)" if periodic else "",
            max_concurrency=max_concurrency,
            max_errors=max_errors,
        ),
        targets=[
            NewTarget(
                instance_id=i,
                status=status,
                armed=armed,
                next_fire_at=FIRST_FIRE if armed and periodic else None,
                repeats=0,
            )
            for i in instance_ids
        ],
    )


async def add_execution(
    conn: AsyncConnection,
    invoke_id: str,
    instance_id: str,
    *,
    status: InvocationStatus,
    repeat: int = 1,
    created_at: datetime | None = None,
    acked: bool = False,
    released_at: datetime | None = None,
    held: bool = False,
) -> str:
    """The ``repeat``-th execution of the target; returns its id. Released (by rate
    control) when it was created, unless ``released_at`` says when, or it is ``held``."""
    execution_id = f"e-{invoke_id}-{instance_id}-{repeat}"
    values: dict[str, object] = {
        "id": execution_id,
        "account_id": TENANT.account_id,
        "region_id": TENANT.region_id,
        "invocation_id": invoke_id,
        "instance_id": instance_id,
        "scheduled_at": FIRST_FIRE + timedelta(seconds=10 * (repeat - 1)),
        "repeat": repeat,
        "status": status.value,
        "script": COMMAND.content,
    }
    if created_at is not None:
        values["created_at"] = created_at
    if not held:
        values["released_at"] = released_at or created_at or func.now()
    if acked:
        values["acked_at"] = func.now()
    await conn.execute(insert(executions).values(values))
    return execution_id


async def recount(conn: AsyncConnection, invoke_ids: list[str]) -> None:
    """Count these invocations' targets afresh, as their statuses now are (the counts
    ``store.invocations.insert_invocation`` starts an invocation with)."""
    await conn.execute(
        text(
            "INSERT INTO invocation_status_counts (invocation_id, status, targets)"
            " SELECT invocation_id, status, count(*) FROM invocation_targets"
            " WHERE invocation_id = ANY(:ids) GROUP BY invocation_id, status"
        ),
        {"ids": invoke_ids},
    )
