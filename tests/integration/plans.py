"""What statements an operation sends, and how PostgreSQL would run them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection


@contextmanager
def recorded(conn: AsyncConnection) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) sent on ``conn`` meanwhile."""
    statements: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        statements.append((args[2], args[3]))

    event.listen(conn.sync_connection, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(conn.sync_connection, "before_cursor_execute", record)


async def plans_of(conn: AsyncConnection, statements: list[tuple[str, Any]]) -> list[str]:
    """PostgreSQL's plan of each of ``statements``, as ``EXPLAIN`` prints it."""
    plans = []
    for text, parameters in statements:
        rows = await conn.exec_driver_sql(f"EXPLAIN {text}", parameters)
        plans.append("\n".join(row[0] for row in rows))
    return plans
