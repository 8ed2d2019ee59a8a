"""Queries on instances, as their agents describe them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Text, and_, any_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import OsType, ResourceType
from scheduler.domain.models import Instance
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store import leases
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.credentials import not_deregistered
from scheduler.store.paging import decode_token, encode_token
from scheduler.store.tables import instance_columns, instances, of_instance
from scheduler.store.tags import having_tags

_CONNECTED = leases.connected().label("connected")
"""Whether a live replica holds the agent's stream: what "online" needs with the row."""
_clock = select(func.now().label("read_at")).subquery("clock")
# One row at least, the clock's, so that the time comes back even when none is found.
_INSTANCES_AMONG = select(_clock.c.read_at, instances, _CONNECTED).select_from(
    _clock.outerjoin(
        instances,
        and_(
            instances.c.account_id == bindparam("account_id"),
            instances.c.region_id == bindparam("region_id"),
            instances.c.id == any_(array_parameter("ids", Text())),
            not_deregistered(instances),
        ),
    )
)


async def get_instances(
    conn: AsyncConnection, tenant: Tenant, instance_ids: list[str]
) -> tuple[dict[str, Instance], datetime]:
    """The tenant's instances among ``instance_ids`` (a deregistered one is none), by id,
    and the database's time for this transaction (``store.clock.database_now``), in one
    round trip."""
    rows = (
        await conn.execute(
            _INSTANCES_AMONG,
            {
                "account_id": tenant.account_id,
                "region_id": tenant.region_id,
                "ids": array(instance_ids),
            },
        )
    ).all()
    return {row.id: _instance(row) for row in rows if row.id is not None}, rows[0].read_at


async def list_instances(
    conn: AsyncConnection,
    tenant: Tenant,
    instance_ids: list[str],
    page_size: int,
    next_token: str,
    *,
    tags: Mapping[str, str],
) -> tuple[list[Instance], int, str]:
    """One page of the tenant's instances by id (with every one of ``tags``), the total and
    the next token."""
    conditions = [_own(tenant)]
    if instance_ids:
        conditions.append(instances.c.id.in_(instance_ids))
    if tags:
        conditions.append(having_tags(instances.c.id, ResourceType.INSTANCE, tenant, tags))
    total = (
        await conn.execute(select(func.count()).select_from(instances).where(*conditions))
    ).scalar_one()
    query = select(instances, _CONNECTED).where(*conditions)
    after = decode_token(next_token, 1)
    if after is not None:
        query = query.where(instances.c.id > str(after[0]))
    rows = (await conn.execute(query.order_by(instances.c.id).limit(page_size + 1))).all()
    page = [_instance(r) for r in rows[:page_size]]
    token = encode_token([page[-1].id]) if len(rows) > page_size else ""
    return page, total, token


_heard = Unnested("h", account_id=Text(), region_id=Text(), instance_id=Text())
# Only rows this replica holds: an agent that reconnected to another replica while this
# one still held its half-open stream belongs to the other (its Hello claimed the row; a
# Hello is the only claim), and a departure already recorded stays recorded.
_HEARTBEATS = (
    update(instances)
    .where(of_instance(_heard.rows), instances.c.dispatcher_id == bindparam("dispatcher_of"))
    .values(last_heartbeat_at=func.now())
)


async def heartbeats(conn: AsyncConnection, agents: list[InstanceKey], dispatcher_id: str) -> None:
    """Record that these agents, connected to ``dispatcher_id``, were heard from: one
    statement, which leaves alone the rows another replica (or nobody) holds by now."""
    await conn.execute(
        _HEARTBEATS,
        {
            **_heard.bind(**instance_columns(agents)),
            "dispatcher_of": dispatcher_id,
        },
    )


def _own(tenant: Tenant) -> Any:
    return and_(
        instances.c.account_id == tenant.account_id, instances.c.region_id == tenant.region_id
    )


def _instance(row: Row[Any]) -> Instance:
    return instance_from(row._mapping)


def instance_from(values: Mapping[Any, Any]) -> Instance:
    """An instance from the columns of an ``instances`` row (by their column names) and
    ``connected`` (``leases.connected``): a row's own mapping, no copy needed."""
    return Instance(
        id=values["id"],
        account_id=values["account_id"],
        region_id=values["region_id"],
        name=values["name"],
        os_type=OsType(values["os_type"]),
        agent_version=values["agent_version"],
        time_zone=values["time_zone"],
        boot_id=values["boot_id"],
        registered_at=values["registered_at"],
        last_heartbeat_at=values["last_heartbeat_at"],
        last_boot_at=values["last_boot_at"],
        dispatcher_id=values["dispatcher_id"],
        connected=values["connected"],
    )
