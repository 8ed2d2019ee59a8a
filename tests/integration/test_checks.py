"""Every enum-valued column takes each value of its enum and refuses anything else.

On a real PostgreSQL migrated to head: one row per table, whose column is set
to each accepted value, then to values outside the enum, which must fail with
a check violation naming the column's constraint.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

import pytest
from psycopg.errors import CheckViolation
from sqlalchemy import CheckConstraint, Table, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler.domain.enums import (
    EXECUTION_STATUSES,
    INVOCATION_STATUSES,
    TARGET_STATUSES,
    CommandType,
    InvocationStatus,
    OsType,
    RepeatMode,
    ResourceType,
    TagSource,
)
from scheduler.store.tables import (
    commands,
    executions,
    instances,
    invocation_status_counts,
    invocation_targets,
    invocations,
    metadata,
    tags,
)
from tests.integration.seed import add_command, add_execution, add_instance, add_invocation

CHECKED: list[tuple[Table, str, Iterable[StrEnum]]] = [
    (commands, "type", CommandType),
    (instances, "os_type", OsType),
    (invocations, "command_type", CommandType),
    (invocations, "repeat_mode", RepeatMode),
    (invocations, "status", INVOCATION_STATUSES),
    (invocation_targets, "status", TARGET_STATUSES),
    (invocation_status_counts, "status", TARGET_STATUSES),
    (executions, "status", EXECUTION_STATUSES),
    (tags, "resource_type", ResourceType),
    (tags, "source", TagSource),
]
CASES = [pytest.param(t, c, set(m), id=f"{t.name}.{c}") for t, c, m in CHECKED]


def _refused(members: set[StrEnum]) -> list[str]:
    enum = type(next(iter(members)))
    others = [m.value for m in enum if m not in members]
    # Another enum's value, a value in the wrong case, and nothing at all.
    return [*others, "NotAValue", next(iter(members)).value.upper(), ""]


async def _one_row_each(conn: AsyncConnection) -> None:
    await add_command(conn)
    await add_instance(conn, "i-1")
    await add_invocation(conn, "inv-1", ["i-1"])
    await add_execution(conn, "inv-1", "i-1", status=InvocationStatus.PENDING)
    await conn.execute(
        insert(tags).values(
            account_id="a",
            region_id="r",
            resource_type=ResourceType.INSTANCE.value,
            resource_id="i-1",
            source=TagSource.API.value,
            key="env",
            value="prod",
        )
    )


def test_every_check_of_an_enum_column_is_tested() -> None:
    named = {
        (table.name, constraint.name)
        for table in metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint) and str(constraint.name).endswith("_valid")
    }
    assert named == {(t.name, f"ck_{t.name}_{c}_valid") for t, c, _ in CHECKED}


@pytest.mark.parametrize(("table", "column", "members"), CASES)
async def test_a_column_takes_every_value_of_its_enum(
    engine: AsyncEngine, table: Table, column: str, members: set[StrEnum]
) -> None:
    async with engine.begin() as conn:
        await _one_row_each(conn)
        for member in members:
            await conn.execute(update(table).values({column: member.value}))


@pytest.mark.parametrize(("table", "column", "members"), CASES)
async def test_a_column_refuses_values_outside_its_enum(
    engine: AsyncEngine, table: Table, column: str, members: set[StrEnum]
) -> None:
    async with engine.begin() as conn:
        await _one_row_each(conn)
    for value in _refused(members):
        async with engine.begin() as conn:
            with pytest.raises(IntegrityError) as refused:
                await conn.execute(update(table).values({column: value}))
        error = refused.value.orig
        assert isinstance(error, CheckViolation), value
        assert error.diag.constraint_name == f"ck_{table.name}_{column}_valid", value


async def test_no_saved_command_takes_a_common_command_s_id(engine: AsyncEngine) -> None:
    # The common commands (issue 13, item 4) live in the code: their ids are theirs alone.
    async with engine.begin() as conn:
        await add_command(conn)
    async with engine.begin() as conn:
        with pytest.raises(IntegrityError) as refused:
            await conn.execute(update(commands).values(id="Kairos-CheckDiskSpace"))
    error = refused.value.orig
    assert isinstance(error, CheckViolation)
    assert error.diag.constraint_name == "ck_commands_id_not_common"
    async with engine.begin() as conn:
        await conn.execute(update(commands).values(id="c-kairos-like-but-own"))
