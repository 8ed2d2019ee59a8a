"""A scripted agent peer of a running Kairos server, and what service tests share.

The client stubs (``Kairos``, ``connect``) are ``scheduler.local``'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
from sqlalchemy import text

from kairos.v1 import agent_pb2, agent_pb2_grpc, common_pb2
from scheduler.store.database import create_engine

MESSAGE_TIMEOUT = 10.0

TWO_ACCOUNTS_AUTH = """
[[tokens]]
token = "client-a"
account = "111"
region = "cn-hangzhou"
role = "client"

[[tokens]]
token = "agent-a"
account = "111"
region = "cn-hangzhou"
role = "agent"

[[tokens]]
token = "client-b"
account = "222"
region = "cn-hangzhou"
role = "client"

[[tokens]]
token = "agent-b"
account = "222"
region = "cn-hangzhou"
role = "agent"
"""
"""An auth file: a client and an agent token for each of accounts 111 and 222."""


async def make_offline(database_url: str, instance_id: str) -> None:
    """Make an instance's agent look offline: its last heartbeat three minutes ago."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE instances SET last_heartbeat_at = now() - interval '3 minutes' "
                "WHERE id = :instance_id"
            ),
            {"instance_id": instance_id},
        )
    await engine.dispose()


class Peer:
    """The agent's side of one real AgentService stream, driven by the test."""

    def __init__(self, address: str, instance_id: str, *, token: str | None = None) -> None:
        self.instance_id = instance_id
        self._channel = grpc.aio.insecure_channel(address)
        self._outbox: asyncio.Queue[agent_pb2.AgentMessage | None] = asyncio.Queue()
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        self._call = agent_pb2_grpc.AgentServiceStub(self._channel).Connect(
            self._requests(), metadata=metadata
        )

    async def _requests(self) -> AsyncIterator[agent_pb2.AgentMessage]:
        while (message := await self._outbox.get()) is not None:
            yield message

    async def hello(
        self,
        *,
        os_type: int = common_pb2.OS_TYPE_LINUX,
        name: str = "",
        boot_id: str = "b-1",
        time_zone: str = "UTC",
    ) -> agent_pb2.Welcome:
        """Say Hello and return the Welcome."""
        await self.send(
            agent_pb2.AgentMessage(
                hello=agent_pb2.Hello(
                    instance_id=self.instance_id,
                    instance_name=name or self.instance_id,
                    os_type=os_type,  # type: ignore[arg-type]
                    agent_version="test",
                    time_zone=time_zone,
                    boot_id=boot_id,
                )
            )
        )
        message = await self.receive()
        assert message.WhichOneof("kind") == "welcome"
        return message.welcome

    async def send(self, message: agent_pb2.AgentMessage) -> None:
        """Send one message to the dispatcher."""
        await self._outbox.put(message)

    async def receive(self) -> agent_pb2.DispatcherMessage:
        """The next message from the dispatcher (fails the test after a timeout)."""
        message = await asyncio.wait_for(self._call.read(), MESSAGE_TIMEOUT)
        assert message is not grpc.aio.EOF, "the dispatcher closed the stream"
        return message  # type: ignore[no-any-return]

    async def ending(self, *, half_close: bool = False) -> grpc.StatusCode:
        """Read the stream to its end (after saying the agent is done, with ``half_close``);
        the status it ended with."""
        if half_close:
            await self._outbox.put(None)
        try:
            async with asyncio.timeout(MESSAGE_TIMEOUT):
                while await self._call.read() is not grpc.aio.EOF:
                    pass
        except grpc.aio.AioRpcError as error:
            return error.code()
        code: grpc.StatusCode = await self._call.code()
        return code

    async def close(self) -> None:
        """End the stream and the channel."""
        await self._outbox.put(None)
        await self._channel.close()
