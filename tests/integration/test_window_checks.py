"""The database keeps the rules of jitter and bounds whatever writes the row: a jitter of
0–3,600 s, an end after the start, and neither on an invocation that is not periodic."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from psycopg.errors import CheckViolation
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduler.domain.enums import RepeatMode
from scheduler.store.tables import invocations
from tests.integration.seed import FIRST_FIRE, add_command, add_instance, add_invocation

DAY = timedelta(days=1)


async def _periodic_and_boot(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await add_command(conn)
        await add_instance(conn, "i-1")
        await add_invocation(conn, "inv-period", ["i-1"])
        await add_invocation(conn, "inv-boot", ["i-1"], repeat_mode=RepeatMode.EVERY_REBOOT)


async def test_a_periodic_invocation_takes_a_jitter_up_to_an_hour_and_bounds(
    engine: AsyncEngine,
) -> None:
    await _periodic_and_boot(engine)
    async with engine.begin() as conn:
        await conn.execute(
            update(invocations)
            .where(invocations.c.id == "inv-period")
            .values(max_jitter=3600, start_at=FIRST_FIRE, end_at=FIRST_FIRE + DAY)
        )


@pytest.mark.parametrize(
    ("invoke_id", "values", "constraint"),
    [
        ("inv-period", {"max_jitter": 3601}, "ck_invocations_max_jitter_in_range"),
        ("inv-period", {"max_jitter": -1}, "ck_invocations_max_jitter_in_range"),
        (
            "inv-period",
            {"start_at": FIRST_FIRE, "end_at": FIRST_FIRE},
            "ck_invocations_end_after_start",
        ),
        ("inv-boot", {"max_jitter": 30}, "ck_invocations_window_only_periodic"),
        ("inv-boot", {"start_at": FIRST_FIRE}, "ck_invocations_window_only_periodic"),
        ("inv-boot", {"end_at": FIRST_FIRE}, "ck_invocations_window_only_periodic"),
    ],
)
async def test_a_window_out_of_its_rules_is_refused(
    engine: AsyncEngine, invoke_id: str, values: dict[str, Any], constraint: str
) -> None:
    await _periodic_and_boot(engine)
    async with engine.begin() as conn:
        with pytest.raises(IntegrityError) as refused:
            await conn.execute(
                update(invocations).where(invocations.c.id == invoke_id).values(values)
            )
    error = refused.value.orig
    assert isinstance(error, CheckViolation)
    assert error.diag.constraint_name == constraint
