"""Queries on instances, as their agents describe them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Text, and_, any_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import OsType
from scheduler.domain.models import AgentHello, Instance
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store import quota
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.paging import decode_token, encode_token
from scheduler.store.tables import instances


@dataclass(frozen=True)
class Registration:
    """What a connecting agent's Hello told."""

    over_quota: bool
    """A new instance the tenant has no room for (``max_instances``): the agent is refused."""
    rebooted: bool
    """The boot id changed since the last connection: the machine booted."""


_INSTANCES_AMONG = select(instances).where(
    instances.c.account_id == bindparam("account_id"),
    instances.c.region_id == bindparam("region_id"),
    instances.c.id == any_(array_parameter("ids", Text())),
)


async def get_instances(
    conn: AsyncConnection, tenant: Tenant, instance_ids: list[str]
) -> dict[str, Instance]:
    """The tenant's instances among ``instance_ids``, by id."""
    rows = await conn.execute(
        _INSTANCES_AMONG,
        {
            "account_id": tenant.account_id,
            "region_id": tenant.region_id,
            "ids": array(instance_ids),
        },
    )
    return {row.id: _instance(row) for row in rows}


async def list_instances(
    conn: AsyncConnection,
    tenant: Tenant,
    instance_ids: list[str],
    page_size: int,
    next_token: str,
) -> tuple[list[Instance], int, str]:
    """One page of the tenant's instances by id, the total and the next token."""
    conditions = [_own(tenant)]
    if instance_ids:
        conditions.append(instances.c.id.in_(instance_ids))
    total = (
        await conn.execute(select(func.count()).select_from(instances).where(*conditions))
    ).scalar_one()
    query = select(instances).where(*conditions)
    after = decode_token(next_token, 1)
    if after is not None:
        query = query.where(instances.c.id > str(after[0]))
    rows = (await conn.execute(query.order_by(instances.c.id).limit(page_size + 1))).all()
    page = [_instance(r) for r in rows[:page_size]]
    token = encode_token([page[-1].id]) if len(rows) > page_size else ""
    return page, total, token


async def register_agent(
    conn: AsyncConnection,
    tenant: Tenant,
    hello: AgentHello,
    *,
    dispatcher_id: str,
    max_instances: int,
) -> Registration:
    """Record a connecting agent; a new instance takes one of the tenant's ``max_instances``.

    An instance the tenant already has is never refused, whatever the quota.
    """
    key = InstanceKey(tenant, hello.instance_id)
    previous = (
        await conn.execute(select(instances.c.boot_id).where(_is(key)).with_for_update())
    ).first()
    if previous is None:
        # Inserted first, counted only if new: a concurrent first connection of the same
        # instance waits here for the other's insert and then counts nothing.
        created = await conn.execute(
            insert(instances)
            .values(
                id=key.instance_id,
                account_id=tenant.account_id,
                region_id=tenant.region_id,
                os_type=hello.os_type.value,
            )
            .on_conflict_do_nothing()
            .returning(instances.c.id)
        )
        if created.first() is not None and not await quota.take_instance_slot(
            conn, tenant, max_instances
        ):
            return Registration(over_quota=True, rebooted=False)
    # A never-seen instance's first connection is not a boot; nor is a reconnect.
    rebooted = previous is not None and bool(previous.boot_id) and previous.boot_id != hello.boot_id
    await conn.execute(
        update(instances)
        .where(_is(key))
        .values(
            name=hello.name,
            os_type=hello.os_type.value,
            agent_version=hello.agent_version,
            time_zone=hello.time_zone,
            boot_id=hello.boot_id,
            last_heartbeat_at=func.now(),
            dispatcher_id=dispatcher_id,
            **({"last_boot_at": func.clock_timestamp()} if rebooted else {}),
        )
    )
    return Registration(over_quota=False, rebooted=rebooted)


_heard = Unnested("h", account_id=Text(), region_id=Text(), instance_id=Text())
_HEARTBEATS = (
    update(instances)
    .where(
        instances.c.account_id == _heard.c.account_id,
        instances.c.region_id == _heard.c.region_id,
        instances.c.id == _heard.c.instance_id,
    )
    .values(last_heartbeat_at=func.now(), dispatcher_id=bindparam("dispatcher_of"))
)


async def heartbeats(conn: AsyncConnection, agents: list[InstanceKey], dispatcher_id: str) -> None:
    """Record that these agents, connected to ``dispatcher_id``, were heard from: one statement."""
    await conn.execute(
        _HEARTBEATS,
        {
            **_heard.bind(
                account_id=[a.tenant.account_id for a in agents],
                region_id=[a.tenant.region_id for a in agents],
                instance_id=[a.instance_id for a in agents],
            ),
            "dispatcher_of": dispatcher_id,
        },
    )


async def disconnect(
    conn: AsyncConnection, key: InstanceKey, dispatcher_id: str, last_heard_at: datetime
) -> None:
    """Forget the agent's stream, unless another dispatcher holds it by now; its last sign
    of life is ``last_heard_at`` (heartbeats are written in bulk, a few seconds late)."""
    await conn.execute(
        update(instances)
        .where(_is(key), instances.c.dispatcher_id == dispatcher_id)
        .values(
            dispatcher_id=None,
            last_heartbeat_at=func.greatest(instances.c.last_heartbeat_at, last_heard_at),
        )
    )


def _is(key: InstanceKey) -> Any:
    return and_(_own(key.tenant), instances.c.id == key.instance_id)


def _own(tenant: Tenant) -> Any:
    return and_(
        instances.c.account_id == tenant.account_id, instances.c.region_id == tenant.region_id
    )


def _instance(row: Row[Any]) -> Instance:
    return instance_from(dict(row._mapping))


def instance_from(values: Mapping[str, Any]) -> Instance:
    """An instance from the columns of an ``instances`` row (by their column names)."""
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
    )
