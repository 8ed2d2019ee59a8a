"""A scripted agent peer of a running Kairos server, for service tests.

The client stubs (``Kairos``, ``connect``) are ``scheduler.local``'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from kairos.v1 import agent_pb2, agent_pb2_grpc, common_pb2

MESSAGE_TIMEOUT = 10.0


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
        self, *, os_type: int = common_pb2.OS_TYPE_LINUX, name: str = "", boot_id: str = "b-1"
    ) -> agent_pb2.Welcome:
        """Say Hello and return the Welcome."""
        await self.send(
            agent_pb2.AgentMessage(
                hello=agent_pb2.Hello(
                    instance_id=self.instance_id,
                    instance_name=name or self.instance_id,
                    os_type=os_type,  # type: ignore[arg-type]
                    agent_version="test",
                    time_zone="UTC",
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

    async def close(self) -> None:
        """End the stream and the channel."""
        await self._outbox.put(None)
        await self._channel.close()
