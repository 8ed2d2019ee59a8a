"""Fixtures of the CLI tests: a scripted API server and a clean environment."""

from collections.abc import AsyncIterator

import grpc
import pytest

from .cli_harness import ScriptedServer


@pytest.fixture
async def api() -> AsyncIterator[ScriptedServer]:
    """A scripted client API listening on a free loopback port."""
    scripted = ScriptedServer()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(scripted.handlers())
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    scripted.address = f"127.0.0.1:{port}"
    yield scripted
    await server.stop(None)
