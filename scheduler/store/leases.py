"""Dispatcher leases: which replicas are alive, and so which agents are connected.

A replica renews its lease every few seconds; an instance's ``dispatcher_id``
counts only while that lease lives. When a replica crashes nobody clears its
agents' rows, yet they count as gone as soon as its lease lapses.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Interval, bindparam, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduler.store.tables import dispatchers, instances

FORGET_AFTER = timedelta(hours=1)
"""How long a lapsed lease stays listed before any replica deletes it."""

_ttl = bindparam("ttl", type_=Interval)
_RENEW = (
    insert(dispatchers)
    .values(id=bindparam("dispatcher_id"), expires_at=func.now() + _ttl)
    .on_conflict_do_update(
        index_elements=[dispatchers.c.id],
        set_={"renewed_at": func.now(), "expires_at": func.now() + _ttl},
    )
)
_forgotten = (
    delete(dispatchers)
    .where(dispatchers.c.expires_at < func.now() - bindparam("forget_after", type_=Interval))
    .returning(dispatchers.c.id)
    .cte("forgotten")
)
_FORGET = (
    update(instances)
    .where(instances.c.dispatcher_id.in_(select(_forgotten.c.id)))
    .values(dispatcher_id=None)
)


def connected() -> Any:
    """SQL: the instance's agent stream is held by a replica whose lease lives."""
    return exists(
        select(dispatchers.c.id).where(
            dispatchers.c.id == instances.c.dispatcher_id, dispatchers.c.expires_at > func.now()
        )
    )


async def renew(conn: AsyncConnection, dispatcher_id: str, ttl: timedelta) -> None:
    """Hold (or take back) ``dispatcher_id``'s lease for ``ttl`` from now.

    Also deletes leases lapsed long ago, and their replicas' claims on agents:
    every restart of a replica takes a new id, so old ones would pile up.
    """
    await conn.execute(_RENEW, {"dispatcher_id": dispatcher_id, "ttl": ttl})
    await conn.execute(_FORGET, {"forget_after": FORGET_AFTER})


async def release(conn: AsyncConnection, dispatcher_id: str) -> None:
    """Give the lease up (a replica shutting down): its agents are disconnected at once."""
    await conn.execute(
        update(instances)
        .where(instances.c.dispatcher_id == dispatcher_id)
        .values(dispatcher_id=None)
    )
    await conn.execute(delete(dispatchers).where(dispatchers.c.id == dispatcher_id))
