"""A TCP proxy between an agent and the server that can partition the network and heal it.

While partitioned it neither reads nor writes: bytes wait in the kernel's buffers
as they would in a real partition (TCP retransmits until the path heals), and new
connections are accepted but carry nothing. Healing resumes every connection
where it stopped, so a connection that neither end gave up on survives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

CHUNK = 64 * 1024


class Proxy:
    """Forwards ``127.0.0.1:<port>`` to ``target`` (``host:port``)."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self._open = asyncio.Event()
        self._open.set()
        self._server: asyncio.Server | None = None
        self._pumps: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def partition(self) -> None:
        """Stop carrying bytes, in both directions, on every connection."""
        self._open.clear()

    def heal(self) -> None:
        """Carry bytes again."""
        self._open.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for pump in list(self._pumps):
            pump.cancel()
        for pump in list(self._pumps):
            with contextlib.suppress(asyncio.CancelledError):
                await pump

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._open.wait()
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.close()
            return
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pump = asyncio.create_task(self._pump(source, sink))
            self._pumps.add(pump)
            pump.add_done_callback(self._pumps.discard)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._open.wait()
                data = await source.read(CHUNK)
                if not data:
                    break
                await self._open.wait()  # read just before the partition: held until it heals
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.close()


@contextlib.asynccontextmanager
async def proxy_to(target: str) -> AsyncIterator[Proxy]:
    """A started proxy to ``target``, closed afterwards."""
    proxy = Proxy(target)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
