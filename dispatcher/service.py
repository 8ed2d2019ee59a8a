"""AgentService: one bidirectional stream per agent, and the dispatcher's background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.ext.asyncio import AsyncConnection

from dispatcher.boot import fire_boot_triggers
from dispatcher.messages import moment, result_of
from dispatcher.session import AgentSession
from kairos.v1 import agent_pb2, agent_pb2_grpc
from scheduler.domain.enums import InvocationStatus, OsType
from scheduler.domain.errors import ErrorKind, KairosError, invalid
from scheduler.domain.tenancy import Tenant
from scheduler.observability import metrics
from scheduler.operations.context import Context
from scheduler.rpc.context import RpcContext
from scheduler.rpc.convert import from_proto
from scheduler.rpc.interceptor import current_caller
from scheduler.store import executions as execution_store
from scheduler.store import instances as instance_store
from scheduler.store import invocations as invocation_store
from scheduler.store import notices
from scheduler.store.listener import GAP, Listener

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
"""Seconds an agent has to send Hello after opening its stream."""
SWEEP_INTERVAL = 1.0
"""Seconds between checks for executions past their delivery timeout."""


class Dispatcher(agent_pb2_grpc.AgentServiceServicer):  # type: ignore[misc]
    """Holds the agent streams of this replica and delivers their work."""

    def __init__(
        self, ctx: Context, listener: Listener, *, dispatcher_id: str, heartbeat_interval: int
    ) -> None:
        self._ctx = ctx
        self._listener = listener
        self._id = dispatcher_id
        self._heartbeat_interval = heartbeat_interval
        self._sessions: dict[str, AgentSession] = {}
        self._background: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start delivering on notifications and sweeping delivery timeouts."""
        self._background = [
            asyncio.create_task(self._deliver_on_notice(), name="kairos-delivery"),
            asyncio.create_task(self._sweep_delivery_timeouts(), name="kairos-sweeper"),
        ]

    async def shutdown(self, reconnect_after_ms: int) -> None:
        """Tell every agent to reconnect elsewhere, close the streams and stop the work."""
        for session in list(self._sessions.values()):
            with contextlib.suppress(asyncio.QueueFull):
                session.send_nowait_shutdown(reconnect_after_ms)
            session.close()
        background, self._background = self._background, []
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def Connect(
        self, requests: AsyncIterator[agent_pb2.AgentMessage], context: RpcContext
    ) -> AsyncIterator[agent_pb2.DispatcherMessage]:
        tenant = current_caller().tenant
        hello = await _hello(requests)
        session = AgentSession(hello.instance_id)
        await self._register(tenant, hello)
        previous = self._sessions.get(hello.instance_id)
        if previous is not None:
            previous.close()
        self._sessions[hello.instance_id] = session
        metrics.connected_agents.inc()
        log.info("agent connected", extra={"instance_id": hello.instance_id})
        reader = asyncio.create_task(self._read(session, requests))
        try:
            yield agent_pb2.DispatcherMessage(
                welcome=agent_pb2.Welcome(
                    heartbeat_interval_seconds=self._heartbeat_interval, server_time=_now()
                )
            )
            await self._deliver([session])
            while (message := await session.next_message()) is not None:
                yield message
        finally:
            reader.cancel()
            # Shielded: the stream's own cancellation must not skip recording that the
            # agent is gone, or its executions would wait out "DeliveryTimeout" instead.
            await asyncio.shield(self._forget(session, reader))

    async def _forget(self, session: AgentSession, reader: asyncio.Task[None]) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        metrics.connected_agents.dec()
        instance_id = session.instance_id
        if self._sessions.get(instance_id) is session:
            del self._sessions[instance_id]
            await self._ctx.transaction(
                lambda conn: instance_store.disconnect(conn, instance_id, self._id)
            )
        log.info("agent disconnected", extra={"instance_id": instance_id})

    async def _register(self, tenant: Tenant, hello: agent_pb2.Hello) -> None:
        os_type = from_proto(OsType, hello.os_type) or OsType.LINUX

        async def register(conn: AsyncConnection) -> None:
            registration = await instance_store.register_agent(
                conn,
                tenant,
                instance_id=hello.instance_id,
                name=hello.instance_name,
                os_type=os_type,
                agent_version=hello.agent_version,
                time_zone=hello.time_zone or "UTC",
                boot_id=hello.boot_id,
                dispatcher_id=self._id,
            )
            if registration.foreign:
                raise KairosError(
                    ErrorKind.PERMISSION_DENIED,
                    "Forbidden.Instance",
                    f"instance {hello.instance_id} belongs to another account",
                )
            if registration.rebooted:
                log.info("instance booted", extra={"instance_id": hello.instance_id})
                await fire_boot_triggers(conn, self._ctx.limits, hello.instance_id)

        await self._ctx.transaction(register)

    async def _read(
        self, session: AgentSession, requests: AsyncIterator[agent_pb2.AgentMessage]
    ) -> None:
        try:
            async for message in requests:
                await self._handle(session, message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("agent stream failed", extra={"instance_id": session.instance_id})
        finally:
            session.close()

    async def _handle(self, session: AgentSession, message: agent_pb2.AgentMessage) -> None:
        instance_id = session.instance_id
        kind = message.WhichOneof("kind")
        if kind == "heartbeat":
            await self._ctx.transaction(
                lambda conn: instance_store.heartbeat(conn, instance_id, self._id)
            )
        elif kind == "ack":
            execution_id = message.ack.execution_id
            session.acknowledged(execution_id)
            await self._ctx.transaction(
                lambda conn: execution_store.acknowledge(conn, execution_id, instance_id)
            )
        elif kind == "started":
            await self._started(session, message.started)
        elif kind == "output":
            await self._output(instance_id, message.output)
        elif kind == "result":
            await self._result(session, message.result)

    async def _started(self, session: AgentSession, started: agent_pb2.ExecutionStarted) -> None:
        started_at = moment(started, "start_time") or _now().ToDatetime()

        async def record(conn: AsyncConnection) -> InvocationStatus | None:
            found = await execution_store.start(
                conn, started.execution_id, session.instance_id, started_at
            )
            if found is None:
                return None
            invoke_id, status = found
            await _changed(conn, invoke_id)
            return status

        status = await self._ctx.transaction(record)
        if status in (InvocationStatus.STOPPING, InvocationStatus.CANCELLED):
            # Stopped while the task was on its way: the agent must not go on.
            await session.stop(started.execution_id)

    async def _output(self, instance_id: str, output: agent_pb2.ExecutionOutput) -> None:
        async def record(conn: AsyncConnection) -> None:
            invoke_id = await execution_store.append_output(
                conn,
                output.execution_id,
                instance_id,
                output.offset,
                output.data,
                self._ctx.limits.max_output,
            )
            if invoke_id is None:
                return
            chunk = notices.OutputChunk(
                invoke_id=invoke_id,
                execution_id=output.execution_id,
                instance_id=instance_id,
                offset=output.offset,
                data=output.data,
            )
            await notices.send(conn, notices.output(chunk))

        await self._ctx.transaction(record)

    async def _result(self, session: AgentSession, message: agent_pb2.ExecutionResult) -> None:
        result = result_of(message)

        async def record(conn: AsyncConnection) -> bool:
            invoke_id = await execution_store.finish(conn, session.instance_id, result)
            if invoke_id is not None:
                await _changed(conn, invoke_id)
            return invoke_id is not None

        if await self._ctx.transaction(record):
            metrics.executions_finished.labels(result.status.value).inc()
            log.info(
                "execution finished: %s",
                result.status.value,
                extra={"execution_id": result.execution_id, "instance_id": session.instance_id},
            )
        # Acknowledged even when nothing changed (a duplicate): the agent may forget it.
        await session.send(
            agent_pb2.DispatcherMessage(
                result_ack=agent_pb2.ResultAck(execution_id=result.execution_id)
            )
        )

    async def _deliver(self, sessions: list[AgentSession]) -> None:
        """Send these agents what waits for them: one query and one update for all."""
        by_instance = {session.instance_id: session for session in sessions}
        tasks = await self._ctx.transaction(
            lambda conn: execution_store.undelivered(conn, list(by_instance))
        )
        delivered: list[str] = []
        for task in tasks:
            session = by_instance.get(task.instance_id)
            if session is not None:
                delivered += await session.offer([task])
        if delivered:
            await self._ctx.transaction(
                lambda conn: execution_store.mark_delivered(conn, delivered)
            )

    async def _deliver_on_notice(self) -> None:
        async with self._listener.subscribe(notices.Channel.DISPATCH) as queue:
            while True:
                notice = await queue.get()
                if notice.channel == GAP:
                    wanted = list(self._sessions.values())
                else:
                    ids = notices.dispatched_instances(notice.payload)
                    wanted = [self._sessions[i] for i in ids if i in self._sessions]
                if not wanted:
                    continue
                try:
                    await self._deliver(wanted)
                except Exception:
                    log.exception("delivery failed")

    async def _sweep_delivery_timeouts(self) -> None:
        limits = self._ctx.limits

        async def sweep(conn: AsyncConnection) -> None:
            for invoke_id in await execution_store.abort_undelivered(
                conn, limits.delivery_timeout, limits.offline_after
            ):
                await _changed(conn, invoke_id)

        while True:
            try:
                await self._ctx.transaction(sweep)
            except Exception:
                log.exception("delivery timeout sweep failed")
            await asyncio.sleep(SWEEP_INTERVAL)


async def _changed(conn: AsyncConnection, invoke_id: str) -> None:
    await invocation_store.refresh_status(conn, invoke_id)
    await notices.send(conn, notices.executions_changed([invoke_id]))


async def _hello(requests: AsyncIterator[agent_pb2.AgentMessage]) -> agent_pb2.Hello:
    try:
        first = await asyncio.wait_for(anext(requests), HELLO_TIMEOUT)
    except (TimeoutError, StopAsyncIteration):
        raise invalid(
            "InvalidParam.Hello", "hello", f"send Hello within {HELLO_TIMEOUT:.0f} s of connecting"
        ) from None
    if first.WhichOneof("kind") != "hello":
        raise invalid("InvalidParam.Hello", "hello", "the first message must be Hello")
    if not first.hello.instance_id.strip() or len(first.hello.instance_id) > 64:
        raise invalid(
            "InvalidParam.InstanceId", "hello.instance_id", "instance_id must be 1-64 characters"
        )
    return first.hello


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp
