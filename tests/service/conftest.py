"""A real Kairos server on a real socket and a fresh database per test.

The server runs in the test's event loop (``running_server``, port 0) against
the session's embedded PostgreSQL; clients talk to it over gRPC. ``Peer``
opens a real ``AgentService.Connect`` stream, so tests can register instances
and play an agent's side message by message.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from scheduler.rpc.auth import TokenTable, load_auth_file, open_access
from scheduler.server.app import running_server
from scheduler.server.config import ServerConfig, ServerRole
from scheduler.store.database import database_url as sqlalchemy_url
from tests.service.harness import Peer


class ServerFactory:
    """Starts servers on the test's database with given limits or auth."""

    def __init__(self, url: str, stack: contextlib.AsyncExitStack) -> None:
        self.url = url
        self._stack = stack

    async def start(
        self,
        *,
        limits: Limits | None = None,
        auth_file: Path | None = None,
        roles: frozenset[ServerRole] = frozenset(ServerRole),
        metrics_listen: str | None = None,
        agent_send_timeout: float = 30.0,
        heartbeat_interval: int = 5,
        host: str = "127.0.0.1",
    ) -> str:
        """Start a server on ``host``, port 0; returns its address. It stops after the test.

        ``host``: an IPv6 one is bracketed (``[::1]``), as in a gRPC address."""
        config = ServerConfig(
            roles=roles,
            metrics_listen=metrics_listen,
            listen=f"{host}:0",
            database_url=self.url,
            auth_file=auth_file,
            limits=limits or Limits(),
            heartbeat_interval=heartbeat_interval,
            agent_send_timeout=agent_send_timeout,
            grace=1.0,
        )
        tokens: TokenTable = load_auth_file(auth_file) if auth_file else open_access()
        port, _ = await self._stack.enter_async_context(running_server(config, self.url, tokens))
        return f"{host}:{port}"


@pytest_asyncio.fixture
async def servers(database_url: str) -> AsyncIterator[ServerFactory]:
    """Start servers with ``await servers.start(...)``; all stop after the test."""
    async with contextlib.AsyncExitStack() as stack:
        yield ServerFactory(sqlalchemy_url(database_url), stack)


@pytest_asyncio.fixture
async def kairos(servers: ServerFactory) -> AsyncIterator[Kairos]:
    """Client stubs on a server with default limits and no auth file."""
    client = connect(await servers.start())
    yield client
    await client.channel.close()


@pytest_asyncio.fixture
async def peers(kairos: Kairos) -> AsyncIterator[list[Peer]]:
    """Three connected Linux instances i-1, i-2, i-3."""
    connected = [Peer(kairos.address, f"i-{n}") for n in (1, 2, 3)]
    for peer in connected:
        await peer.hello()
    yield connected
    for peer in connected:
        await peer.close()
