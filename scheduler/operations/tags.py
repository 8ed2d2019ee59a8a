"""TagResources, UntagResources and ListTagResources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import ResourceType
from scheduler.domain.errors import invalid, not_found
from scheduler.domain.limits import check_page_size
from scheduler.domain.tags import (
    Tag,
    check_resource_ids,
    check_tag_keys,
    check_tag_total,
    check_tags,
)
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.operations.changes import invocations_changed
from scheduler.operations.context import Context
from scheduler.operations.selectors import instances_retagged
from scheduler.store import tags as store
from scheduler.store.tags import TagRow


async def tag_resources(
    ctx: Context,
    tenant: Tenant,
    resource_type: ResourceType | None,
    resource_ids: Sequence[str],
    new: Sequence[Tag],
) -> None:
    """Set API tags on the tenant's resources: all of them or (refused) none."""
    kind = _check_type(resource_type)
    ids = check_resource_ids(resource_ids)
    if not new:
        raise invalid(RefusalCode.INVALID_TAG_COUNT, "tags", "tags is required")
    values = check_tags(new)

    async def tag(conn: AsyncConnection) -> None:
        await _check_exist(conn, tenant, kind, ids)
        for resource_id, total in await store.add_tags(conn, tenant, kind, ids, values):
            check_tag_total(resource_id, total)
        await _retagged(conn, tenant, kind, ids)

    await ctx.transaction(tag)


async def untag_resources(
    ctx: Context,
    tenant: Tenant,
    resource_type: ResourceType | None,
    resource_ids: Sequence[str],
    keys: Sequence[str],
    *,
    all_keys: bool,
) -> None:
    """Remove API tags (of ``keys``, or all of them) from the tenant's resources; tags the
    instances' agents reported stay."""
    kind = _check_type(resource_type)
    ids = check_resource_ids(resource_ids)
    if all_keys and keys:
        raise invalid(
            RefusalCode.INVALID_TAG_KEY_MALFORMED, "tag_keys", "give tag_keys or all, not both"
        )
    if not all_keys and not keys:
        raise invalid(
            RefusalCode.INVALID_TAG_KEY_MALFORMED, "tag_keys", "tag_keys (or all) is required"
        )
    removed = None if all_keys else check_tag_keys(keys)

    async def untag(conn: AsyncConnection) -> None:
        await _check_exist(conn, tenant, kind, ids)
        await store.remove_tags(conn, tenant, kind, ids, removed)
        await _retagged(conn, tenant, kind, ids)

    await ctx.transaction(untag)


async def list_tag_resources(
    ctx: Context,
    tenant: Tenant,
    resource_type: ResourceType | None,
    resource_ids: Sequence[str],
    selector: Sequence[Tag],
    max_results: int,
    next_token: str,
) -> tuple[list[TagRow], str]:
    """One page of the tags of the named resources, or of those that have all ``selector``."""
    kind = _check_type(resource_type)
    ids = check_resource_ids(resource_ids, required=False)
    wanted = check_tags(selector)
    if bool(ids) == bool(wanted):
        raise invalid(
            RefusalCode.INVALID_RESOURCE_ID,
            "resource_ids",
            "give resource_ids or tags (exactly one of the two)",
        )
    page_size = check_page_size(max_results)

    async def read(conn: AsyncConnection) -> tuple[list[TagRow], str]:
        if ids:
            await _check_exist(conn, tenant, kind, ids)
        return await store.list_tags(
            conn,
            tenant,
            kind,
            ids=ids,
            selector=wanted,
            page_size=page_size,
            next_token=next_token,
        )

    return await ctx.transaction(read)


async def _retagged(
    conn: AsyncConnection, tenant: Tenant, kind: ResourceType, ids: list[str]
) -> None:
    """Instances whose tags changed join or leave the selector invocations."""
    if kind is not ResourceType.INSTANCE:
        return
    membership = await instances_retagged(conn, [InstanceKey(tenant, i) for i in ids])
    if membership.targets or membership.created:
        await invocations_changed(
            conn, [*membership.targets, *membership.created], derived=membership.created
        )


async def tag_new(
    conn: AsyncConnection,
    tenant: Tenant,
    kind: ResourceType,
    resource_id: str,
    tags: Mapping[str, str],
) -> None:
    """Give a resource created in this transaction its tags (checked: ``check_tags``)."""
    if tags:
        await store.add_tags(conn, tenant, kind, [resource_id], tags)


def _check_type(resource_type: ResourceType | None) -> ResourceType:
    if resource_type is None:
        raise invalid(
            RefusalCode.INVALID_RESOURCE_TYPE_NOT_SUPPORTED,
            "resource_type",
            f"resource_type is required: one of {', '.join(t.name for t in ResourceType)}",
        )
    return resource_type


async def _check_exist(
    conn: AsyncConnection, tenant: Tenant, kind: ResourceType, ids: list[str]
) -> None:
    """Refuse ids that name no resource of the tenant: another tenant's reads as unknown."""
    found = await store.existing(conn, tenant, kind, ids)
    missing = [i for i in ids if i not in found]
    if missing:
        raise not_found(
            RefusalCode.INVALID_RESOURCE_ID_NOT_FOUND,
            f"{kind.value}s not found: {', '.join(missing)}",
        )
