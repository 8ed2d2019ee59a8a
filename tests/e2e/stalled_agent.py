"""A hostile agent below gRPC: a raw HTTP/2 client that opens ``AgentService.Connect``,
says Hello, and then never takes a byte.

It advertises a zero receive window (``SETTINGS_INITIAL_WINDOW_SIZE = 0``) and never
opens it, so the server cannot send it even the Welcome; it keeps the connection
alive by answering only PING and SETTINGS, as a stuck client's HTTP/2 stack would.
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


@contextlib.asynccontextmanager
async def stalled_agent(address: str, instance_id: str, token: str) -> AsyncIterator[None]:
    """An agent stream for ``instance_id`` that reads nothing, open until the block ends."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    connection = H2Connection(H2Configuration(client_side=True, header_encoding="utf-8"))
    connection.initiate_connection()
    connection.update_settings({SettingCodes.INITIAL_WINDOW_SIZE: 0})
    stream = connection.get_next_available_stream_id()
    connection.send_headers(
        stream,
        [
            (":method", "POST"),
            (":scheme", "http"),
            (":path", PATH),
            (":authority", address),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("authorization", f"Bearer {token}"),
        ],
    )
    hello = agent_pb2.AgentMessage(
        hello=agent_pb2.Hello(
            instance_id=instance_id, instance_name=instance_id, agent_version="stalled"
        )
    ).SerializeToString()
    connection.send_data(stream, b"\x00" + struct.pack(">I", len(hello)) + hello)
    writer.write(connection.data_to_send())
    await writer.drain()

    async def answer_pings_and_settings() -> None:
        # h2 answers PING and SETTINGS by itself; no WINDOW_UPDATE is ever sent.
        while data := await reader.read(65536):
            connection.receive_data(data)
            writer.write(connection.data_to_send())
            await writer.drain()

    keeper = asyncio.create_task(answer_pings_and_settings())
    try:
        yield
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await keeper
        writer.close()
