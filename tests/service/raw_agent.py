"""An agent below gRPC: a raw HTTP/2 client that opens ``AgentService.Connect`` and says
Hello, then misbehaves as the test asks.

- ``receive_window=0`` (issue 9): it advertises a zero receive window
  (``SETTINGS_INITIAL_WINDOW_SIZE = 0``) and never opens it, so the server cannot send
  it even the Welcome; it keeps the connection alive by answering only PING and
  SETTINGS, as a stuck client's HTTP/2 stack would.
- ``go_deaf()``: from then on it answers nothing, not even PING, as a machine or
  network that vanished would (without the reset a dead peer's kernel might send).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator

from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.settings import SettingCodes

from kairos.v1 import agent_pb2

PATH = "/kairos.v1.AgentService/Connect"


class RawAgent:
    """One raw HTTP/2 agent connection; ``closed`` is set once the server has closed it."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: H2Connection
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._connection = connection
        self._deaf = False
        self.closed = asyncio.Event()

    def go_deaf(self) -> None:
        """Answer nothing from now on: no PING, no SETTINGS acknowledgement."""
        self._deaf = True

    async def keep(self) -> None:
        """Read until the server closes the connection, answering as told."""
        try:
            while data := await self._reader.read(65536):
                if self._deaf:
                    continue
                # h2 answers PING and SETTINGS by itself; no WINDOW_UPDATE is ever sent.
                self._connection.receive_data(data)
                self._writer.write(self._connection.data_to_send())
                await self._writer.drain()
        finally:
            self.closed.set()


@contextlib.asynccontextmanager
async def raw_agent(
    address: str, instance_id: str, token: str | None = None, *, receive_window: int | None = None
) -> AsyncIterator[RawAgent]:
    """An agent stream for ``instance_id``, open until the block ends (or the server ends it)."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    connection = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
    connection.initiate_connection()
    if receive_window is not None:
        connection.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: receive_window})
    stream = connection.get_next_available_stream_id()
    headers = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", PATH),
        (":authority", address),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    if token:
        headers.append(("authorization", f"Bearer {token}"))
    connection.send_headers(stream, headers)
    hello = agent_pb2.AgentMessage(
        hello=agent_pb2.Hello(
            instance_id=instance_id, instance_name=instance_id, agent_version="raw"
        )
    ).SerializeToString()
    connection.send_data(stream, b"\x00" + struct.pack(">I", len(hello)) + hello)
    writer.write(connection.data_to_send())
    await writer.drain()

    agent = RawAgent(reader, writer, connection)
    keeper = asyncio.create_task(agent.keep())
    try:
        yield agent
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await keeper
        writer.close()
