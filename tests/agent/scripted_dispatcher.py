"""A scripted AgentService peer for agent tests: a real grpc.aio server on port 0.

Each ``Connect`` becomes a ``Session`` the test drives: it reads what the agent
sent (``expect``) and sends dispatcher messages (``send``). Hello is answered
with a Welcome automatically; results are acknowledged when ``ack_results``.

By default it is a dispatcher from before protocol versions: its Welcome says no
protocol, and it knows neither Reports nor ResultAcks. With ``protocol`` it speaks
that version too: each report of a Reports message is ``expect``ed as the message
alone would be, and the results of one agent message are acknowledged with one
ResultAcks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc

from kairos.v1 import agent_pb2, agent_pb2_grpc

WAIT = 15.0  # seconds before a test gives up waiting for a message


class Session:
    """One agent stream as the dispatcher sees it."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.metadata = dict(metadata)
        self.received: list[agent_pb2.AgentMessage] = []
        """Every message as the agent sent it (a Reports message as one)."""
        self._inbox: asyncio.Queue[agent_pb2.AgentMessage | None] = asyncio.Queue()
        self.outgoing: asyncio.Queue[agent_pb2.DispatcherMessage | None] = asyncio.Queue()

    def send(self, **kind: Any) -> None:
        """Send one DispatcherMessage, e.g. ``send(task=agent_pb2.Task(...))``."""
        self.outgoing.put_nowait(agent_pb2.DispatcherMessage(**kind))

    def close(self) -> None:
        """End the stream from the dispatcher's side (status OK)."""
        self.outgoing.put_nowait(None)

    async def expect(self, kind: str, execution_id: str | None = None) -> agent_pb2.AgentMessage:
        """Return the next message of ``kind`` (for ``execution_id``), skipping others."""
        async with asyncio.timeout(WAIT):
            while True:
                message = await self._inbox.get()
                if message is None:
                    raise EOFError(f"stream ended while waiting for {kind}")
                if message.WhichOneof("kind") != kind:
                    continue
                if execution_id is None or getattr(message, kind).execution_id == execution_id:
                    return message

    async def ended(self) -> None:
        """Wait until the agent closes its side of the stream."""
        async with asyncio.timeout(WAIT):
            while await self._inbox.get() is not None:
                pass

    def deliver(self, message: agent_pb2.AgentMessage | None) -> None:
        """Record a message from the agent; None marks the end of its stream."""
        if message is None:
            self._inbox.put_nowait(None)
            return
        self.received.append(message)
        for said in unpacked(message):
            self._inbox.put_nowait(said)


def unpacked(message: agent_pb2.AgentMessage) -> list[agent_pb2.AgentMessage]:
    """The messages an agent's message stands for: each report of a Reports message as
    the message it would be alone, any other message as it is."""
    if message.WhichOneof("kind") != "reports":
        return [message]
    alone = []
    for report in message.reports.reports:
        kind = report.WhichOneof("report")
        assert kind is not None, "a Reports message with an unset report"
        alone.append(agent_pb2.AgentMessage(**{kind: getattr(report, kind)}))
    return alone


class ScriptedDispatcher(agent_pb2_grpc.AgentServiceServicer):  # type: ignore[misc]
    """The AgentService servicer; hands every new stream to the test (Register: the
    generated base answers UNIMPLEMENTED)."""

    def __init__(
        self, *, heartbeat_interval: int = 30, ack_results: bool = True, protocol: int = 0
    ) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.ack_results = ack_results
        self.protocol = protocol
        self.address = ""
        self._sessions: asyncio.Queue[Session] = asyncio.Queue()
        self._server: grpc.aio.Server | None = None

    async def start(self, port: int = 0) -> None:
        """Listen on loopback, on ``port`` or a free one."""
        self._server = grpc.aio.server()
        agent_pb2_grpc.add_AgentServiceServicer_to_server(self, self._server)
        bound = self._server.add_insecure_port(f"127.0.0.1:{port}")
        self.address = f"127.0.0.1:{bound}"
        await self._server.start()

    async def stop(self) -> None:
        """Stop at once, cutting every stream."""
        if self._server is not None:
            await self._server.stop(0)
            self._server = None

    async def session(self) -> Session:
        """Wait for the next stream an agent opens."""
        async with asyncio.timeout(WAIT):
            return await self._sessions.get()

    async def Connect(
        self,
        requests: AsyncIterator[agent_pb2.AgentMessage],
        context: grpc.aio.ServicerContext[agent_pb2.AgentMessage, agent_pb2.DispatcherMessage],
    ) -> AsyncIterator[agent_pb2.DispatcherMessage]:
        """The servicer method: read in a task, write what the test sends."""
        metadata = tuple((key, str(value)) for key, value in context.invocation_metadata() or ())
        session = Session(metadata)
        reader = asyncio.create_task(self._read(session, requests))
        self._sessions.put_nowait(session)
        try:
            while (message := await session.outgoing.get()) is not None:
                yield message
        finally:
            reader.cancel()

    async def _read(
        self, session: Session, requests: AsyncIterator[agent_pb2.AgentMessage]
    ) -> None:
        try:
            async for message in requests:
                session.deliver(message)
                if message.WhichOneof("kind") == "hello":
                    session.send(welcome=self._welcome(message.hello))
                    continue
                results = [
                    said.result.execution_id
                    for said in unpacked(message)
                    if said.WhichOneof("kind") == "result"
                ]
                if not (results and self.ack_results):
                    continue
                if self.protocol >= 2:
                    session.send(result_acks=agent_pb2.ResultAcks(execution_ids=results))
                else:
                    session.send(result_ack=agent_pb2.ResultAck(execution_id=results[0]))
        finally:
            session.deliver(None)

    def _welcome(self, hello: agent_pb2.Hello) -> agent_pb2.Welcome:
        welcome = agent_pb2.Welcome(heartbeat_interval_seconds=self.heartbeat_interval)
        if self.protocol:
            welcome.protocol = min(hello.protocol or 1, self.protocol)
        return welcome
