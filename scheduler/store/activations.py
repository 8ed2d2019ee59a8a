"""Queries on activations, and the one statement a registration takes its count with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Interval,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import CIDR, INET
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.activations import Activation, Gate, NewActivation
from scheduler.domain.enums import ResourceType
from scheduler.domain.tenancy import Tenant
from scheduler.store.paging import (
    newest_first,
    newest_first_token,
)
from scheduler.store.tables import activations
from scheduler.store.tags import having_tags

_SHOWN = (
    activations.c.id,
    activations.c.instance_name,
    activations.c.instance_count,
    activations.c.registered_count,
    activations.c.deregistered_count,
    activations.c.ip_address_range,
    activations.c.description,
    activations.c.disabled,
    activations.c.created_at,
    activations.c.expires_at,
)

_INSERT = (
    insert(activations)
    .values(
        expires_at=func.now() + bindparam("time_to_live", type_=Interval),
    )
    .returning(*_SHOWN)
)


async def insert_activation(
    conn: AsyncConnection,
    tenant: Tenant,
    activation_id: str,
    activation: NewActivation,
    code_hash: str,
) -> Activation:
    """Store a new activation, expiring its time to live from the database's now."""
    row = (
        await conn.execute(
            _INSERT,
            {
                "id": activation_id,
                "account_id": tenant.account_id,
                "region_id": tenant.region_id,
                "instance_name": activation.instance_name,
                "instance_count": activation.instance_count,
                "ip_address_range": activation.ip_address_range,
                "description": activation.description,
                "code_hash": code_hash,
                "time_to_live": activation.time_to_live,
            },
        )
    ).one()
    return _activation(row._mapping)


async def list_activations(
    conn: AsyncConnection,
    tenant: Tenant,
    *,
    activation_id: str,
    instance_name: str,
    page_size: int,
    next_token: str,
    tags: Mapping[str, str],
) -> tuple[list[Activation], int, str]:
    """One page of the tenant's activations (with every one of ``tags``), newest first, the
    total and the next token."""
    conditions = [_own(tenant)]
    if activation_id:
        conditions.append(activations.c.id == activation_id)
    if instance_name:
        conditions.append(activations.c.instance_name == instance_name)
    if tags:
        conditions.append(having_tags(activations.c.id, ResourceType.ACTIVATION, tenant, tags))
    total = (
        await conn.execute(select(func.count()).select_from(activations).where(*conditions))
    ).scalar_one()
    query = select(*_SHOWN).where(*conditions)
    query = newest_first(query, activations.c.created_at, activations.c.id, next_token, page_size)
    rows = (await conn.execute(query)).all()
    page = [_activation(row._mapping) for row in rows[:page_size]]
    return page, total, newest_first_token([(r.created_at, r.id) for r in rows], page_size)


async def disable(conn: AsyncConnection, tenant: Tenant, activation_id: str) -> bool:
    """Disable an activation (again, if it is); False when the tenant has no such one."""
    statement = (
        update(activations)
        .where(_own(tenant), activations.c.id == activation_id)
        .values(disabled=True)
        .returning(activations.c.id)
    )
    return (await conn.execute(statement)).first() is not None


async def delete_unused(conn: AsyncConnection, tenant: Tenant, activation_id: str) -> bool:
    """Delete an activation that registered no instance or is disabled; False otherwise
    (``exists`` tells an activation in use from none)."""
    statement = (
        delete(activations)
        .where(
            _own(tenant),
            activations.c.id == activation_id,
            or_(activations.c.registered_count == 0, activations.c.disabled),
        )
        .returning(activations.c.id)
    )
    return (await conn.execute(statement)).first() is not None


async def exists(conn: AsyncConnection, tenant: Tenant, activation_id: str) -> bool:
    """Whether the tenant has this activation."""
    statement = select(activations.c.id).where(_own(tenant), activations.c.id == activation_id)
    return (await conn.execute(statement)).first() is not None


_range = cast(activations.c.ip_address_range, CIDR)
# Every rule of a registration but the count: the activation, its code, not disabled, not
# expired, the caller inside its range. A replayed registration (``admit``) takes no count
# yet is held to the rest, as a new one (``_TAKE``) is.
_ADMITS = (
    activations.c.id == bindparam("of_activation"),
    # Equality of hashes: a hash of a high-entropy secret gives away nothing usable.
    activations.c.code_hash == bindparam("given_hash"),
    ~activations.c.disabled,
    activations.c.expires_at > func.now(),
    # As ``domain.activations.within``: a /0 network admits any address, IPv6 too.
    or_(
        func.masklen(_range) == 0,
        cast(bindparam("address"), INET).op("<<=")(_range),
    ),
)
_TAKE = (
    update(activations)
    .where(
        *_ADMITS,
        # Concurrent registrations wait for each other's update of the row and re-check
        # this: never more than the count.
        activations.c.registered_count < activations.c.instance_count,
    )
    .values(registered_count=activations.c.registered_count + 1)
    .returning(activations.c.account_id, activations.c.region_id, activations.c.instance_name)
)
# FOR NO KEY UPDATE: the lock ``_TAKE``'s update takes, no stronger.
_ADMIT = (
    select(activations.c.account_id, activations.c.region_id, activations.c.instance_name)
    .where(*_ADMITS)
    .with_for_update(key_share=True)
)


async def take_registration(
    conn: AsyncConnection, activation_id: str, code_hash: str, address: str | None
) -> tuple[Tenant, str] | None:
    """Take one registration of the activation if every rule allows it, in one conditional
    statement; its tenant and instance name, or None (``gate`` then tells why)."""
    return await _registering(conn, _TAKE, activation_id, code_hash, address)


async def admit(
    conn: AsyncConnection, activation_id: str, code_hash: str, address: str | None
) -> tuple[Tenant, str] | None:
    """Whether every rule but the count lets the caller register with the activation: its
    tenant and instance name, the activation's row locked until the transaction ends (as
    ``take_registration`` locks it), or None (``gate`` then tells why). Registrations with
    the activation wait here for each other: one that commits first is seen after."""
    return await _registering(conn, _ADMIT, activation_id, code_hash, address)


async def _registering(
    conn: AsyncConnection,
    statement: Any,
    activation_id: str,
    code_hash: str,
    address: str | None,
) -> tuple[Tenant, str] | None:
    row = (
        await conn.execute(
            statement, {"of_activation": activation_id, "given_hash": code_hash, "address": address}
        )
    ).first()
    return None if row is None else (Tenant(row.account_id, row.region_id), row.instance_name)


async def gate(conn: AsyncConnection, activation_id: str) -> Gate | None:
    """What a registration with the activation is checked against; None for no such one."""
    statement = select(
        activations.c.code_hash,
        activations.c.disabled,
        (activations.c.expires_at <= func.now()).label("expired"),
        activations.c.ip_address_range,
        activations.c.registered_count,
        activations.c.instance_count,
    ).where(activations.c.id == activation_id)
    row = (await conn.execute(statement)).first()
    if row is None:
        return None
    return Gate(
        code_hash=row.code_hash,
        disabled=row.disabled,
        expired=row.expired,
        ip_address_range=row.ip_address_range,
        registered_count=row.registered_count,
        instance_count=row.instance_count,
    )


async def count_deregistered(conn: AsyncConnection, activation_id: str) -> None:
    """One more instance of the activation (if it still exists) was deregistered."""
    await conn.execute(
        update(activations)
        .where(activations.c.id == activation_id)
        .values(deregistered_count=activations.c.deregistered_count + 1)
    )


def _own(tenant: Tenant) -> Any:
    return and_(
        activations.c.account_id == tenant.account_id,
        activations.c.region_id == tenant.region_id,
    )


def _activation(row: Mapping[Any, Any]) -> Activation:
    return Activation(
        id=row["id"],
        instance_name=row["instance_name"],
        instance_count=row["instance_count"],
        registered_count=row["registered_count"],
        deregistered_count=row["deregistered_count"],
        ip_address_range=row["ip_address_range"],
        description=row["description"],
        disabled=row["disabled"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )
