"""`kairos` against a real server (its own database, a real agent stream): what the
server answers decides what the CLI says."""

from collections.abc import AsyncIterator

import pytest_asyncio

from scheduler.rpc.auth import open_access
from scheduler.server.app import running_server
from scheduler.server.config import ServerConfig
from scheduler.store.database import database_url as sqlalchemy_url
from tests.service.harness import Peer

from .cli_harness import kairos


@pytest_asyncio.fixture
async def server(database_url: str) -> AsyncIterator[str]:
    """A real server on port 0 with one connected instance, i-1; yields its address."""
    url = sqlalchemy_url(database_url)
    config = ServerConfig(listen="127.0.0.1:0", database_url=url, grace=1.0)
    async with running_server(config, url, open_access()) as (port, _):
        address = f"127.0.0.1:{port}"
        peer = Peer(address, "i-1")
        await peer.hello()
        yield address
        await peer.close()


async def test_stop_twice_says_the_second_time_that_nothing_is_left(server: str) -> None:
    created = await kairos(
        "--server", server, "run", "-i", "i-1", "--frequency", "rate(1h)", "--", "true"
    )
    assert created.code == 0, created.err
    invoke_id = created.out.split()[1]
    # The server's StopInvocation accepts a finished invocation and changes nothing;
    # the CLI reads the status first and says so.
    first = await kairos("stop", invoke_id, "--server", server)
    assert (first.code, first.out) == (0, f"stop requested for {invoke_id} (all instances)\n")
    again = await kairos("stop", invoke_id, "--server", server)
    assert (again.code, again.out) == (0, "")
    assert again.err == f"invocation {invoke_id} is already finished (Stopped): nothing to stop\n"
