"""The agent's side of ``AgentService.Connect``: one stream at a time, reconnected forever."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import datetime

import grpc

from agent.executions import Executions
from agent.outbox import Outbox
from agent.packing import AGENT_PROTOCOL, request_stream, spoken
from agent.servers import Rotation
from agent.tls import ClientTls, ClientTlsError
from agent.tokens import TokenSource
from kairos.v1 import agent_pb2, agent_pb2_grpc
from scheduler.domain.liveness import AGENT_PING_INTERVAL, PING_TIMEOUT

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT = 30  # seconds, when the Welcome names no interval


KEEPALIVE = [
    # Pings reveal a silently dead connection in under a minute instead of TCP's many.
    # The server permits pings this often (scheduler.server.app.keepalive); its own pings,
    # at any rate, are never refused by a client.
    ("grpc.keepalive_time_ms", AGENT_PING_INTERVAL * 1000),
    ("grpc.keepalive_timeout_ms", PING_TIMEOUT * 1000),
    ("grpc.http2.ping_timeout_ms", PING_TIMEOUT * 1000),  # else a minute (see the server's)
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
]


class Backoff:
    """Jittered exponential delays between reconnection attempts.

    Each attempt doubles the ceiling from ``first`` up to ``cap``; the delay
    is drawn between half the ceiling and the ceiling, so a fleet that lost
    its dispatcher at one instant does not come back at one instant.
    """

    def __init__(
        self, first: float = 0.2, cap: float = 10.0, rng: random.Random | None = None
    ) -> None:
        self._first = first
        self._cap = cap
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count the attempt."""
        ceiling = min(self._cap, self._first * 2**self._attempt)
        self._attempt = min(self._attempt + 1, 32)
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Start over from the first delay (after a successful connection)."""
        self._attempt = 0


class Connection:
    """Keeps one ``Connect`` stream to a dispatcher open and routes its messages.

    With several dispatcher addresses, each new attempt after a stream ended (or
    failed to open) goes to the next one: the agents of a dead replica move to a live one.
    """

    def __init__(
        self,
        servers: tuple[str, ...],
        token: TokenSource,
        hello: agent_pb2.Hello,
        executions: Executions,
        outbox: Outbox,
        *,
        clock: Callable[[], datetime],
        backoff: Backoff | None = None,
        tls: ClientTls | None = None,
    ) -> None:
        self._servers = Rotation(servers)
        self._token = token
        self._hello = hello
        self._executions = executions
        self._outbox = outbox
        self._clock = clock
        self._backoff = backoff or Backoff()
        self._tls = tls or ClientTls()
        self._heartbeat_job: asyncio.Task[None] | None = None
        self._failures = 0  # failed attempts since the last Welcome
        self._protocol = 1  # the current stream's version: 1 until its Welcome says more

    async def run_forever(self) -> None:
        """Connect, serve the stream, and reconnect whenever it ends; never returns."""
        while True:
            try:
                delay = await self._session()
            except grpc.aio.AioRpcError as error:
                refused = error.code() in (
                    grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.PERMISSION_DENIED,
                )
                quiet = self._failures > 0  # only the first failure of a streak warns
                level = logging.ERROR if refused else logging.DEBUG if quiet else logging.WARNING
                log.log(
                    level,
                    "stream to %s failed: %s %s",
                    self._servers.current,
                    error.code().name,
                    error.details(),
                )
                self._failures += 1
                delay = None
            except ClientTlsError as error:
                # A rotated file caught while it was replaced: read again on the next attempt.
                level = logging.DEBUG if self._failures > 0 else logging.ERROR
                log.log(level, "cannot connect to %s: %s", self._servers.current, error)
                self._failures += 1
                delay = None
            except Exception:
                # A local failure (a full disk, say) ends this stream only: the
                # unacknowledged task will be delivered again on the next one.
                log.exception("stream to %s failed", self._servers.current)
                self._failures += 1
                delay = None
            if delay is None:
                delay = self._backoff.next_delay()
            else:
                self._backoff.reset()
            self._servers.advance()
            log.debug("reconnecting to %s in %.1f s", self._servers.current, delay)
            await asyncio.sleep(delay)

    async def _session(self) -> float | None:
        """Serve one stream; return the delay a Shutdown asked for, or None."""
        async with self._channel() as channel:
            stub = agent_pb2_grpc.AgentServiceStub(channel)
            # Hello, then everything a new dispatcher must know, queued in one
            # step so that no result can slip in between or be sent twice.
            queue = self._outbox.attach()
            queue.put_nowait(agent_pb2.AgentMessage(hello=self._hello_now()))
            for pending in self._executions.replay():
                queue.put_nowait(pending)
            self._protocol = 1
            # Asked at each connection: a rotated token file is picked up here.
            token = self._token.current()
            metadata = (("authorization", f"Bearer {token}"),) if token else ()
            call = stub.Connect(request_stream(queue, lambda: self._protocol), metadata=metadata)
            try:
                message: agent_pb2.DispatcherMessage
                async for message in call:
                    if message.WhichOneof("kind") == "shutdown":
                        shutdown: agent_pb2.Shutdown = message.shutdown
                        reason = shutdown.reason or "no reason given"
                        log.info("dispatcher %s is going away: %s", self._servers.current, reason)
                        return max(0, shutdown.reconnect_after_ms) / 1000
                    self._handle(message)
                log.warning("dispatcher %s closed the stream", self._servers.current)
                return None
            finally:
                self._outbox.detach()
                if self._heartbeat_job is not None:
                    self._heartbeat_job.cancel()
                call.cancel()

    def _channel(self) -> grpc.aio.Channel:
        """A channel to the current server; the TLS files are read anew (rotated ones count)."""
        return self._tls.channel(self._servers.current, KEEPALIVE)

    def _hello_now(self) -> agent_pb2.Hello:
        """Hello with what this agent holds now: the server reconciles it with its records."""
        hello = agent_pb2.Hello()
        hello.CopyFrom(self._hello)
        hello.protocol = AGENT_PROTOCOL
        held = self._executions.held()
        if held is not None:
            hello.held.CopyFrom(held)
        return hello

    def _handle(self, message: agent_pb2.DispatcherMessage) -> None:
        kind = message.WhichOneof("kind")
        if kind == "welcome":
            log.info("connected to %s", self._servers.current)
            self._backoff.reset()
            self._failures = 0
            self._protocol = spoken(message.welcome)
            interval = message.welcome.heartbeat_interval_seconds or DEFAULT_HEARTBEAT
            if self._heartbeat_job is not None:
                self._heartbeat_job.cancel()
            self._heartbeat_job = asyncio.create_task(self._heartbeat(interval))
        elif kind == "task":
            self._executions.on_task(message.task)
        elif kind == "stop":
            self._executions.on_stop(message.stop.execution_id)
        elif kind == "result_ack":
            self._executions.on_result_ack(message.result_ack.execution_id)
        elif kind == "result_acks":
            for execution_id in message.result_acks.execution_ids:
                self._executions.on_result_ack(execution_id)

    async def _heartbeat(self, interval: int) -> None:
        while True:
            await asyncio.sleep(interval)
            beat = agent_pb2.Heartbeat(agent_time=self._clock(), running=self._executions.running)
            self._outbox.send(agent_pb2.AgentMessage(heartbeat=beat))
