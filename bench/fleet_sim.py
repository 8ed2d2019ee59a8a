"""A fleet of simulated agents in one asyncio process: N ``AgentService.Connect`` streams.

Agents share HTTP/2 connections, ``per_connection`` streams on each (one grpc.aio
channel per group, with its own subchannel so that groups never share a
connection). Each agent says Hello (protocol 2), heartbeats at the Welcome's interval
(from a random phase, as a fleet that came up over time would), and answers every
Task at once: TaskAck, ExecutionStarted and a Success result with exit code 0, in one
Reports message when the Welcome says protocol 2 (as a real agent packs what is
queued together), each its own message otherwise; with ``run_seconds`` the result
follows the start that much later, the stream taking other tasks meanwhile. It
records every task it was sent (a task seen twice is counted), when it arrived and
when it finished, and counts the results
acknowledged per invocation (ResultAck, or each of a ResultAcks), which is what
callers wait for. Like a real agent, it keeps each result until the server
acknowledges it: a new stream's Hello lists those as held and they are sent again
after its Welcome.

A stream refused before its Welcome is retried with the real agent's jittered
back-off (``agent.connection.Backoff``); a stream the server ends after its Welcome
is counted as lost and reconnected the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from agent.connection import KEEPALIVE, Backoff
from agent.packing import AGENT_PROTOCOL, as_report, spoken
from kairos.v1 import agent_pb2, agent_pb2_grpc, common_pb2
from scheduler.domain.hello import MAX_HELD
from scheduler.domain.protocol import MAX_REPORTS_PER_MESSAGE, speaks_reports

AGENT_VERSION = "fleet-bench"

if TYPE_CHECKING:  # the stubs' call type is generic only to the type checker
    _Call = grpc.aio.StreamStreamCall[agent_pb2.AgentMessage, agent_pb2.DispatcherMessage]


def instance_ids(count: int) -> list[str]:
    """The fleet's instance ids: ``f-000001`` … ."""
    return [f"f-{k:06d}" for k in range(1, count + 1)]


def _timestamp(ns: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(ns)
    return stamp


@dataclass
class Tally:
    """What the fleet saw of one invocation: task arrivals and acknowledged results."""

    received_ns: list[int] = field(default_factory=list)
    runs_ns: list[tuple[int, int]] = field(default_factory=list)
    """Each task's (start, finish) on the simulator's clock, as its result says."""
    acknowledged: int = 0
    expected: int | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def check(self) -> None:
        if self.expected is not None and self.acknowledged >= self.expected:
            self.done.set()


@dataclass(frozen=True)
class Storm:
    """All agents (re)connecting at once: how long until every one was welcomed."""

    seconds: float
    refused: Counter[str]  # gRPC status name → streams refused before their Welcome


class Fleet:
    """N simulated agents against the server at ``address``."""

    def __init__(
        self,
        address: str,
        ids: list[str],
        *,
        per_connection: int,
        run_seconds: float = 0.0,
        tags: dict[str, str] | None = None,
    ) -> None:
        self.address = address
        self.ids = ids
        self.per_connection = per_connection
        self.run_seconds = run_seconds
        """How long each task "runs": its result follows its start after this long."""
        self.tags = [common_pb2.Tag(key=k, value=v) for k, v in (tags or {}).items()]
        """The tags every agent reports in its Hello, for invocations by selector."""
        self.seen: set[str] = set()
        self.duplicates = 0
        self.stops = 0
        self.acknowledged = 0  # results acknowledged, each execution once
        self.lost: Counter[str] = Counter()  # streams the server ended after their Welcome
        self.refused: Counter[str] = Counter()
        self._tallies: dict[str, Tally] = {}
        self._invocation_of: dict[str, str] = {}  # execution id → invoke id
        self._channels: list[grpc.aio.Channel] = []
        self._agents: list[asyncio.Task[None]] = []
        self._welcomed = 0
        self._all_welcomed = asyncio.Event()

    # -- the fleet as a whole ---------------------------------------------------------

    async def connect(self) -> Storm:
        """Open every agent's stream at once; return when all are welcomed."""
        self.refused = Counter()
        self._welcomed = 0
        self._all_welcomed.clear()
        began = time.perf_counter()
        for start in range(0, len(self.ids), self.per_connection):
            channel = grpc.aio.insecure_channel(
                self.address,
                # Its own subchannel pool: otherwise channels to one address share a connection.
                options=[*KEEPALIVE, ("grpc.use_local_subchannel_pool", 1)],
            )
            self._channels.append(channel)
            stub = agent_pb2_grpc.AgentServiceStub(channel)
            for instance_id in self.ids[start : start + self.per_connection]:
                self._agents.append(asyncio.create_task(self._agent(stub, instance_id)))
        await self._all_welcomed.wait()
        return Storm(time.perf_counter() - began, Counter(self.refused))

    async def drop(self) -> None:
        """Every agent goes away at once: streams cancelled, connections closed."""
        agents, self._agents = self._agents, []
        channels, self._channels = self._channels, []
        for agent in agents:
            agent.cancel()
        await asyncio.gather(*agents, return_exceptions=True)
        await asyncio.gather(*(channel.close() for channel in channels))

    async def reconnect_storm(self) -> Storm:
        """All agents drop and reconnect at once; timed from the drop."""
        began = time.perf_counter()
        await self.drop()
        storm = await self.connect()
        return Storm(time.perf_counter() - began, storm.refused)

    # -- what callers wait for --------------------------------------------------------

    def tally(self, invoke_id: str) -> Tally:
        """The invocation's tally (created by its first task or by the caller)."""
        return self._tallies.setdefault(invoke_id, Tally())

    async def results(self, invoke_id: str, count: int) -> Tally:
        """Wait until ``count`` results of the invocation were acknowledged; forget it."""
        tally = self.tally(invoke_id)
        tally.expected = count
        tally.check()
        await tally.done.wait()
        del self._tallies[invoke_id]
        return tally

    # -- one agent --------------------------------------------------------------------

    async def _agent(self, stub: agent_pb2_grpc.AgentServiceStub, instance_id: str) -> None:
        backoff = Backoff()
        welcomed_once = False
        # Results the server has not acknowledged: held in Hello and sent again after the
        # Welcome of the next stream, as a real agent's spool does.
        unacknowledged: dict[str, agent_pb2.ExecutionResult] = {}
        while True:
            call = stub.Connect()
            welcomed = False
            protocol = 1  # until the Welcome says more
            heartbeat: asyncio.Task[None] | None = None
            running: set[asyncio.Task[None]] = set()  # tasks that take run_seconds
            lock = asyncio.Lock()  # one write at a time on a stream
            try:
                hello = self._hello(instance_id, list(unacknowledged))
                await call.write(agent_pb2.AgentMessage(hello=hello))
                while (message := await call.read()) is not grpc.aio.EOF:
                    kind = message.WhichOneof("kind")
                    if kind == "welcome":
                        welcomed = True
                        protocol = spoken(message.welcome)
                        backoff.reset()
                        interval = message.welcome.heartbeat_interval_seconds
                        heartbeat = asyncio.create_task(self._heartbeat(call, lock, interval))
                        if not welcomed_once:
                            welcomed_once = True
                            self._welcome()
                        resent = [
                            agent_pb2.AgentMessage(result=result)
                            for result in unacknowledged.values()
                        ]
                        async with lock:
                            for resend in _written(resent, protocol):
                                await call.write(resend)
                    elif kind == "task":
                        run = self._run(call, lock, message.task, unacknowledged, protocol)
                        if self.run_seconds:
                            task = asyncio.create_task(_quietly(run))
                            running.add(task)
                            task.add_done_callback(running.discard)
                        else:
                            await run
                    elif kind == "stop":
                        # Every task was finished at once: like a real agent asked to stop
                        # what it no longer runs, there is nothing to do but count it.
                        self.stops += 1
                    elif kind == "result_ack":
                        execution_id = message.result_ack.execution_id
                        unacknowledged.pop(execution_id, None)
                        self._acknowledged(execution_id)
                    elif kind == "result_acks":
                        for execution_id in message.result_acks.execution_ids:
                            unacknowledged.pop(execution_id, None)
                            self._acknowledged(execution_id)
                ended = "OK"
            except grpc.aio.AioRpcError as error:
                ended = error.code().name
            except asyncio.InvalidStateError:  # a write on a stream that had just ended
                ended = "ended while writing"
            finally:
                if heartbeat is not None:
                    heartbeat.cancel()
                for task in running:
                    task.cancel()
                call.cancel()
            (self.lost if welcomed else self.refused)[ended] += 1
            await asyncio.sleep(backoff.next_delay())

    def _welcome(self) -> None:
        self._welcomed += 1
        if self._welcomed == len(self.ids):
            self._all_welcomed.set()

    def _hello(self, instance_id: str, held: list[str]) -> agent_pb2.Hello:
        return agent_pb2.Hello(
            instance_id=instance_id,
            instance_name=instance_id,
            os_type=common_pb2.OS_TYPE_LINUX,
            agent_version=AGENT_VERSION,
            time_zone="Etc/UTC",
            boot_id=f"boot-{instance_id}",
            protocol=AGENT_PROTOCOL,
            # A real agent holding more than the protocol's limit lists none.
            held=agent_pb2.HeldExecutions(execution_ids=held) if len(held) <= MAX_HELD else None,
            tags=self.tags,
        )

    @staticmethod
    async def _heartbeat(call: _Call, lock: asyncio.Lock, interval: int) -> None:
        await asyncio.sleep(random.uniform(0, interval))
        # The stream may end under a heartbeat; its reader sees that and reconnects.
        with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
            while True:
                beat = agent_pb2.Heartbeat(agent_time=_timestamp(time.time_ns()), running=0)
                async with lock:
                    await call.write(agent_pb2.AgentMessage(heartbeat=beat))
                await asyncio.sleep(interval)

    async def _run(
        self,
        call: _Call,
        lock: asyncio.Lock,
        task: agent_pb2.Task,
        unacknowledged: dict[str, agent_pb2.ExecutionResult],
        protocol: int,
    ) -> None:
        now = time.time_ns()
        execution_id = task.execution_id
        ack = agent_pb2.AgentMessage(ack=agent_pb2.TaskAck(execution_id=execution_id))
        if execution_id in self.seen:
            # As a real agent: acknowledged again, never run twice, its result sent again
            # unless the server already acknowledged it.
            self.duplicates += 1
            again = [ack]
            if execution_id in unacknowledged:
                again.append(agent_pb2.AgentMessage(result=unacknowledged[execution_id]))
            async with lock:
                for message in _written(again, protocol):
                    await call.write(message)
            return
        self.seen.add(execution_id)
        self._invocation_of[execution_id] = task.invoke_id
        tally = self.tally(task.invoke_id)
        tally.received_ns.append(now)
        stamp = _timestamp(now)
        started = agent_pb2.ExecutionStarted(execution_id=execution_id, start_time=stamp)
        run = [ack, agent_pb2.AgentMessage(started=started)]
        if self.run_seconds:
            # Runs apart from the stream's reader, which takes the next tasks meanwhile.
            async with lock:
                for message in _written(run, protocol):
                    await call.write(message)
            run = []
            await asyncio.sleep(self.run_seconds)
        finished = time.time_ns()
        tally.runs_ns.append((now, finished))
        result = agent_pb2.ExecutionResult(
            execution_id=execution_id,
            status=common_pb2.INVOCATION_STATUS_SUCCESS,
            exit_code=0,
            start_time=stamp,
            finish_time=_timestamp(finished),
        )
        unacknowledged[execution_id] = result
        run.append(agent_pb2.AgentMessage(result=result))
        async with lock:
            for message in _written(run, protocol):
                await call.write(message)

    def _acknowledged(self, execution_id: str) -> None:
        invoke_id = self._invocation_of.pop(execution_id, None)
        if invoke_id is None:
            return  # a second acknowledgement of a result sent twice
        self.acknowledged += 1
        tally = self.tally(invoke_id)
        tally.acknowledged += 1
        tally.check()


async def _quietly(run: Awaitable[None]) -> None:
    """A task run apart from its stream: a stream that ended under it ends it quietly
    (the agent reconnects and, as a real one, sends the result again)."""
    with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
        await run


def _written(messages: list[agent_pb2.AgentMessage], protocol: int) -> list[agent_pb2.AgentMessage]:
    """The reports ``messages`` as they go out: each alone on protocol 1; on protocol 2
    together, in Reports messages of at most ``MAX_REPORTS_PER_MESSAGE``."""
    if not speaks_reports(protocol):
        return messages
    return [
        agent_pb2.AgentMessage(
            reports=agent_pb2.Reports(
                reports=[as_report(m) for m in messages[k : k + MAX_REPORTS_PER_MESSAGE]]
            )
        )
        for k in range(0, len(messages), MAX_REPORTS_PER_MESSAGE)
    ]
