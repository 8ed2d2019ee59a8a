"""AgentService: one bidirectional stream per agent, and the dispatcher's background work."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from dispatcher.messages import decoded, kind_of, moment, result_ack_message, result_of
from dispatcher.patience import when_available
from dispatcher.session import AgentSession
from kairos.v1 import agent_pb2, agent_pb2_grpc
from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import OsType
from scheduler.domain.errors import KairosError, invalid
from scheduler.domain.hello import HELLO_LIMITS, check_held, check_hello
from scheduler.domain.live_rate import LiveRate
from scheduler.domain.models import AgentHello
from scheduler.domain.tenancy import InstanceKey
from scheduler.observability import metrics
from scheduler.operations import lifecycle
from scheduler.operations.context import Context
from scheduler.rpc.context import RpcContext
from scheduler.rpc.convert import from_proto
from scheduler.rpc.interceptor import current_caller
from scheduler.store import notices
from scheduler.store.database import log_failure
from scheduler.store.dispatch import TaskView
from scheduler.store.listener import GAP, Listener, Notice

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 10.0
"""Seconds an agent has to send Hello after opening its stream."""
SWEEP_INTERVAL = 1.0
"""Seconds between checks for executions past their delivery timeout or held by lost agents."""
LEASE_TTL = timedelta(seconds=15)
"""How long this replica's agents count as connected after its last lease renewal."""
LEASE_RENEWAL = 5.0
"""Seconds between lease renewals: a few chances to renew before the lease lapses."""


class Dispatcher(agent_pb2_grpc.AgentServiceServicer):  # type: ignore[misc]
    """Holds the agent streams of this replica and delivers their work."""

    def __init__(
        self,
        ctx: Context,
        listener: Listener,
        *,
        dispatcher_id: str,
        heartbeat_interval: int,
        send_timeout: float = 30.0,
    ) -> None:
        self._ctx = ctx
        self._listener = listener
        self._id = dispatcher_id
        self._heartbeat_interval = heartbeat_interval
        self._send_timeout = send_timeout
        # By tenant and instance id: two accounts may each have an i-web-1.
        self._sessions: dict[InstanceKey, AgentSession] = {}
        self._background: list[asyncio.Task[None]] = []
        self._aborting: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Take this replica's lease, then deliver on notifications and sweep what is unanswered."""
        await lifecycle.hold_lease(self._ctx, self._id, LEASE_TTL)
        self._background = [
            asyncio.create_task(self._renew_lease(), name="kairos-lease"),
            asyncio.create_task(self._deliver_on_notice(), name="kairos-delivery"),
            asyncio.create_task(self._sweep_unanswered(), name="kairos-sweeper"),
        ]

    async def shutdown(self, reconnect_after_ms: int) -> None:
        """Tell every agent to reconnect elsewhere, close the streams and stop the work."""
        for session in list(self._sessions.values()):
            session.send_nowait_shutdown(reconnect_after_ms)
            session.close()
        background, self._background = self._background, []
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await lifecycle.release_lease(self._ctx, self._id)
        except Exception:  # the lease lapses by itself: the agents count as gone a bit later
            log.warning("could not release the dispatcher lease", exc_info=True)

    async def Connect(
        self, requests: AsyncIterator[agent_pb2.AgentMessage], context: RpcContext
    ) -> AsyncIterator[agent_pb2.DispatcherMessage]:
        tenant = current_caller().tenant
        requests = decoded(requests)
        hello = await _hello(requests)
        key = InstanceKey(tenant, hello.instance_id)
        stream = asyncio.current_task()
        session = AgentSession(
            key,
            send_timeout=self._send_timeout,
            on_stuck=lambda stuck: self._close_stuck(stuck, context, stream),
        )
        await lifecycle.register_agent(
            self._ctx, tenant, _agent_hello(hello), dispatcher_id=self._id
        )
        # An older agent lists nothing (the field is unset): nothing to reconcile.
        to_stop = (
            await lifecycle.reconcile(self._ctx, key, list(hello.held.execution_ids))
            if hello.HasField("held")
            else []
        )
        previous = self._sessions.get(key)
        if previous is not None:
            previous.close()
        self._sessions[key] = session
        metrics.connected_agents.inc()
        log.info("agent connected", extra={"instance_id": hello.instance_id})
        # Live output is rated per execution where its agent's stream arrives.
        live = LiveRate(self._ctx.limits.live_output_rate, head=self._ctx.limits.max_output)
        reader = asyncio.create_task(self._read(session, requests, live))
        try:
            yield agent_pb2.DispatcherMessage(
                welcome=agent_pb2.Welcome(
                    heartbeat_interval_seconds=self._heartbeat_interval, server_time=_now()
                )
            )
            for execution_id in to_stop:
                session.stop(execution_id)
            await self._deliver([session])
            while (message := await session.next_message()) is not None:
                yield message
                # gRPC took the message: refill an outbox that had no room for some work.
                if session.wants_work():
                    await self._refill(session)
            # A message the server could not take ends the stream with its refusal, never OK.
            if reader.done() and (failure := reader.result()) is not None:
                raise failure
        finally:
            session.ended()
            reader.cancel()
            # Shielded: the stream's own cancellation must not skip recording that the
            # agent is gone, or its executions would wait out "DeliveryTimeout" instead.
            await asyncio.shield(self._forget(session, reader))

    def _close_stuck(
        self, session: AgentSession, context: RpcContext, stream: asyncio.Task[Any] | None
    ) -> None:
        """End the stream of an agent that stopped reading; it is forgotten as if it left."""
        log.warning(
            "agent stream %s: %s; closing the stream",
            "silent" if session.silent else "stuck",
            session.stuck_reason,
            extra={"instance_id": session.key.instance_id},
        )
        (metrics.silent_agent_streams if session.silent else metrics.stuck_agent_streams).inc()
        # The status goes out behind what gRPC already holds (the agent sees it when it
        # reads again); cancelling the stream's task ends its generator now, so the
        # agent is recorded as gone and its executions follow the delivery rules.
        aborting = asyncio.create_task(_abort_unavailable(context, session.stuck_reason))
        self._aborting.add(aborting)
        aborting.add_done_callback(self._aborting.discard)
        if stream is not None:
            stream.cancel()

    async def _refill(self, session: AgentSession) -> None:
        try:
            await self._deliver([session])
        except Exception:
            log.exception("delivery failed", extra={"instance_id": session.key.instance_id})

    async def _forget(self, session: AgentSession, reader: asyncio.Task[Exception | None]) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        metrics.connected_agents.dec()
        key = session.key
        if self._sessions.get(key) is session:
            del self._sessions[key]
            await lifecycle.disconnect(self._ctx, key, dispatcher_id=self._id)
        log.info("agent disconnected", extra={"instance_id": key.instance_id})

    async def _read(
        self,
        session: AgentSession,
        requests: AsyncIterator[agent_pb2.AgentMessage],
        live: LiveRate,
    ) -> Exception | None:
        """Handle the agent's messages until it closes; what ended the stream otherwise."""
        try:
            async for message in requests:
                session.heard()
                await when_available(
                    functools.partial(self._handle, session, message, live),
                    kind=message.WhichOneof("kind") or "unknown",
                    instance_id=session.key.instance_id,
                    # Waiting for the database is not the agent falling silent.
                    retrying=session.heard,
                )
        except asyncio.CancelledError:
            raise
        except KairosError as refusal:
            log.warning(
                "agent message refused: %s; ending its stream",
                refusal.message,
                extra={"instance_id": session.key.instance_id},
            )
            return refusal
        except Exception as error:
            # The interceptor logs it in full, with the request id the agent is told.
            log.warning(
                "agent stream failed: %s",
                type(error).__name__,
                extra={"instance_id": session.key.instance_id},
            )
            return error
        finally:
            session.close()
        return None

    async def _handle(
        self, session: AgentSession, message: agent_pb2.AgentMessage, live: LiveRate
    ) -> None:
        # The agent touches only its own instance's executions, in its own tenant.
        agent = session.key
        kind = kind_of(message)
        if kind == "heartbeat":
            await lifecycle.heartbeat(self._ctx, agent, dispatcher_id=self._id)
        elif kind == "ack":
            session.acknowledged(message.ack.execution_id)
            if await lifecycle.acknowledge(self._ctx, agent, message.ack.execution_id):
                session.stop(message.ack.execution_id)
        elif kind == "started":
            started = message.started
            started_at = moment(started, "start_time")
            if await lifecycle.start(self._ctx, agent, started.execution_id, started_at):
                session.stop(started.execution_id)
        elif kind == "output":
            output = message.output
            await lifecycle.record_output(
                self._ctx, agent, output.execution_id, output.offset, output.data, live
            )
        elif kind == "result":
            result = result_of(message.result)
            await lifecycle.finish(self._ctx, agent, result)
            session.finished(result.execution_id)
            live.forget(result.execution_id)
            # Acknowledged even when nothing changed (a duplicate): the agent may forget it.
            # Never waits: an outbox too full even for that closes the stuck stream.
            session.send(result_ack_message(result.execution_id))

    async def _deliver(self, sessions: list[AgentSession]) -> None:
        """Offer these agents what waits for them: one query and one update for all.

        Never waits on an agent: what does not fit in its outbox stays undelivered
        until its stream drains (``AgentSession.wants_work``).
        """
        # An agent with a full outbox is only sent stops now: its tasks are read again
        # when its stream drains, so a stuck agent costs the shared loop no big reads.
        room = {s.key: s for s in sessions if s.has_room()}
        full = {s.key: s for s in sessions if s.key not in room}
        marks = {key: session.mark() for key, session in room.items()}
        waiting: dict[InstanceKey, list[TaskView]] = {s.key: [] for s in sessions}
        for task in await lifecycle.waiting_work(self._ctx, list(room), stops_only=list(full)):
            waiting[task.instance].append(task)
        delivered: list[str] = []
        for key, session in room.items():
            delivered += session.offer(waiting[key], as_of=marks[key])
        for key, session in full.items():
            session.offer(waiting[key])
            session.left_out()
        await lifecycle.delivered(self._ctx, delivered)

    async def _deliver_on_notice(self) -> None:
        async with self._listener.subscribe(notices.Channel.DISPATCH) as queue:
            while True:
                received = [await queue.get()]
                # What arrived meanwhile is handled with it: one read for all of them.
                while (more := queue.get_nowait()) is not None:
                    received.append(more)
                try:
                    wanted = await self._wanting_work(received)
                    if wanted:
                        await self._deliver(wanted)
                except Exception as error:
                    log_failure(log, "delivery", error)

    async def _renew_lease(self) -> None:
        while True:
            await asyncio.sleep(LEASE_RENEWAL)
            try:
                await lifecycle.hold_lease(self._ctx, self._id, LEASE_TTL)
            except Exception:
                log.exception("dispatcher lease renewal failed")

    def _close_silent(self) -> None:
        """Close the streams of agents silent for longer than the lost-after time.

        Their executions end as lost meanwhile; a half-open stream (a network
        partition) must not outlive that, or the agent would go on running them:
        once its stream ends it reconnects and reconciles.
        """
        lost_after = self._ctx.limits.agent_lost_after
        for session in list(self._sessions.values()):
            if session.silent_for() > lost_after:
                session.give_up(f"it sent nothing for more than {lost_after} s", silent=True)

    async def _wanting_work(self, received: list[Notice]) -> list[AgentSession]:
        """This replica's agents that the DISPATCH notices (invocation ids) have work for."""
        if not self._sessions:
            return []
        if any(notice.channel == GAP for notice in received):
            return list(self._sessions.values())
        keys = await lifecycle.agents_with_work(self._ctx, [n.payload for n in received])
        return [self._sessions[key] for key in keys if key in self._sessions]

    async def _sweep_unanswered(self) -> None:
        # Seconds of working database before this replica ends anything as unanswered after
        # an outage: every replica must first renew its lease and every agent record what it
        # could not meanwhile (acks, heartbeats), or their agents would look lost.
        grace = LEASE_TTL.total_seconds()
        reachable_since = time.monotonic() - grace
        while True:
            self._close_silent()
            try:
                if time.monotonic() - reachable_since >= grace:
                    await lifecycle.end_unanswered(self._ctx)
                else:
                    await lifecycle.check_database(self._ctx)
            except Exception as error:
                log_failure(log, "delivery timeout sweep", error)
                reachable_since = time.monotonic()
            await asyncio.sleep(SWEEP_INTERVAL)


async def _abort_unavailable(context: RpcContext, reason: str) -> None:
    try:
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"stream closed: {reason}; reconnect")
    except grpc.aio.AbortError:
        pass  # how abort ends: the status is on its way
    except Exception:  # the agent went away meanwhile: there is no one to tell
        log.debug("could not end a stuck agent stream with a status", exc_info=True)


def _agent_hello(hello: agent_pb2.Hello) -> AgentHello:
    return AgentHello(
        instance_id=hello.instance_id,
        name=hello.instance_name,
        # UNSPECIFIED (0) means Linux; an unknown value was refused by _hello.
        os_type=from_proto(OsType, hello.os_type) or OsType.LINUX,
        agent_version=hello.agent_version,
        time_zone=hello.time_zone or "UTC",
        boot_id=hello.boot_id,
    )


async def _hello(requests: AsyncIterator[agent_pb2.AgentMessage]) -> agent_pb2.Hello:
    try:
        first = await asyncio.wait_for(anext(requests), HELLO_TIMEOUT)
    except (TimeoutError, StopAsyncIteration):
        raise invalid(
            RefusalCode.INVALID_PARAM_HELLO,
            "hello",
            f"send Hello within {HELLO_TIMEOUT:.0f} s of connecting",
        ) from None
    if first.WhichOneof("kind") != "hello":
        raise invalid(RefusalCode.INVALID_PARAM_HELLO, "hello", "the first message must be Hello")
    hello = first.hello
    check_hello({name: getattr(hello, name) for name in HELLO_LIMITS})
    check_held(hello.held.execution_ids)
    if hello.os_type != 0 and from_proto(OsType, hello.os_type) is None:
        raise invalid(
            RefusalCode.INVALID_PARAM_HELLO,
            "hello.os_type",
            f"os_type {hello.os_type} is not a known OsType; leave it unset for Linux",
        )
    return hello


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp
