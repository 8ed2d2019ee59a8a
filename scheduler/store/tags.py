"""Tags of resources: set, removed, listed, and resources selected by their tags.

Every statement has one text whatever the number of resources or tags: they are
bound as arrays (``arrays.Unnested``). A resource's tags are its *effective* ones:
its API tags and, for instances, the tags its agent reported that no API tag of the
same key overrides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.enums import ResourceType, TagSource
from scheduler.domain.tags import MAX_TAGS
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.store.arrays import Unnested, array, array_parameter
from scheduler.store.credentials import not_deregistered
from scheduler.store.paging import decode_token, encode_token
from scheduler.store.tables import TAGGED_TABLES, commands, tags


@dataclass(frozen=True, kw_only=True)
class TagRow:
    """One effective tag of one resource."""

    resource_id: str
    key: str
    value: str
    reported: bool


def _tenant_type() -> ColumnElement[bool]:
    return and_(
        tags.c.account_id == bindparam("account_id"),
        tags.c.region_id == bindparam("region_id"),
        tags.c.resource_type == bindparam("resource_type"),
    )


def _bound(tenant: Tenant, resource_type: ResourceType) -> dict[str, Any]:
    return {
        "account_id": tenant.account_id,
        "region_id": tenant.region_id,
        "resource_type": resource_type.value,
    }


def effective_tags() -> Select[Any]:
    """The tags rows that count: API tags, and reported tags no API tag overrides."""
    api = tags.alias("api")
    overridden = exists().where(
        api.c.account_id == tags.c.account_id,
        api.c.region_id == tags.c.region_id,
        api.c.resource_type == tags.c.resource_type,
        api.c.resource_id == tags.c.resource_id,
        api.c.key == tags.c.key,
        api.c.source == TagSource.API.value,
    )
    return select(tags).where(or_(tags.c.source == TagSource.API.value, ~overridden))


_selector = Unnested("sel", key=Text(), value=Text())


def selected(resource_type: ResourceType) -> Select[Any]:
    """The ids of the resources of the bound tenant (``account_id``, ``region_id``) that
    have every tag of the bound selector (``selector_params``): one row each."""
    effective = effective_tags().subquery("effective")
    return (
        select(effective.c.resource_id)
        .join(
            _selector.rows,
            and_(
                effective.c.key == _selector.c.key,
                or_(_selector.c.value == "", effective.c.value == _selector.c.value),
            ),
        )
        .where(
            effective.c.account_id == bindparam("account_id"),
            effective.c.region_id == bindparam("region_id"),
            effective.c.resource_type == resource_type.value,
        )
        .group_by(effective.c.resource_id)
        # The selector's keys are distinct: a resource matched them all once each.
        .having(func.count() == bindparam("selector_size", type_=Integer()))
    )


def selector_params(selector: Mapping[str, str]) -> dict[str, Any]:
    """The bind parameters of ``selected``'s selector."""
    return {
        **_selector.bind(key=list(selector), value=list(selector.values())),
        "selector_size": len(selector),
    }


async def existing(
    conn: AsyncConnection, tenant: Tenant, resource_type: ResourceType, ids: Sequence[str]
) -> set[str]:
    """Which of ``ids`` are resources of the tenant (a command only if it is saved, an
    instance only if it was not deregistered), locked ``FOR NO KEY UPDATE`` in id order
    (as an agent's Hello locks an instance's row).

    Changes of one resource's tags happen one after the other: two cannot each count
    only their own new tags and together pass its limit, and what an instance's tags
    make it join or leave in selector invocations happens in order."""
    table = TAGGED_TABLES[resource_type]
    query = (
        select(table.c.id)
        .where(
            table.c.account_id == tenant.account_id,
            table.c.region_id == tenant.region_id,
            table.c.id == any_(array_parameter("ids", Text())),
            commands.c.kept if table is commands else true(),
            not_deregistered(table) if resource_type is ResourceType.INSTANCE else true(),
        )
        .order_by(table.c.id)
        .with_for_update(key_share=True)
    )
    found = set((await conn.execute(query, {"ids": array(ids)})).scalars())
    if resource_type is ResourceType.INSTANCE and found:
        # A deregistration holds the row without changing it, so the wait for its lock
        # does not check the condition again: a statement of its own, which sees what
        # committed meanwhile, does.
        found = set(
            (
                await conn.execute(
                    select(table.c.id).where(
                        table.c.account_id == tenant.account_id,
                        table.c.region_id == tenant.region_id,
                        table.c.id == any_(array_parameter("ids", Text())),
                        not_deregistered(table),
                    ),
                    {"ids": array(sorted(found))},
                )
            ).scalars()
        )
    return found


_targets = Unnested("t", resource_id=Text())
_new = Unnested("n", key=Text(), value=Text())
_ADD = insert(tags).from_select(
    ["account_id", "region_id", "resource_type", "resource_id", "source", "key", "value"],
    select(
        bindparam("account_id"),
        bindparam("region_id"),
        bindparam("resource_type"),
        _targets.c.resource_id,
        literal(TagSource.API.value),
        _new.c.key,
        _new.c.value,
    ).select_from(_targets.rows.join(_new.rows, true())),
)
_ADD = _ADD.on_conflict_do_update(
    index_elements=[c.name for c in tags.primary_key.columns],
    set_={"value": _ADD.excluded.value},
)
_OVER_LIMIT = (
    select(tags.c.resource_id, func.count().label("total"))
    .where(
        _tenant_type(),
        tags.c.source == TagSource.API.value,
        tags.c.resource_id == any_(array_parameter("ids", Text())),
    )
    .group_by(tags.c.resource_id)
    .having(func.count() > MAX_TAGS)
    .order_by(tags.c.resource_id)
)


async def add_tags(
    conn: AsyncConnection,
    tenant: Tenant,
    resource_type: ResourceType,
    ids: Sequence[str],
    new: Mapping[str, str],
) -> list[tuple[str, int]]:
    """Set the API tags ``new`` on every resource (a key it has gets the new value);
    returns the resources that now have more than ``MAX_TAGS`` API tags, with their
    counts (the caller refuses, rolling it back)."""
    bound = _bound(tenant, resource_type)
    await conn.execute(
        _ADD,
        {
            **bound,
            **_targets.bind(resource_id=ids),
            **_new.bind(key=list(new), value=list(new.values())),
        },
    )
    rows = await conn.execute(_OVER_LIMIT, {**bound, "ids": array(ids)})
    return [(row.resource_id, row.total) for row in rows]


_REMOVE = delete(tags).where(
    _tenant_type(),
    tags.c.source == TagSource.API.value,
    tags.c.resource_id == any_(array_parameter("ids", Text())),
    # NULL keys: every key.
    or_(
        bindparam("keys", type_=Text()).is_(None),
        tags.c.key == any_(array_parameter("keys", Text())),
    ),
)


async def remove_tags(
    conn: AsyncConnection,
    tenant: Tenant,
    resource_type: ResourceType,
    ids: Sequence[str],
    keys: Sequence[str] | None,
) -> None:
    """Remove the API tags of ``keys`` (None: all API tags) from every resource."""
    await conn.execute(
        _REMOVE,
        {
            **_bound(tenant, resource_type),
            "ids": array(ids),
            "keys": None if keys is None else array(keys),
        },
    )


_FORGET_INSTANCE = delete(tags).where(
    tags.c.account_id == bindparam("account_id"),
    tags.c.region_id == bindparam("region_id"),
    tags.c.resource_type == ResourceType.INSTANCE.value,
    tags.c.resource_id == bindparam("instance_id"),
)


async def forget_instance(conn: AsyncConnection, instance: InstanceKey) -> None:
    """Delete every tag of the instance, the API's and its agent's: a deregistered instance
    matches no selector any more."""
    await conn.execute(
        _FORGET_INSTANCE,
        {
            "account_id": instance.tenant.account_id,
            "region_id": instance.tenant.region_id,
            "instance_id": instance.instance_id,
        },
    )


async def list_tags(
    conn: AsyncConnection,
    tenant: Tenant,
    resource_type: ResourceType,
    *,
    ids: Sequence[str],
    selector: Mapping[str, str],
    page_size: int,
    next_token: str,
) -> tuple[list[TagRow], str]:
    """One page of the effective tags of the resources named by ``ids`` or, without
    ids, of those ``selector`` selects; by resource id, then key."""
    effective = effective_tags().subquery("effective")
    query = select(effective).where(
        effective.c.account_id == bindparam("account_id"),
        effective.c.region_id == bindparam("region_id"),
        effective.c.resource_type == bindparam("resource_type"),
    )
    params = _bound(tenant, resource_type)
    if ids:
        query = query.where(effective.c.resource_id == any_(array_parameter("ids", Text())))
        params["ids"] = array(ids)
    else:
        query = query.where(effective.c.resource_id.in_(selected(resource_type)))
        params.update(selector_params(selector))
    after = decode_token(next_token, 2)
    if after is not None:
        query = query.where(
            tuple_(effective.c.resource_id, effective.c.key) > tuple_(str(after[0]), str(after[1]))
        )
    query = query.order_by(effective.c.resource_id, effective.c.key).limit(page_size + 1)
    rows = (await conn.execute(query, params)).all()
    page = [
        TagRow(
            resource_id=r.resource_id,
            key=r.key,
            value=r.value,
            reported=r.source == TagSource.REPORTED.value,
        )
        for r in rows[:page_size]
    ]
    token = encode_token([page[-1].resource_id, page[-1].key]) if len(rows) > page_size else ""
    return page, token


async def tags_by_resource(
    conn: AsyncConnection, tenant: Tenant, resource_type: ResourceType, ids: Sequence[str]
) -> dict[str, dict[str, str]]:
    """The effective tags of each of ``ids`` (key → value, by key); none: absent."""
    effective = effective_tags().subquery("effective")
    query = (
        select(effective.c.resource_id, effective.c.key, effective.c.value)
        .where(
            effective.c.account_id == bindparam("account_id"),
            effective.c.region_id == bindparam("region_id"),
            effective.c.resource_type == bindparam("resource_type"),
            effective.c.resource_id == any_(array_parameter("ids", Text())),
        )
        .order_by(effective.c.resource_id, effective.c.key)
    )
    found: dict[str, dict[str, str]] = {}
    for row in await conn.execute(query, {**_bound(tenant, resource_type), "ids": array(ids)}):
        found.setdefault(row.resource_id, {})[row.key] = row.value
    return found


_agents = Unnested("a", account_id=Text(), region_id=Text(), instance_id=Text())
_reported = Unnested(
    "r", account_id=Text(), region_id=Text(), instance_id=Text(), key=Text(), value=Text()
)
_same_instance = and_(
    tags.c.account_id == _reported.c.account_id,
    tags.c.region_id == _reported.c.region_id,
    tags.c.resource_id == _reported.c.instance_id,
)
# Keys an agent no longer reports: the only rows deleted.
_dropped = (
    delete(tags)
    .where(
        tags.c.account_id == _agents.c.account_id,
        tags.c.region_id == _agents.c.region_id,
        tags.c.resource_id == _agents.c.instance_id,
        tags.c.resource_type == ResourceType.INSTANCE.value,
        tags.c.source == TagSource.REPORTED.value,
        ~exists().where(_same_instance, tags.c.key == _reported.c.key),
    )
    .returning(tags.c.account_id, tags.c.region_id, tags.c.resource_id)
    .cte("dropped")
)
_upsert = insert(tags).from_select(
    ["account_id", "region_id", "resource_type", "resource_id", "source", "key", "value"],
    select(
        _reported.c.account_id,
        _reported.c.region_id,
        literal(ResourceType.INSTANCE.value),
        _reported.c.instance_id,
        literal(TagSource.REPORTED.value),
        _reported.c.key,
        _reported.c.value,
    ),
)
# A key reported again with the same value is not written (the row is only locked).
_upsert = _upsert.on_conflict_do_update(
    index_elements=[c.name for c in tags.primary_key.columns],
    set_={"value": _upsert.excluded.value},
    where=tags.c.value != _upsert.excluded.value,
)
_written = _upsert.returning(tags.c.account_id, tags.c.region_id, tags.c.resource_id).cte("written")
_REPLACE_REPORTED = select(_dropped).union(select(_written))


async def replace_reported(
    conn: AsyncConnection, agents: Sequence[tuple[Tenant, str, Sequence[tuple[str, str]]]]
) -> set[tuple[Tenant, str]]:
    """Replace the reported tags of these instances (tenant, instance id, (key, value)s) by
    the given ones, writing only what changed: one statement for any number. Returns the
    instances whose reported tags changed. Instances must be distinct, keys distinct each."""
    rows = [(tenant, instance_id, k, v) for tenant, instance_id, pairs in agents for k, v in pairs]
    result = await conn.execute(
        _REPLACE_REPORTED,
        {
            **_agents.bind(
                account_id=[tenant.account_id for tenant, _, _ in agents],
                region_id=[tenant.region_id for tenant, _, _ in agents],
                instance_id=[instance_id for _, instance_id, _ in agents],
            ),
            **_reported.bind(
                account_id=[tenant.account_id for tenant, _, _, _ in rows],
                region_id=[tenant.region_id for tenant, _, _, _ in rows],
                instance_id=[instance_id for _, instance_id, _, _ in rows],
                key=[k for _, _, k, _ in rows],
                value=[v for _, _, _, v in rows],
            ),
        },
    )
    return {(Tenant(r.account_id, r.region_id), r.resource_id) for r in result}


def having_tags(
    ids: ColumnElement[str],
    resource_type: ResourceType,
    tenant: Tenant,
    selector: Mapping[str, str],
) -> ColumnElement[bool]:
    """A condition for a listing: the resource whose id is ``ids`` has every tag of
    ``selector`` (an empty value: the key) — a Describe call's ``tags`` filter."""
    return ids.in_(
        selected(resource_type).params(
            account_id=tenant.account_id,
            region_id=tenant.region_id,
            **selector_params(selector),
        )
    )
