"""What every operation needs: the database, the limits and a clock."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduler.domain.limits import Limits
from scheduler.domain.tenancy import Tenant
from scheduler.operations.handover import NO_AGENTS, HeldAgents
from scheduler.store import idempotency
from scheduler.store.database import in_transaction

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    """The shared dependencies of the operations."""

    engine: AsyncEngine
    limits: Limits
    agents: HeldAgents = NO_AGENTS
    """The agents this process's dispatcher holds, to hand new executions to directly."""

    async def transaction(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run ``work`` in one transaction, retried on transient conflicts."""
        return await in_transaction(self.engine, work)

    async def read_alone(self, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run one read statement outside any transaction: a single round trip, for reads on
        a hot path (an agent's connect) that need no snapshot of several statements."""
        return await in_transaction(self.engine, read, isolation_level="AUTOCOMMIT")

    async def idempotent(
        self,
        tenant: Tenant,
        operation: str,
        client_token: str,
        request_hash: str,
        work: Callable[[AsyncConnection], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        """Run a creating ``work`` once per ``client_token``; repeats get the first response."""

        async def once(conn: AsyncConnection) -> dict[str, Any]:
            if client_token:
                previous = await idempotency.previous_response(
                    conn, tenant, operation, client_token, request_hash
                )
                if previous is not None:
                    return previous
            response = await work(conn)
            if client_token:
                await idempotency.record_response(
                    conn, tenant, operation, client_token, json.dumps(response)
                )
            return response

        return await self.transaction(once)
