"""Invocations by selector: the instances a selector matches, the live selector invocations
of tenants, and their targets joining and leaving.

Membership changes and creations are ordered by one advisory lock per tenant: a
transaction that changes instances' tags takes it shared (many at once), one that
creates a selector invocation takes it exclusive. So an invocation being created
never misses an instance whose tags change meanwhile, nor does a tag change miss an
invocation being created: one of the two sees the other's commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Boolean, Text, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import InvocationStatus, RepeatMode, ResourceType
from scheduler.domain.selectors import Arming, Member, SelectorInvocation
from scheduler.domain.status import StatusChange, TargetKey
from scheduler.domain.tenancy import Tenant
from scheduler.store.arrays import Unnested
from scheduler.store.invocations import settings_of
from scheduler.store.tables import Timestamp, invocation_targets, invocations, on_targets
from scheduler.store.tags import effective_tags, selected, selector_params

_LOCK_KEY = "kairos-selectors"


def _tenant_lock(tenant: Tenant) -> Any:
    return func.hashtextextended(
        func.concat(_LOCK_KEY, "/", tenant.account_id, "/", tenant.region_id), 0
    )


async def lock_for_creation(conn: AsyncConnection, tenant: Tenant) -> None:
    """Wait for the tenant's tag changes in flight, and hold them off to the commit."""
    await conn.execute(select(func.pg_advisory_xact_lock(_tenant_lock(tenant))))


async def lock_for_tag_changes(conn: AsyncConnection, tenants: Sequence[Tenant]) -> None:
    """Wait for the tenants' selector invocations being created (shared among tag changes)."""
    for tenant in sorted(set(tenants), key=lambda t: (t.account_id, t.region_id)):
        await conn.execute(select(func.pg_advisory_xact_lock_shared(_tenant_lock(tenant))))


async def matching_instances(
    conn: AsyncConnection, tenant: Tenant, selector: Mapping[str, str], limit: int
) -> list[str]:
    """The ids of the tenant's instances with every tag of ``selector``, by id, at most
    ``limit`` of them."""
    query = selected(ResourceType.INSTANCE).order_by("resource_id").limit(limit)
    rows = await conn.execute(
        query,
        {"account_id": tenant.account_id, "region_id": tenant.region_id}
        | selector_params(selector),
    )
    return list(rows.scalars())


_LIVE = select(invocations).where(
    invocations.c.account_id == bindparam("account_id"),
    invocations.c.region_id == bindparam("region_id"),
    invocations.c.resource_tags.is_not(None),
    invocations.c.stopped_at.is_(None),
    invocations.c.repeat_mode.in_(
        [m.value for m in RepeatMode if not m.is_immediate],
    ),
)


async def live_selector_invocations(
    conn: AsyncConnection, tenant: Tenant
) -> list[SelectorInvocation]:
    """The tenant's periodic and boot invocations by selector that are not stopped."""
    rows = await conn.execute(
        _LIVE.order_by(invocations.c.id),
        {"account_id": tenant.account_id, "region_id": tenant.region_id},
    )
    return [
        SelectorInvocation(
            id=row.id,
            selector=dict(row.resource_tags),
            settings=settings_of(row),
            created_at=row.created_at,
        )
        for row in rows
    ]


_pairs = Unnested("p", invocation_id=Text(), instance_id=Text())
_MEMBERS = (
    select(
        invocation_targets.c.invocation_id,
        invocation_targets.c.instance_id,
        invocation_targets.c.armed,
        invocation_targets.c.repeats,
    )
    .join(_pairs.rows, on_targets(invocation_targets, _pairs.rows))
    .order_by(invocation_targets.c.invocation_id, invocation_targets.c.instance_id)
    # Held to the commit: a ticker holding one mid-fire is waited for, then seen.
    .with_for_update(of=invocation_targets)
)


async def members(
    conn: AsyncConnection, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], Member]:
    """The targets among (invocation id, instance id) ``pairs``, locked in key order."""
    rows = await conn.execute(
        _MEMBERS,
        _pairs.bind(
            invocation_id=[i for i, _ in pairs], instance_id=[instance for _, instance in pairs]
        ),
    )
    return {(r.invocation_id, r.instance_id): Member(r.armed, r.repeats) for r in rows}


_joining = Unnested(
    "j",
    invocation_id=Text(),
    account_id=Text(),
    region_id=Text(),
    instance_id=Text(),
    next_fire_at=Timestamp,
)
_JOIN = insert(invocation_targets).from_select(
    ["invocation_id", "account_id", "region_id", "instance_id", "next_fire_at", "status", "armed"],
    select(
        *_joining.c,
        bindparam("scheduled", type_=Text()),
        bindparam("armed", type_=Boolean()),
    ),
)
_arming = Unnested(
    "a", invocation_id=Text(), instance_id=Text(), armed=Boolean(), next_fire_at=Timestamp
)
_REARM = (
    update(invocation_targets)
    .where(on_targets(invocation_targets, _arming.rows))
    .values(armed=_arming.c.armed, next_fire_at=_arming.c.next_fire_at, updated_at=func.now())
)


async def apply_moves(
    conn: AsyncConnection,
    tenant: Tenant,
    armed: Sequence[Arming],
    left: Sequence[tuple[str, str]],
) -> tuple[list[TargetKey], dict[TargetKey, StatusChange]]:
    """Insert the new targets (armed, Scheduled), arm again those that rejoin and disarm
    those that left. Returns the targets to re-derive (re-armed and left ones) and the
    new ones, as created (counted, not re-derived)."""
    new = [a for a in armed if a.new]
    again = [a for a in armed if not a.new]
    if new:
        await conn.execute(
            _JOIN,
            {
                **_joining.bind(
                    invocation_id=[a.invocation_id for a in new],
                    account_id=[tenant.account_id] * len(new),
                    region_id=[tenant.region_id] * len(new),
                    instance_id=[a.instance_id for a in new],
                    next_fire_at=[a.next_fire_at for a in new],
                ),
                "scheduled": InvocationStatus.SCHEDULED.value,
                "armed": True,
            },
        )
    moved = [(a.invocation_id, a.instance_id, True, a.next_fire_at) for a in again] + [
        (invocation_id, instance_id, False, None) for invocation_id, instance_id in left
    ]
    if moved:
        await conn.execute(
            _REARM,
            _arming.bind(
                invocation_id=[m[0] for m in moved],
                instance_id=[m[1] for m in moved],
                armed=[m[2] for m in moved],
                next_fire_at=[m[3] for m in moved],
            ),
        )
    created = {
        TargetKey(a.invocation_id, a.instance_id): StatusChange(
            a.invocation_id, None, InvocationStatus.SCHEDULED
        )
        for a in new
    }
    return [TargetKey(m[0], m[1]) for m in moved], created


_claimed = Unnested("c", invocation_id=Text(), instance_id=Text())
_effective = effective_tags().subquery("effective")
_wanted = (
    func.jsonb_each_text(invocations.c.resource_tags)
    .table_valued("key", "value")
    .render_derived(name="wanted")
)
# A claimed target of a selector invocation whose instance lacks one of its tags.
_UNSELECTED = (
    select(_claimed.c.invocation_id, _claimed.c.instance_id)
    .join(invocations, invocations.c.id == _claimed.c.invocation_id)
    .where(
        invocations.c.resource_tags.is_not(None),
        exists(
            select(_wanted.c.key).where(
                ~exists()
                .where(
                    _effective.c.account_id == invocations.c.account_id,
                    _effective.c.region_id == invocations.c.region_id,
                    _effective.c.resource_type == ResourceType.INSTANCE.value,
                    _effective.c.resource_id == _claimed.c.instance_id,
                    _effective.c.key == _wanted.c.key,
                    or_(_wanted.c.value == "", _effective.c.value == _wanted.c.value),
                )
                # Of the outer query's rows, not joined anew.
                .correlate(invocations, _claimed.rows, _wanted)
            )
        ),
    )
)


async def unselected(conn: AsyncConnection, claimed: Sequence[TargetKey]) -> set[TargetKey]:
    """Among claimed targets, those of selector invocations whose instance no longer has
    the selector's tags: one statement, for any number. Membership is kept in step where
    tags change (``operations.selectors``); this makes sure that no path that forgets to
    can fire a non-member."""
    if not claimed:
        return set()
    rows = await conn.execute(
        _UNSELECTED,
        _claimed.bind(
            invocation_id=[k.invocation_id for k in claimed],
            instance_id=[k.instance_id for k in claimed],
        ),
    )
    return {TargetKey(r.invocation_id, r.instance_id) for r in rows}
