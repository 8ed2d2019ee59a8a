"""Quota counters, consumed by single conditional statements so that no race exceeds them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.domain.tenancy import Tenant

_TAKE_COMMAND = text(
    """
    INSERT INTO account_usage AS u (account_id, region_id, commands)
    SELECT :account_id, :region_id, 1 WHERE 1 <= :limit
    ON CONFLICT (account_id, region_id)
    DO UPDATE SET commands = u.commands + 1 WHERE u.commands + 1 <= :limit
    RETURNING commands
    """
)

_RELEASE_COMMAND = text(
    """
    UPDATE account_usage SET commands = commands - 1
    WHERE account_id = :account_id AND region_id = :region_id AND commands > 0
    """
)

_TAKE_EXECUTIONS = text(
    """
    INSERT INTO daily_usage AS u (account_id, region_id, day, executions)
    SELECT :account_id, :region_id, :day, :n WHERE :n <= :limit
    ON CONFLICT (account_id, region_id, day)
    DO UPDATE SET executions = u.executions + :n WHERE u.executions + :n <= :limit
    RETURNING executions
    """
)

_ENSURE_DAY = text(
    """
    INSERT INTO daily_usage (account_id, region_id, day, executions)
    VALUES (:account_id, :region_id, :day, 0)
    ON CONFLICT DO NOTHING
    """
)

_TAKE_UP_TO = text(
    """
    WITH before AS (
      SELECT executions FROM daily_usage
      WHERE account_id = :account_id AND region_id = :region_id AND day = :day
      FOR UPDATE
    )
    UPDATE daily_usage u
    SET executions = GREATEST(before.executions, LEAST(:limit, before.executions + :n))
    FROM before
    WHERE u.account_id = :account_id AND u.region_id = :region_id AND u.day = :day
    RETURNING u.executions - before.executions AS granted
    """
)

_USAGE = text(
    """
    SELECT
      (SELECT commands FROM account_usage
        WHERE account_id = :account_id AND region_id = :region_id) AS commands,
      (SELECT executions FROM daily_usage
        WHERE account_id = :account_id AND region_id = :region_id AND day = :day) AS executions
    """
)


async def take_command_slot(conn: AsyncConnection, tenant: Tenant, limit: int) -> bool:
    """Count one more saved command; False (and nothing changed) when at ``limit``."""
    row = await conn.execute(_TAKE_COMMAND, {**_keys(tenant), "limit": limit})
    return row.first() is not None


async def release_command_slot(conn: AsyncConnection, tenant: Tenant) -> None:
    """Count one saved command less."""
    await conn.execute(_RELEASE_COMMAND, _keys(tenant))


async def take_executions(
    conn: AsyncConnection, tenant: Tenant, day: date, count: int, limit: int
) -> bool:
    """Count ``count`` more executions on UTC ``day``; False (nothing changed) past ``limit``."""
    if count == 0:
        return True
    row = await conn.execute(
        _TAKE_EXECUTIONS, {**_keys(tenant), "day": day, "n": count, "limit": limit}
    )
    return row.first() is not None


async def take_executions_up_to(
    conn: AsyncConnection, tenant: Tenant, day: date, count: int, limit: int
) -> int:
    """Count up to ``count`` more executions on UTC ``day`` within ``limit``; returns how many."""
    if count == 0:
        return 0
    keys = {**_keys(tenant), "day": day}
    await conn.execute(_ENSURE_DAY, keys)
    granted: int = (
        await conn.execute(_TAKE_UP_TO, {**keys, "n": count, "limit": limit})
    ).scalar_one()
    return granted


async def usage(conn: AsyncConnection, tenant: Tenant, day: date) -> tuple[int, int]:
    """Saved commands and executions on ``day``."""
    row = (await conn.execute(_USAGE, {**_keys(tenant), "day": day})).one()
    return row.commands or 0, row.executions or 0


def _keys(tenant: Tenant) -> dict[str, str]:
    return {"account_id": tenant.account_id, "region_id": tenant.region_id}
