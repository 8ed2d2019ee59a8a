"""Schedule control in SQL: locking an invocation to pause, resume, modify or trigger it,
and the statements that change it (``operations.control``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Text, any_, bindparam, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import InvocationStatus, RepeatMode
from scheduler.domain.invocation import PlannedTarget
from scheduler.domain.models import Command, InvocationSettings
from scheduler.domain.tenancy import Tenant
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.invocations import command_of, settings_of
from scheduler.store.tables import (
    Timestamp,
    invocation_status_counts,
    invocation_targets,
    invocations,
)


@dataclass(kw_only=True, frozen=True)
class Controlled:
    """An invocation locked for a control call: its targets' rows and its own are held."""

    id: str
    created_at: datetime
    settings: InvocationSettings
    command: Command
    """The invocation's copy of its command."""
    paused: bool
    armed: dict[str, bool]
    """Every target's instance id and whether it is armed."""
    selector: dict[str, str] | None
    """The selector of an invocation by selector (``resource_tags``); None: by ids."""
    stopped: bool

    @property
    def repeat_mode(self) -> RepeatMode:
        """The invocation's repeat mode."""
        return self.settings.repeat_mode

    def armed_ids(self) -> list[str]:
        """The instance ids of the armed targets, sorted."""
        return sorted(i for i, armed in self.armed.items() if armed)


async def lock(conn: AsyncConnection, tenant: Tenant, invoke_id: str) -> Controlled | None:
    """Lock the tenant's invocation for a control call; None when there is none.

    Its targets first, in key order, then the invocation row, the order in which a
    status refresh takes them (``store.statuses``): a call waits for a ticker round
    or a boot holding the targets, and the ticker's next claim sees what it did.
    """
    targets = await conn.execute(
        select(invocation_targets.c.instance_id, invocation_targets.c.armed)
        .where(
            invocation_targets.c.invocation_id == invoke_id,
            invocation_targets.c.account_id == tenant.account_id,
            invocation_targets.c.region_id == tenant.region_id,
        )
        .order_by(invocation_targets.c.instance_id)
        .with_for_update()
    )
    armed = {row.instance_id: row.armed for row in targets}
    row = (
        await conn.execute(
            select(invocations)
            .where(
                invocations.c.id == invoke_id,
                invocations.c.account_id == tenant.account_id,
                invocations.c.region_id == tenant.region_id,
            )
            .with_for_update(key_share=True)
        )
    ).first()
    if row is None:
        return None
    settings = settings_of(row)
    return Controlled(
        id=row.id,
        created_at=row.created_at,
        settings=settings,
        command=command_of(row),
        paused=row.paused_at is not None,
        armed=armed,
        selector=None if row.resource_tags is None else dict(row.resource_tags),
        stopped=row.stopped_at is not None,
    )


async def set_paused(conn: AsyncConnection, invoke_id: str, paused: bool) -> None:
    """Pause the invocation (from now, unless paused already) or resume it."""
    await conn.execute(
        update(invocations)
        .where(invocations.c.id == invoke_id)
        .values(paused_at=func.coalesce(invocations.c.paused_at, func.now()) if paused else None)
    )


async def modify(
    conn: AsyncConnection,
    invoke_id: str,
    settings: InvocationSettings,
    command: Command,
    selector: Mapping[str, str] | None,
) -> None:
    """Store a ModifyInvocation's settings, script copy and selector (None: as it is)."""
    values: dict[str, Any] = {
        "frequency": settings.frequency,
        "parameters": dict(settings.parameters),
        "timeout": settings.timeout,
        "content": command.content,
    }
    if selector is not None:
        values["resource_tags"] = dict(selector)
    await conn.execute(update(invocations).where(invocations.c.id == invoke_id).values(values))


_planned = Unnested("p", instance_id=Text(), next_fire_at=Timestamp)
_insert_armed = insert(invocation_targets).from_select(
    ["invocation_id", "account_id", "region_id", "instance_id", "status", "armed", "next_fire_at"],
    select(
        bindparam("a_invocation_id", type_=Text()),
        bindparam("a_account_id", type_=Text()),
        bindparam("a_region_id", type_=Text()),
        _planned.c.instance_id,
        # What a disarmed target that never ran derives: the caller's refresh moves it on.
        literal(InvocationStatus.CANCELLED.value, Text()),
        true(),
        _planned.c.next_fire_at,
    ),
)
# A target the invocation has already (armed, or disarmed by a stop or a removal) keeps
# its row, counters and status, the refresh re-deriving the status as it is armed.
_ARM = _insert_armed.on_conflict_do_update(
    index_elements=[invocation_targets.c.invocation_id, invocation_targets.c.instance_id],
    set_={
        "armed": True,
        "next_fire_at": _insert_armed.excluded.next_fire_at,
        "updated_at": func.now(),
    },
)
_COUNT_NEW = (
    insert(invocation_status_counts)
    .values(
        invocation_id=bindparam("c_invocation_id", type_=Text()),
        status=InvocationStatus.CANCELLED.value,
        targets=bindparam("c_targets", type_=Integer()),
    )
    .on_conflict_do_update(
        index_elements=[
            invocation_status_counts.c.invocation_id,
            invocation_status_counts.c.status,
        ],
        set_={
            "targets": invocation_status_counts.c.targets + bindparam("c_targets", type_=Integer())
        },
    )
)


async def arm(
    conn: AsyncConnection,
    tenant: Tenant,
    invocation: Controlled,
    planned: list[PlannedTarget],
) -> None:
    """Arm these targets of the locked ``invocation`` for their planned next fires, making
    the targets it does not have yet (their history, if any, stays).

    A new target is made as a disarmed target that never ran derives (``Cancelled``) and
    counted so (a positive delta: an upsert of its count is safe); the caller refreshes
    every target it arms (``invocations_changed``), which derives it ``Scheduled`` and
    moves the counts and the overall status as for any other change.
    """
    if not planned:
        return
    await conn.execute(
        _ARM,
        {
            "a_invocation_id": invocation.id,
            "a_account_id": tenant.account_id,
            "a_region_id": tenant.region_id,
            **_planned.bind(
                instance_id=[p.instance_id for p in planned],
                next_fire_at=[p.next_fire_at for p in planned],
            ),
        },
    )
    new = sum(1 for p in planned if p.instance_id not in invocation.armed)
    if new:
        await conn.execute(_COUNT_NEW, {"c_invocation_id": invocation.id, "c_targets": new})


_DISARM = (
    update(invocation_targets)
    .where(
        invocation_targets.c.invocation_id == bindparam("d_invocation_id", type_=Text()),
        invocation_targets.c.instance_id == any_(array_parameter("d_instance_ids", Text())),
    )
    .values(armed=False, next_fire_at=None, updated_at=func.now())
)


async def disarm(conn: AsyncConnection, invoke_id: str, instance_ids: list[str]) -> None:
    """Disarm these targets: no fire after this; their history stays."""
    if instance_ids:
        await conn.execute(
            _DISARM, {"d_invocation_id": invoke_id, "d_instance_ids": array(instance_ids)}
        )
