"""CreateActivation, DescribeActivations, DisableActivation and DeleteActivation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain import ids
from scheduler.domain.activations import Activation, ActivationRequest, check_activation
from scheduler.domain.codes import RefusalCode
from scheduler.domain.credentials import digest, new_activation_code
from scheduler.domain.enums import ResourceType
from scheduler.domain.errors import KairosError, not_found, precondition
from scheduler.domain.limits import check_page_size, require_id
from scheduler.domain.tags import Tag, check_tags
from scheduler.domain.tenancy import Tenant
from scheduler.operations.context import Context
from scheduler.operations.tags import tag_new
from scheduler.store import activations as store
from scheduler.store.tags import tags_by_resource


@dataclass(frozen=True)
class Created:
    """A new activation and its code, which is never shown again."""

    activation: Activation
    code: str


@dataclass(frozen=True, kw_only=True)
class ActivationPage:
    """One page of activations."""

    activations: list[Activation]
    total_count: int
    next_token: str
    tags: dict[str, dict[str, str]]
    """Each activation's tags, by id."""


async def create_activation(
    ctx: Context, tenant: Tenant, request: ActivationRequest, tags: Sequence[Tag] = ()
) -> Created:
    """Store a new activation (with ``tags``) with a fresh code; only the code's hash is
    kept."""
    activation = check_activation(request)
    given = check_tags(tags)
    code = new_activation_code()

    async def create(conn: AsyncConnection) -> Activation:
        created = await store.insert_activation(
            conn, tenant, ids.activation_id(), activation, digest(code)
        )
        await tag_new(conn, tenant, ResourceType.ACTIVATION, created.id, given)
        return created

    return Created(await ctx.transaction(create), code)


async def describe_activations(
    ctx: Context,
    tenant: Tenant,
    *,
    activation_id: str,
    instance_name: str,
    max_results: int,
    next_token: str,
    tags: Sequence[Tag] = (),
) -> ActivationPage:
    """One page of the tenant's activations (those with every one of ``tags``), newest
    first, with their tags."""
    page_size = check_page_size(max_results)
    having = check_tags(tags)

    async def read(conn: AsyncConnection) -> ActivationPage:
        page, total, token = await store.list_activations(
            conn,
            tenant,
            activation_id=activation_id,
            instance_name=instance_name,
            page_size=page_size,
            next_token=next_token,
            tags=having,
        )
        shown = await tags_by_resource(conn, tenant, ResourceType.ACTIVATION, [a.id for a in page])
        return ActivationPage(activations=page, total_count=total, next_token=token, tags=shown)

    return await ctx.transaction(read)


async def disable_activation(ctx: Context, tenant: Tenant, activation_id: str) -> None:
    """No more registrations with this activation; its instances keep working."""
    require_id("activation_id", activation_id)

    async def disable(conn: AsyncConnection) -> None:
        if not await store.disable(conn, tenant, activation_id):
            raise _not_found(activation_id)

    await ctx.transaction(disable)


async def delete_activation(ctx: Context, tenant: Tenant, activation_id: str) -> None:
    """Delete an activation that registered nothing, or a disabled one."""
    require_id("activation_id", activation_id)

    async def delete(conn: AsyncConnection) -> None:
        if await store.delete_unused(conn, tenant, activation_id):
            return
        if not await store.exists(conn, tenant, activation_id):
            raise _not_found(activation_id)
        raise precondition(
            RefusalCode.INVALID_ACTIVATION_IN_USE,
            f"activation {activation_id} has registered instances and is not disabled; "
            "disable it first",
        )

    await ctx.transaction(delete)


def _not_found(activation_id: str) -> KairosError:
    return not_found(
        RefusalCode.INVALID_ACTIVATION_ID_NOT_FOUND, f"activation {activation_id} not found"
    )
