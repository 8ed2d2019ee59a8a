"""The database's clock: the one time every replica agrees on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection


async def database_now(conn: AsyncConnection) -> datetime:
    """The database's time for this transaction (``now()``: the instant it began).

    The same instant as the ``now()`` defaults of the rows the transaction
    writes, so decisions and timestamps agree. Callers read it as the first
    statement of a fresh transaction when they need the current time.
    """
    now: datetime = (await conn.execute(select(func.now()))).scalar_one()
    return now


async def database_clock(conn: AsyncConnection) -> datetime:
    """The database's time at this very statement (``clock_timestamp()``), not at the
    transaction's start: for a plan made after waiting on locks. A fire committed while
    the transaction waited has handled every instant up to it, and ``now()`` would plan
    one of those again."""
    now: datetime = (await conn.execute(select(func.clock_timestamp()))).scalar_one()
    return now
