"""The send_files table keeps its invariants itself: a plain name, an absolute directory,
permission bits in range, and a row goes with its invocation."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg.errors import CheckViolation
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.store.tables import invocations, send_files
from tests.integration.seed import add_command, add_instance, add_invocation

ROW: dict[str, Any] = {
    "invocation_id": "f-1",
    "account_id": "a",
    "region_id": "r",
    "name": "app.conf",
    "target_dir": "/etc/app",
    "file_mode": 0o644,
    "file_owner": "root",
    "file_group": "root",
    "overwrite": False,
}


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await add_command(conn)
        await add_instance(conn, "i-1")
        await add_invocation(conn, "f-1", ["i-1"])


async def test_a_valid_row_is_stored_and_deleted_with_its_invocation(engine: AsyncEngine) -> None:
    await _seed(engine)
    async with engine.begin() as conn:
        await conn.execute(insert(send_files).values(ROW | {"file_mode": 0o7777}))
        await conn.execute(delete(invocations).where(invocations.c.id == "f-1"))
        assert await conn.scalar(select(func.count()).select_from(send_files)) == 0


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"name": "a/b"}, "ck_send_files_name_plain"),
        ({"name": ".."}, "ck_send_files_name_plain"),
        ({"name": ""}, "ck_send_files_name_plain"),
        ({"target_dir": "etc"}, "ck_send_files_target_dir_absolute"),
        ({"file_mode": 0o10000}, "ck_send_files_file_mode_in_range"),
        ({"file_mode": -1}, "ck_send_files_file_mode_in_range"),
    ],
)
async def test_a_row_breaking_a_rule_is_refused(
    engine: AsyncEngine, changes: dict[str, Any], constraint: str
) -> None:
    await _seed(engine)
    with pytest.raises(IntegrityError) as refused:
        async with engine.begin() as conn:
            await conn.execute(insert(send_files).values(ROW | changes))
    error = refused.value.orig
    assert isinstance(error, CheckViolation)
    assert error.diag.constraint_name == constraint
