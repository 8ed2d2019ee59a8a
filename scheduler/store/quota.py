"""Quota counters, consumed by single conditional statements so that no race exceeds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.tenancy import Tenant
from scheduler.store.arrays import Unnested
from scheduler.store.tables import account_usage, daily_usage

# Bind parameters; not named like columns, which insert and update keep for themselves.
_account = bindparam("account", type_=String)
_region = bindparam("region", type_=String)
_day = bindparam("utc_day", type_=Date)
_count = bindparam("count", type_=Integer)
_limit = bindparam("limit", type_=Integer)


_TENANT = (account_usage.c.account_id == _account, account_usage.c.region_id == _region)


def _take_slot(counter: Column[int]) -> Any:
    """Count one more in the tenant's ``account_usage`` counter, returning a row only
    while it stays within the limit: one statement, so no race exceeds it."""
    return (
        insert(account_usage)
        .from_select(
            ["account_id", "region_id", counter.name],
            select(_account, _region, literal(1)).where(literal(1) <= _limit),
        )
        .on_conflict_do_update(
            index_elements=[account_usage.c.account_id, account_usage.c.region_id],
            set_={counter.name: counter + 1},
            where=counter + 1 <= _limit,
        )
        .returning(counter)
    )


_TAKE_COMMAND = _take_slot(account_usage.c.commands)

_wanted = Unnested("wanted", account_id=Text(), region_id=Text(), slots=Integer())
_of_wanted = and_(
    account_usage.c.account_id == _wanted.c.account_id,
    account_usage.c.region_id == _wanted.c.region_id,
)
_ENSURE_TENANTS = (
    insert(account_usage)
    .from_select(["account_id", "region_id"], select(_wanted.c.account_id, _wanted.c.region_id))
    .on_conflict_do_nothing()
)
# Each tenant's row, locked in key order (two replicas never wait on each other in a
# circle), as it was before this statement adds to it.
_instances_before = (
    select(
        account_usage.c.account_id,
        account_usage.c.region_id,
        account_usage.c.instances,
        _wanted.c.slots,
    )
    .join_from(account_usage, _wanted.rows, _of_wanted)
    .order_by(account_usage.c.account_id, account_usage.c.region_id)
    .with_for_update(of=account_usage)
    .cte("before")
)
_TAKE_INSTANCES_UP_TO = (
    update(account_usage)
    .where(
        account_usage.c.account_id == _instances_before.c.account_id,
        account_usage.c.region_id == _instances_before.c.region_id,
    )
    .values(
        instances=func.greatest(
            _instances_before.c.instances,
            func.least(_limit, _instances_before.c.instances + _instances_before.c.slots),
        )
    )
    .returning(
        account_usage.c.account_id,
        account_usage.c.region_id,
        (account_usage.c.instances - _instances_before.c.instances).label("granted"),
    )
)

_RELEASE_COMMAND = (
    update(account_usage)
    .where(*_TENANT, account_usage.c.commands > 0)
    .values(commands=account_usage.c.commands - 1)
)

_TODAY = (
    daily_usage.c.account_id == _account,
    daily_usage.c.region_id == _region,
    daily_usage.c.day == _day,
)

_TAKE_EXECUTIONS = (
    insert(daily_usage)
    .from_select(
        ["account_id", "region_id", "day", "executions"],
        select(_account, _region, _day, _count).where(_count <= _limit),
    )
    .on_conflict_do_update(
        index_elements=[daily_usage.c.account_id, daily_usage.c.region_id, daily_usage.c.day],
        set_={"executions": daily_usage.c.executions + _count},
        where=daily_usage.c.executions + _count <= _limit,
    )
    .returning(daily_usage.c.executions)
)

_ENSURE_DAY = (
    insert(daily_usage)
    .values(account_id=_account, region_id=_region, day=_day, executions=0)
    .on_conflict_do_nothing()
)

# The day's row, locked, as it was before this statement adds to it.
_before = (
    select(
        daily_usage.c.account_id,
        daily_usage.c.region_id,
        daily_usage.c.day,
        daily_usage.c.executions,
    )
    .where(*_TODAY)
    .with_for_update()
    .cte("before")
)
_TAKE_UP_TO = (
    update(daily_usage)
    .where(
        daily_usage.c.account_id == _before.c.account_id,
        daily_usage.c.region_id == _before.c.region_id,
        daily_usage.c.day == _before.c.day,
    )
    .values(
        executions=func.greatest(
            _before.c.executions, func.least(_limit, _before.c.executions + _count)
        )
    )
    .returning((daily_usage.c.executions - _before.c.executions).label("granted"))
)

_USAGE = select(
    select(account_usage.c.commands).where(*_TENANT).scalar_subquery().label("commands"),
    select(account_usage.c.instances).where(*_TENANT).scalar_subquery().label("instances"),
    select(daily_usage.c.executions).where(*_TODAY).scalar_subquery().label("executions"),
)


async def take_command_slot(conn: AsyncConnection, tenant: Tenant, limit: int) -> bool:
    """Count one more saved command; False (and nothing changed) when at ``limit``."""
    row = await conn.execute(_TAKE_COMMAND, {**_keys(tenant), "limit": limit})
    return row.first() is not None


async def take_instance_slots(
    conn: AsyncConnection, wanted: Mapping[Tenant, int], limit: int
) -> dict[Tenant, int]:
    """Count up to ``wanted`` more instances per tenant within ``limit``; how many each got.

    Two statements whatever the number of tenants; each tenant's counter is
    locked while it grows, so concurrent registrations never exceed the limit.
    """
    tenants = sorted(wanted, key=lambda t: (t.account_id, t.region_id))
    rows = _wanted.bind(
        account_id=[t.account_id for t in tenants],
        region_id=[t.region_id for t in tenants],
        slots=[wanted[t] for t in tenants],
    )
    await conn.execute(_ENSURE_TENANTS, rows)
    granted = await conn.execute(_TAKE_INSTANCES_UP_TO, {**rows, "limit": limit})
    return {Tenant(row.account_id, row.region_id): row.granted for row in granted}


async def release_command_slot(conn: AsyncConnection, tenant: Tenant) -> None:
    """Count one saved command less."""
    await conn.execute(_RELEASE_COMMAND, _keys(tenant))


async def take_executions(
    conn: AsyncConnection, tenant: Tenant, day: date, count: int, limit: int
) -> bool:
    """Count ``count`` more executions on UTC ``day``; False (nothing changed) past ``limit``."""
    if count == 0:
        return True
    row = await conn.execute(
        _TAKE_EXECUTIONS, {**_keys(tenant), "utc_day": day, "count": count, "limit": limit}
    )
    return row.first() is not None


async def take_executions_up_to(
    conn: AsyncConnection, tenant: Tenant, day: date, count: int, limit: int
) -> int:
    """Count up to ``count`` more executions on UTC ``day`` within ``limit``; returns how many."""
    if count == 0:
        return 0
    keys = {**_keys(tenant), "utc_day": day}
    await conn.execute(_ENSURE_DAY, keys)
    granted: int = (
        await conn.execute(_TAKE_UP_TO, {**keys, "count": count, "limit": limit})
    ).scalar_one()
    return granted


@dataclass(frozen=True)
class Usage:
    """How much of its quotas a tenant uses."""

    commands: int
    instances: int
    executions: int
    """On the day asked for."""


async def usage(conn: AsyncConnection, tenant: Tenant, day: date) -> Usage:
    """Saved commands, instances, and executions on ``day``."""
    row = (await conn.execute(_USAGE, {**_keys(tenant), "utc_day": day})).one()
    return Usage(
        commands=row.commands or 0, instances=row.instances or 0, executions=row.executions or 0
    )


def _keys(tenant: Tenant) -> dict[str, str]:
    return {"account": tenant.account_id, "region": tenant.region_id}
