"""An agent stream that stops reading delays only itself (issue 9).

Agent A's stream is opened without HTTP/2 BDP probing, so its receive window stays
at 64 KiB: once a few tasks fill it the server's writes to A stop, and A's outbox
fills behind them. Account B's agent must still get its work at once; after
``--agent-send-timeout`` A's stream is closed, and A gets everything on reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from dispatcher.session import OUTBOX_SIZE
from kairos.v1 import agent_pb2, agent_pb2_grpc, common_pb2, invocation_pb2
from scheduler.local import Kairos, connect
from scheduler.store.database import create_engine
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer

SCRIPT = b"#" * (16 * 1024)
"""A 16 KiB script: a few fill the stuck agent's 64 KiB window."""
TASKS = OUTBOX_SIZE + 44
"""Well past the outbox and the window: some of A's tasks cannot even be queued."""


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth.toml"
    path.write_text(TWO_ACCOUNTS_AUTH)
    return path


class StuckAgent:
    """Agent A: says Hello, reads the Welcome, then never reads again."""

    def __init__(self, address: str) -> None:
        # No BDP probing: the stream's receive window stays at HTTP/2's 64 KiB.
        self._channel = grpc.aio.insecure_channel(address, options=[("grpc.http2.bdp_probe", 0)])
        self._hello = asyncio.Event()
        self.call = agent_pb2_grpc.AgentServiceStub(self._channel).Connect(
            self._requests(), metadata=(("authorization", "Bearer agent-a"),)
        )

    async def _requests(self) -> AsyncIterator[agent_pb2.AgentMessage]:
        yield agent_pb2.AgentMessage(
            hello=agent_pb2.Hello(
                instance_id="i-a", instance_name="i-a", agent_version="test", boot_id="b-1"
            )
        )
        await asyncio.Event().wait()  # the stream stays open, silent

    async def welcome(self) -> None:
        message = await asyncio.wait_for(self.call.read(), 10)
        assert message.WhichOneof("kind") == "welcome"

    async def close(self) -> None:
        self.call.cancel()
        await self._channel.close()


async def run(client: Kairos, instance_id: str, script: bytes = b"true") -> str:
    response = await client.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content=script.decode(),
            instance_ids=[instance_id],
        ),
        metadata=client.metadata,
    )
    return str(response.invoke_id)


async def queue_for_stuck_agent(a: Kairos) -> None:
    for _ in range(TASKS):
        await run(a, "i-a", SCRIPT)


async def undelivered(database_url: str, instance_id: str) -> tuple[int, int]:
    """(executions sent to the instance's agent, executions still waiting to be sent)."""
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT count(delivered_at), count(*) - count(delivered_at) FROM executions "
                    "WHERE instance_id = :instance_id AND status = 'Pending'"
                ),
                {"instance_id": instance_id},
            )
        ).one()
    await engine.dispose()
    return int(row[0]), int(row[1])


async def receive_task(peer: Peer, within: float) -> agent_pb2.Task:
    message = await asyncio.wait_for(peer.receive(), within)
    assert message.WhichOneof("kind") == "task", message
    return message.task


class StuckLog(logging.Handler):
    """Catches the dispatcher's "agent stream stuck" records as they are logged."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("agent stream stuck"):
            self.records.append(record)
            self.seen.set()


@contextlib.contextmanager
def stuck_log() -> Iterator[StuckLog]:
    handler = StuckLog()
    logger = logging.getLogger("dispatcher.service")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def test_an_agent_that_stops_reading_does_not_delay_another_accounts_agent(
    servers: ServerFactory, auth_file: Path
) -> None:
    address = await servers.start(auth_file=auth_file)
    a, b = connect(address, "client-a"), connect(address, "client-b")
    stuck = StuckAgent(address)
    await stuck.welcome()
    agent_b = Peer(address, "i-b", token="agent-b")
    await agent_b.hello()

    await queue_for_stuck_agent(a)
    invoke_id = await run(b, "i-b")
    assert (await receive_task(agent_b, 2.0)).invoke_id == invoke_id

    # The test proves something only if delivery to A really is held back: A's outbox
    # is full (its stream has stopped taking) and the rest of its work waits unsent.
    sent, waiting = await undelivered(servers.url, "i-a")
    assert sent >= OUTBOX_SIZE
    assert waiting > 0, "A's stream kept reading: nothing was held back"
    await stuck.close()
    await agent_b.close()


async def test_a_stuck_stream_is_closed_after_the_send_timeout_and_its_work_redelivered(
    servers: ServerFactory, auth_file: Path
) -> None:
    address = await servers.start(auth_file=auth_file, agent_send_timeout=1.0)
    a, b = connect(address, "client-a"), connect(address, "client-b")
    stuck = StuckAgent(address)
    await stuck.welcome()
    agent_b = Peer(address, "i-b", token="agent-b")
    await agent_b.hello()

    with stuck_log() as log:
        await queue_for_stuck_agent(a)
        await asyncio.wait_for(log.seen.wait(), 10)
        assert [getattr(r, "instance_id", None) for r in log.records] == ["i-a"]

        # Delivery for others still works.
        invoke_id = await run(b, "i-b")
        assert (await receive_task(agent_b, 2.0)).invoke_id == invoke_id

        # The stuck agent, reading again, finds its stream ended with UNAVAILABLE.
        with pytest.raises(grpc.aio.AioRpcError) as ended:
            while await asyncio.wait_for(stuck.call.read(), 10) is not grpc.aio.EOF:
                pass
        assert ended.value.code() == grpc.StatusCode.UNAVAILABLE
        await stuck.close()

        # A new connection of A gets all of its pending work, each task once.
        again = Peer(address, "i-a", token="agent-a")
        await again.hello(boot_id="b-1")
        ids = [(await receive_task(again, 10.0)).execution_id for _ in range(TASKS)]
        assert len(set(ids)) == TASKS
        _, waiting = await undelivered(servers.url, "i-a")
        assert waiting == 0
        assert len(log.records) == 1  # logged once
    await again.close()
    await agent_b.close()
