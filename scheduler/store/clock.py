"""The database's clock: the one time every replica agrees on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def database_now(conn: AsyncConnection) -> datetime:
    """The database's current time (``clock_timestamp()``: it moves on within a transaction)."""
    now: datetime = (await conn.execute(select(func.clock_timestamp()))).scalar_one()
    return now
