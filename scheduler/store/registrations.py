"""Connecting and disconnecting agents, many in one statement.

Each statement has the same text for any number of agents (``arrays.Unnested``);
rows are locked in key order, so that two dispatcher replicas registering
overlapping agents never wait on each other in a circle.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Text, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.arrivals import Arrival
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store.arrays import Unnested
from scheduler.store.tables import instance_columns, instances, of_instance

_keys = Unnested("k", account_id=Text(), region_id=Text(), instance_id=Text())
_hellos = Unnested(
    "hello",
    account_id=Text(),
    region_id=Text(),
    instance_id=Text(),
    instance_name=Text(),
    os_type=Text(),
    agent_version=Text(),
    time_zone=Text(),
    boot_id=Text(),
)
_gone = Unnested(
    "gone",
    account_id=Text(),
    region_id=Text(),
    instance_id=Text(),
    last_heard_at=DateTime(timezone=True),
)


_INSERT_NEW = (
    insert(instances)
    .from_select(
        ["id", "account_id", "region_id", "os_type"],
        select(_hellos.c.instance_id, _hellos.c.account_id, _hellos.c.region_id, _hellos.c.os_type),
    )
    # A concurrent first connection of the same instance waits here for the other's
    # insert and then creates (and counts) nothing.
    .on_conflict_do_nothing()
    .returning(instances.c.account_id, instances.c.region_id, instances.c.id)
)

_FORGET = delete(instances).where(of_instance(_keys.rows))

# Every row to record, locked, with its boot id as it was before this statement.
_before = (
    select(
        instances.c.boot_id.label("previous_boot_id"),
        *(column for column in _hellos.c),
    )
    .join_from(instances, _hellos.rows, of_instance(_hellos.rows))
    .order_by(instances.c.account_id, instances.c.region_id, instances.c.id)
    .with_for_update(of=instances)
    .cte("before")
)
_RECORD = (
    update(instances)
    .where(of_instance(_before))
    .values(
        name=_before.c.instance_name,
        os_type=_before.c.os_type,
        agent_version=_before.c.agent_version,
        time_zone=_before.c.time_zone,
        boot_id=_before.c.boot_id,
        last_heartbeat_at=func.now(),
        dispatcher_id=bindparam("dispatcher_of"),
    )
    .returning(
        instances.c.account_id, instances.c.region_id, instances.c.id, _before.c.previous_boot_id
    )
)

_BOOTED = (
    update(instances).where(of_instance(_keys.rows)).values(last_boot_at=func.clock_timestamp())
)

_DISCONNECT = (
    update(instances)
    .where(of_instance(_gone.rows), instances.c.dispatcher_id == bindparam("dispatcher_of"))
    .values(
        dispatcher_id=None,
        last_heartbeat_at=func.greatest(instances.c.last_heartbeat_at, _gone.c.last_heard_at),
    )
)


async def insert_new(conn: AsyncConnection, arrivals: Sequence[Arrival]) -> set[InstanceKey]:
    """Create the instances not known yet; which ones this created."""
    rows = await conn.execute(_INSERT_NEW, _hello_rows(arrivals))
    return {InstanceKey(Tenant(row.account_id, row.region_id), row.id) for row in rows}


async def forget(conn: AsyncConnection, keys: Sequence[InstanceKey]) -> None:
    """Remove these instances (created in this transaction, then refused)."""
    await conn.execute(_FORGET, _key_rows(keys))


async def record(
    conn: AsyncConnection, arrivals: Sequence[Arrival], dispatcher_id: str
) -> dict[InstanceKey, str]:
    """Record what the agents' Hellos say, their stream now held by ``dispatcher_id``;
    each instance's boot id before (empty for a new one)."""
    rows = await conn.execute(_RECORD, {**_hello_rows(arrivals), "dispatcher_of": dispatcher_id})
    return {
        InstanceKey(Tenant(row.account_id, row.region_id), row.id): row.previous_boot_id
        for row in rows
    }


async def booted(conn: AsyncConnection, keys: Sequence[InstanceKey]) -> None:
    """These instances booted, now."""
    await conn.execute(_BOOTED, _key_rows(keys))


async def disconnect(
    conn: AsyncConnection, gone: Sequence[tuple[InstanceKey, datetime]], dispatcher_id: str
) -> None:
    """Forget these agents' streams to ``dispatcher_id``, except where another dispatcher
    holds one by now; each agent's last sign of life is its given instant (heartbeats
    are written in bulk, a few seconds late). One statement; keys must be distinct."""
    await conn.execute(
        _DISCONNECT,
        {
            **_gone.bind(
                **instance_columns(key for key, _ in gone),
                last_heard_at=[at for _, at in gone],
            ),
            "dispatcher_of": dispatcher_id,
        },
    )


def _hello_rows(arrivals: Sequence[Arrival]) -> dict[str, list[Any]]:
    return _hellos.bind(
        account_id=[a.tenant.account_id for a in arrivals],
        region_id=[a.tenant.region_id for a in arrivals],
        instance_id=[a.hello.instance_id for a in arrivals],
        instance_name=[a.hello.name for a in arrivals],
        os_type=[a.hello.os_type.value for a in arrivals],
        agent_version=[a.hello.agent_version for a in arrivals],
        time_zone=[a.hello.time_zone for a in arrivals],
        boot_id=[a.hello.boot_id for a in arrivals],
    )


def _key_rows(keys: Sequence[InstanceKey]) -> dict[str, list[Any]]:
    return _keys.bind(**instance_columns(keys))
