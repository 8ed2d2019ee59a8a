"""DescribeInstances, DescribeAgentStatus and DescribeAccountAttributes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.codes import QuotaName
from scheduler.domain.enums import ResourceType
from scheduler.domain.limits import check_instance_ids, check_page_size
from scheduler.domain.models import Instance
from scheduler.domain.tags import Tag, check_tags
from scheduler.domain.tenancy import Tenant
from scheduler.operations.context import Context
from scheduler.store import instances as store
from scheduler.store import quota
from scheduler.store.clock import database_now
from scheduler.store.tags import tags_by_resource


@dataclass(frozen=True)
class AccountAttribute:
    """A quota: its name, limit and current use."""

    name: QuotaName
    limit: int
    used: int


@dataclass(frozen=True, kw_only=True)
class InstancePage:
    """One page of instances, each with whether its agent is online now."""

    instances: list[tuple[Instance, bool]]
    total_count: int
    next_token: str
    tags: dict[str, dict[str, str]]
    """Each instance's tags (API and reported, the former winning), by instance id."""


async def describe_instances(
    ctx: Context,
    tenant: Tenant,
    instance_ids: list[str],
    max_results: int,
    next_token: str,
    tags: Sequence[Tag] = (),
) -> InstancePage:
    """One page of the tenant's instances (those with every one of ``tags``), online by
    the database's clock, with their tags."""
    page_size = check_page_size(max_results)
    wanted = check_instance_ids(ctx.limits, instance_ids, required=False)
    having = check_tags(tags)

    async def read(conn: AsyncConnection) -> InstancePage:
        page, total, token = await store.list_instances(
            conn, tenant, wanted, page_size, next_token, tags=having
        )
        now = await database_now(conn)
        online = [(i, i.online(now, ctx.limits.offline_after)) for i in page]
        shown = await tags_by_resource(conn, tenant, ResourceType.INSTANCE, [i.id for i in page])
        return InstancePage(instances=online, total_count=total, next_token=token, tags=shown)

    return await ctx.transaction(read)


async def account_attributes(ctx: Context, tenant: Tenant) -> list[AccountAttribute]:
    """The command and instance quotas and today's (UTC) execution quota, with their use."""

    async def read(conn: AsyncConnection) -> list[AccountAttribute]:
        today = (await database_now(conn)).date()
        used = await quota.usage(conn, tenant, today)
        return [
            AccountAttribute(QuotaName.MAX_COMMAND_COUNT, ctx.limits.max_commands, used.commands),
            AccountAttribute(
                QuotaName.MAX_INSTANCE_COUNT, ctx.limits.max_instances, used.instances
            ),
            AccountAttribute(
                QuotaName.MAX_DAILY_EXECUTION_COUNT,
                ctx.limits.max_daily_executions,
                used.executions,
            ),
        ]

    return await ctx.transaction(read)
