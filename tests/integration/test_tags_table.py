"""The tags table keeps its own invariants: a reported tag is an instance's, a key is not
empty, and the tags of a deleted resource go with it, whichever statement deletes it."""

from __future__ import annotations

import pytest
from psycopg.errors import CheckViolation
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler.domain.enums import ResourceType, TagSource
from scheduler.store.tables import commands, instances, invocations, tags
from tests.integration.seed import COMMAND, TENANT, add_command, add_instance, add_invocation


def tag_row(resource_type: ResourceType, resource_id: str, **changes: str) -> dict[str, str]:
    return {
        "account_id": TENANT.account_id,
        "region_id": TENANT.region_id,
        "resource_type": resource_type.value,
        "resource_id": resource_id,
        "source": TagSource.API.value,
        "key": "env",
        "value": "prod",
    } | changes


async def tagged(conn: AsyncConnection) -> set[tuple[str, str]]:
    rows = await conn.execute(select(tags.c.resource_type, tags.c.resource_id))
    return {(row.resource_type, row.resource_id) for row in rows}


@pytest.mark.parametrize(
    ("row", "constraint"),
    [
        (tag_row(ResourceType.COMMAND, "c-1", source="reported"), "reported_by_instances_only"),
        (tag_row(ResourceType.INSTANCE, "i-1", key=""), "key_not_empty"),
    ],
)
async def test_the_table_refuses_what_no_call_may_store(
    engine: AsyncEngine, row: dict[str, str], constraint: str
) -> None:
    async with engine.begin() as conn:
        with pytest.raises(IntegrityError) as refused:
            await conn.execute(insert(tags).values(row))
    error = refused.value.orig
    assert isinstance(error, CheckViolation)
    assert error.diag.constraint_name == f"ck_tags_{constraint}"


async def test_a_deleted_resource_takes_its_tags_along(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await add_command(conn)
        await add_instance(conn, "i-1")
        await add_instance(conn, "i-2")
        await add_invocation(conn, "inv-1", ["i-1"])
        await conn.execute(
            insert(tags),
            [
                tag_row(ResourceType.COMMAND, COMMAND.id),
                tag_row(ResourceType.INVOCATION, "inv-1"),
                tag_row(ResourceType.INSTANCE, "i-1"),
                tag_row(ResourceType.INSTANCE, "i-2", source="reported"),
                # Same id, another type: not the deleted resource's.
                tag_row(ResourceType.ACTIVATION, "i-2"),
            ],
        )
    async with engine.begin() as conn:
        await conn.execute(delete(invocations))
        await conn.execute(delete(commands))
        await conn.execute(delete(instances).where(instances.c.id == "i-2"))
        assert await tagged(conn) == {("instance", "i-1"), ("activation", "i-2")}
        assert (await conn.execute(select(func.count()).select_from(tags))).scalar_one() == 2
