"""Can the database be used right now? One cheap query on a connection of its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 2.0
"""Seconds one probe (connecting included) may take before the database counts as down."""


class DatabaseProbe:
    """Runs ``SELECT 1`` on its own connection, reconnecting after any failure.

    Not on the engine's pool: a pool busy with real work must not make a
    healthy database look down, and a probe must not wait behind that work.
    """

    def __init__(self, conninfo: str, *, timeout: float = PROBE_TIMEOUT) -> None:
        self._conninfo = conninfo
        self._timeout = timeout
        self._connection: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    async def reachable(self) -> bool:
        """True when the database answered within the timeout."""
        try:
            async with asyncio.timeout(self._timeout):
                if self._connection is None:
                    self._connection = await psycopg.AsyncConnection.connect(
                        self._conninfo,
                        autocommit=True,
                        # libpq's own limit (whole seconds, at least 2) backs up the timeout.
                        connect_timeout=max(2, round(self._timeout)),
                    )
                await self._connection.execute("SELECT 1")
            return True
        except (psycopg.Error, OSError, TimeoutError) as error:
            # Only the class: a connection error's text may name hosts and users.
            log.debug("database probe failed: %s", type(error).__name__)
            await self.close()
            return False

    async def close(self) -> None:
        """Close the probe's connection (a later probe opens a new one)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                await connection.close()
