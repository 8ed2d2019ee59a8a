"""A scripted agent peer of a running Kairos server, and what service tests share.

The client stubs (``Kairos``, ``connect``) are ``scheduler.local``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import grpc
import psycopg
from sqlalchemy import text

from kairos.v1 import agent_pb2, agent_pb2_grpc, common_pb2
from scheduler.store.database import create_engine
from scheduler.store.listener import conninfo
from scheduler.store.notices import Channel

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
    """Make an instance's agent look offline and gone: its last heartbeat three minutes
    ago, its stream held by no dispatcher (until its next heartbeat)."""
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE instances SET last_heartbeat_at = now() - interval '3 minutes', "
                "dispatcher_id = NULL "
                "WHERE id = :instance_id"
            ),
            {"instance_id": instance_id},
        )
    await engine.dispose()


async def until_disconnected(url: str, *, account_id: str, instance_id: str) -> None:
    """Poll until the dispatcher has recorded that the agent's stream ended."""
    engine = create_engine(url)
    deadline = time.monotonic() + 10
    try:
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                held = await conn.scalar(
                    text(
                        "SELECT dispatcher_id FROM instances "
                        "WHERE account_id = :account AND id = :instance"
                    ),
                    {"account": account_id, "instance": instance_id},
                )
            if held is None:
                return
            await asyncio.sleep(0.05)
    finally:
        await engine.dispose()
    raise AssertionError(f"{instance_id} of {account_id} still held after 10 s")


class Peer:
    """The agent's side of one real AgentService stream, driven by the test."""

    def __init__(
        self,
        address: str,
        instance_id: str,
        *,
        token: str | None = None,
        own_connection: bool = False,
    ) -> None:
        """``own_connection``: a TCP connection of its own, as another machine's agent has
        (channels of one process otherwise share one connection, so one peer address)."""
        self.instance_id = instance_id
        self.address = address
        options = [("grpc.use_local_subchannel_pool", 1)] if own_connection else []
        self._channel = grpc.aio.insecure_channel(address, options=options)
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
        held: list[str] | None = None,
        protocol: int = 0,
        tags: dict[str, str] | None = None,
    ) -> agent_pb2.Welcome:
        """Say Hello and return the Welcome; ``held`` lists the executions the agent holds
        (None: an older agent that does not reconcile); ``protocol`` is the newest
        version the agent speaks (0: an agent from before versions); ``tags`` the tags it
        reports."""
        hello = agent_pb2.Hello(
            instance_id=self.instance_id,
            instance_name=name or self.instance_id,
            os_type=os_type,  # type: ignore[arg-type]
            agent_version="test",
            time_zone=time_zone,
            boot_id=boot_id,
            protocol=protocol,
            tags=[{"key": k, "value": v} for k, v in (tags or {}).items()],
        )
        if held is not None:
            hello.held.CopyFrom(agent_pb2.HeldExecutions(execution_ids=held))
        await self.send(agent_pb2.AgentMessage(hello=hello))
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


class Heard:
    """Notification payloads as they arrive."""

    def __init__(self) -> None:
        self.payloads: list[str] = []
        self._arrived = asyncio.Event()

    def add(self, payload: str) -> None:
        self.payloads.append(payload)
        self._arrived.set()

    async def until(self, payload: str) -> None:
        """Wait until ``payload`` has arrived."""
        while payload not in self.payloads:
            self._arrived.clear()
            await self._arrived.wait()


@contextlib.asynccontextmanager
async def output_notices(database_url: str) -> AsyncIterator[Heard]:
    """The OUTPUT notices PostgreSQL delivers while the block runs (a LISTEN of our own)."""
    heard = Heard()
    conn = await psycopg.AsyncConnection.connect(conninfo(database_url), autocommit=True)
    await conn.execute(f"LISTEN {Channel.OUTPUT.value}")

    async def collect() -> None:
        async for notice in conn.notifies():
            heard.add(notice.payload)

    collector = asyncio.create_task(collect())
    try:
        yield heard
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
        await conn.close()
