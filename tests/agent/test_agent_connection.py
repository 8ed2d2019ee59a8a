"""The agent against a scripted dispatcher over a real gRPC stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import agent
from agent.main import Options, serve
from agent.spool import Spool
from agent.tokens import FixedToken, TokenFile, TokenSource
from kairos.v1 import agent_pb2, common_pb2

from .agent_harness import BOOT_ID, shell_task
from .scripted_dispatcher import ScriptedDispatcher, Session, unpacked

AGENT_TOKEN = FixedToken("agent-token")


@pytest.fixture
async def dispatcher() -> AsyncIterator[ScriptedDispatcher]:
    peer = ScriptedDispatcher(heartbeat_interval=1)
    await peer.start()
    yield peer
    await peer.stop()


@pytest.fixture
def boot_id_file(tmp_path: Path) -> Path:
    path = tmp_path / "boot_id"
    path.write_text(BOOT_ID + "\n")
    return path


@contextlib.asynccontextmanager
async def running_agent(
    dispatcher: ScriptedDispatcher,
    state_dir: Path,
    boot_id_file: Path,
    *others: ScriptedDispatcher,
    token: TokenSource = AGENT_TOKEN,
) -> AsyncIterator[None]:
    """The agent, in this process, until the block ends; ``others`` are further addresses."""
    options = Options(
        servers=tuple(peer.address for peer in (dispatcher, *others)),
        instance_id="i-test-1",
        name="web-1",
        token=token,
        activation=None,
        state_dir=state_dir,
        boot_id_file=boot_id_file,
        time_zone="Europe/Paris",
        power_hook=None,
    )
    stop = asyncio.Event()
    job = asyncio.create_task(serve(options, stop))
    try:
        yield
    finally:
        stop.set()
        await job


@pytest.fixture
async def session(
    dispatcher: ScriptedDispatcher, tmp_path: Path, boot_id_file: Path
) -> AsyncIterator[Session]:
    async with running_agent(dispatcher, tmp_path / "state", boot_id_file):
        yield await dispatcher.session()


async def test_hello_then_heartbeats(session: Session) -> None:
    hello = (await session.expect("hello")).hello
    assert session.received[0].WhichOneof("kind") == "hello"  # Hello comes first
    assert session.metadata["authorization"] == "Bearer agent-token"
    assert hello.instance_id == "i-test-1"
    assert hello.instance_name == "web-1"
    assert hello.os_type == common_pb2.OS_TYPE_LINUX
    assert hello.agent_version == agent.__version__ != ""
    assert hello.time_zone == "Europe/Paris"
    assert hello.boot_id == BOOT_ID
    beat = (await session.expect("heartbeat")).heartbeat
    assert beat.running == 0
    assert beat.agent_time.seconds > 0


async def test_a_rotated_token_file_is_read_at_the_next_connection(
    dispatcher: ScriptedDispatcher, tmp_path: Path, boot_id_file: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("old-token\n")
    async with running_agent(
        dispatcher, tmp_path / "state", boot_id_file, token=TokenFile(token_file)
    ):
        first = await dispatcher.session()
        await first.expect("hello")
        assert first.metadata["authorization"] == "Bearer old-token"
        rotated = tmp_path / "token.new"
        rotated.write_text("new-token\n")
        rotated.rename(token_file)  # as a secret manager replaces a file
        first.close()
        second = await dispatcher.session()
        await second.expect("hello")
        assert second.metadata["authorization"] == "Bearer new-token"
        token_file.write_text("")  # caught halfway through a rewrite: the last good one
        second.close()
        third = await dispatcher.session()
        await third.expect("hello")
        assert third.metadata["authorization"] == "Bearer new-token"


async def test_task_is_acked_started_streamed_and_reported(session: Session) -> None:
    task = shell_task("echo one; echo two >&2; exit 4")
    session.send(task=task)
    await session.expect("ack", task.execution_id)
    started = (await session.expect("started", task.execution_id)).started
    result = (await session.expect("result", task.execution_id)).result
    assert result.status == common_pb2.INVOCATION_STATUS_FAILED
    assert (result.exit_code, result.error_code) == (4, "ExitCodeNonzero")
    assert result.output == b"one\ntwo\n"
    assert result.start_time == started.start_time
    chunks = [m.output for m in session.received if m.WhichOneof("kind") == "output"]
    assert b"".join(c.data for c in chunks) == b"one\ntwo\n"
    assert chunks[0].offset == 0
    kinds = [m.WhichOneof("kind") for m in session.received if m.WhichOneof("kind") != "heartbeat"]
    assert kinds[:3] == ["hello", "ack", "started"]
    assert kinds[-1] == "result"


async def test_result_is_resent_after_reconnect_until_acked(
    dispatcher: ScriptedDispatcher, tmp_path: Path, boot_id_file: Path
) -> None:
    dispatcher.ack_results = False
    state_dir = tmp_path / "state"
    async with running_agent(dispatcher, state_dir, boot_id_file):
        first = await dispatcher.session()
        task = shell_task("echo kept")
        first.send(task=task)
        result = (await first.expect("result", task.execution_id)).result
        first.close()  # the dispatcher goes away before storing the result

        second = await dispatcher.session()
        await second.expect("hello")
        again = (await second.expect("result", task.execution_id)).result
        assert again == result
        await dispatcher.stop()  # cut the stream

        await dispatcher.start(port=int(dispatcher.address.rsplit(":", 1)[1]))
        third = await dispatcher.session()
        assert (await third.expect("result", task.execution_id)).result == result
        third.send(result_ack=agent_pb2.ResultAck(execution_id=task.execution_id))
        # A redelivery after the ack is only acked: once its TaskAck is back,
        # the ResultAck before it has been handled.
        third.send(task=task)
        await third.expect("ack", task.execution_id)
        [entry] = Spool(state_dir).load()
        assert entry.record.acked and entry.result is None
        assert not Spool(state_dir).output_path(task.execution_id).exists()
        third.close()

        fourth = await dispatcher.session()
        await fourth.expect("hello")
        probe = shell_task("true")
        fourth.send(task=probe)
        await fourth.expect("result", probe.execution_id)
        results = [
            m.result.execution_id for m in fourth.received if m.WhichOneof("kind") == "result"
        ]
        assert results == [probe.execution_id]  # the acked result is not sent again


async def test_running_tasks_survive_a_disconnect(
    dispatcher: ScriptedDispatcher, tmp_path: Path, boot_id_file: Path
) -> None:
    gate = tmp_path / "gate"
    async with running_agent(dispatcher, tmp_path / "state", boot_id_file):
        first = await dispatcher.session()
        task = shell_task(f"echo waiting; while [ ! -e {gate} ]; do sleep 0.05; done; echo done")
        first.send(task=task)
        await first.expect("output", task.execution_id)
        first.close()
        second = await dispatcher.session()
        # A new dispatcher learns about the running execution after Hello.
        started = await second.expect("started", task.execution_id)
        assert started.started.start_time.seconds > 0
        second.send(task=task)  # redelivered while running: acked, not run again
        await second.expect("ack", task.execution_id)
        gate.touch()
        result = (await second.expect("result", task.execution_id)).result
        assert result.output == b"waiting\ndone\n"


async def test_stop_from_the_dispatcher(session: Session) -> None:
    task = shell_task("echo up; sleep 300")
    session.send(task=task)
    await session.expect("output", task.execution_id)
    session.send(stop=agent_pb2.StopTask(execution_id=task.execution_id))
    result = (await session.expect("result", task.execution_id)).result
    assert result.status == common_pb2.INVOCATION_STATUS_TERMINATED


async def test_shutdown_reconnects_after_the_delay(
    dispatcher: ScriptedDispatcher, tmp_path: Path, boot_id_file: Path
) -> None:
    async with running_agent(dispatcher, tmp_path / "state", boot_id_file):
        first = await dispatcher.session()
        await first.expect("hello")
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        first.send(shutdown=agent_pb2.Shutdown(reconnect_after_ms=300, reason="rolling update"))
        await first.ended()
        second = await dispatcher.session()
        await second.expect("hello")
        assert loop.time() - sent_at >= 0.3


async def test_each_hello_lists_what_the_agent_holds_queued_running_or_unacked(
    dispatcher: ScriptedDispatcher, tmp_path: Path, boot_id_file: Path
) -> None:
    dispatcher.ack_results = False
    gate = tmp_path / "gate"
    async with running_agent(dispatcher, tmp_path / "state", boot_id_file):
        first = await dispatcher.session()
        hello = (await first.expect("hello")).hello
        assert hello.HasField("held")  # holding nothing is said too: the server reconciles
        assert list(hello.held.execution_ids) == []
        done = shell_task("echo done")
        first.send(task=done)
        await first.expect("result", done.execution_id)  # not acknowledged: still held
        running = shell_task(f"echo up; while [ ! -e {gate} ]; do sleep 0.05; done")
        first.send(task=running)
        await first.expect("output", running.execution_id)
        first.close()

        second = await dispatcher.session()
        hello = (await second.expect("hello")).hello
        assert hello.HasField("held")
        assert sorted(hello.held.execution_ids) == sorted([done.execution_id, running.execution_id])
        gate.touch()
        await second.expect("result", running.execution_id)


async def test_an_agent_fails_over_to_the_next_dispatcher_and_back(
    dispatcher: ScriptedDispatcher, tmp_path: Path, boot_id_file: Path
) -> None:
    dispatcher.ack_results = False
    other = ScriptedDispatcher(heartbeat_interval=1)
    await other.start()
    first_port = int(dispatcher.address.rsplit(":", 1)[1])
    try:
        async with running_agent(dispatcher, tmp_path / "state", boot_id_file, other):
            first = await dispatcher.session()
            task = shell_task("echo once")
            first.send(task=task)
            result = (await first.expect("result", task.execution_id)).result
            await dispatcher.stop()  # the first replica dies before storing the result

            # The next attempt goes to the other replica: Hello, then the result again.
            second = await other.session()
            await second.expect("hello")
            assert (await second.expect("result", task.execution_id)).result == result
            await dispatcher.start(port=first_port)
            await other.stop()  # and when that one dies in turn, back to the first

            third = await dispatcher.session()
            await third.expect("hello")
    finally:
        await other.stop()


def names(message: agent_pb2.AgentMessage, execution_id: str) -> bool:
    """Whether ``message`` (not a Reports message) is about ``execution_id``."""
    body = getattr(message, str(message.WhichOneof("kind")))
    return getattr(body, "execution_id", None) == execution_id


async def results_of(session: Session, count: int) -> dict[str, agent_pb2.ExecutionResult]:
    """The next ``count`` results the agent reports, by execution id, in whatever order."""
    found: dict[str, agent_pb2.ExecutionResult] = {}
    while len(found) < count:
        result = (await session.expect("result")).result
        found[result.execution_id] = result
    return found


async def test_against_a_server_from_before_versions_every_message_goes_alone(
    session: Session,
) -> None:
    hello = (await session.expect("hello")).hello
    assert hello.protocol == 2  # it says what it speaks; the Welcome said nothing back
    tasks = [shell_task(f"echo {n}") for n in range(20)]
    for task in tasks:
        session.send(task=task)
    assert sorted(await results_of(session, len(tasks))) == sorted(t.execution_id for t in tasks)
    assert "reports" not in {m.WhichOneof("kind") for m in session.received}


async def test_on_protocol_2_every_result_acknowledged_by_result_acks_is_forgotten(
    tmp_path: Path, boot_id_file: Path
) -> None:
    dispatcher = ScriptedDispatcher(heartbeat_interval=1, protocol=2)
    await dispatcher.start()
    state_dir = tmp_path / "state"
    try:
        async with running_agent(dispatcher, state_dir, boot_id_file):
            session = await dispatcher.session()
            assert (await session.expect("hello")).hello.protocol == 2
            tasks = [shell_task(f"echo {n}") for n in range(20)]
            for task in tasks:
                session.send(task=task)
            results = await results_of(session, len(tasks))
            assert {r.output for r in results.values()} == {f"{n}\n".encode() for n in range(20)}
            # Each result's ResultAcks went out as it arrived. A redelivery is only acked:
            # once its TaskAck is back, every ResultAcks before it has been handled.
            session.send(task=tasks[0])
            await session.expect("ack", tasks[0].execution_id)
            entries = list(Spool(state_dir).load())
            assert len(entries) == len(tasks)
            assert all(e.record.acked and e.result is None for e in entries)
            # Packed or not, each execution's reports came in their order.
            for task in tasks:
                kinds = [
                    said.WhichOneof("kind")
                    for message in session.received
                    for said in unpacked(message)
                    if names(said, task.execution_id)
                ]
                ended = kinds.index("result")
                assert kinds[:2] == ["ack", "started"]
                assert set(kinds[2:ended]) <= {"output"}
    finally:
        await dispatcher.stop()
