"""Managed instances: deregistered by an operator."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import not_found
from scheduler.domain.limits import require_id
from scheduler.domain.tenancy import InstanceKey, Tenant
from scheduler.operations.context import Context
from scheduler.store import activations as activation_store
from scheduler.store import credentials as credential_store


async def deregister(ctx: Context, tenant: Tenant, instance_id: str) -> None:
    """Refuse the managed instance's credential from now on."""
    require_id("instance_id", instance_id)
    instance = InstanceKey(tenant, instance_id)

    async def apply(conn: AsyncConnection) -> None:
        activation_id = await credential_store.deregister(conn, instance)
        if activation_id is None:
            raise not_found(
                RefusalCode.INVALID_INSTANCE_NOT_FOUND,
                f"instance {instance_id} is no registered managed instance of the account",
            )
        await activation_store.count_deregistered(conn, activation_id)

    await ctx.transaction(apply)
