"""AgentService: one bidirectional stream per agent, and the dispatcher's background work."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from dispatcher.connections import ConnectionBatches
from dispatcher.deregistrations import Deregistrations
from dispatcher.handover import HeldSessions
from dispatcher.hello import agent_hello, held_executions, read_hello, spoken_protocol
from dispatcher.messages import Said, decoded, moment, result_of, unpacked
from dispatcher.reports import ReportBatches
from dispatcher.session import AgentSession
from dispatcher.upkeep import Upkeep
from kairos.v1 import agent_pb2, agent_pb2_grpc
from scheduler.domain import agent_reports
from scheduler.domain.activations import peer_address
from scheduler.domain.agent_reports import AgentReport
from scheduler.domain.arrivals import Arrival
from scheduler.domain.credentials import check_speaks_for
from scheduler.domain.errors import KairosError
from scheduler.domain.live_rate import LiveRate
from scheduler.domain.tenancy import InstanceKey
from scheduler.observability import metrics
from scheduler.operations import lifecycle, managed_instances
from scheduler.operations.context import Context
from scheduler.rpc.context import RpcContext
from scheduler.rpc.interceptor import current_caller
from scheduler.store import notices
from scheduler.store.database import log_failure
from scheduler.store.dispatch import TaskView
from scheduler.store.listener import GAP, Listener, Notice

log = logging.getLogger(__name__)

FORGOTTEN_WORK_AFTER = 2.0
"""Seconds between two looks for work no notice brought, and how old such work is."""


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
        self._reports = ReportBatches(ctx)
        self._connections = ConnectionBatches(
            ctx, dispatcher_id, self._welcome, lambda key: key in self._sessions
        )
        self._upkeep = Upkeep(ctx, dispatcher_id, lambda: self._sessions.values())
        self._deregistrations = Deregistrations(ctx, listener, lambda: self._sessions)
        self._refills: set[asyncio.Task[None]] = set()

    def held_agents(self) -> HeldSessions:
        """The agents held here, for the calls of this process to hand new executions to."""
        return HeldSessions(self._sessions, self._refill_soon)

    async def start(self) -> None:
        """Take this replica's lease, then deliver on notifications and sweep what is unanswered."""
        await self._upkeep.take_lease()
        self._background = [
            asyncio.create_task(self._upkeep.renew_lease(), name="kairos-lease"),
            asyncio.create_task(self._upkeep.record_alive(), name="kairos-alive"),
            asyncio.create_task(self._deliver_on_notice(), name="kairos-delivery"),
            asyncio.create_task(self._deliver_forgotten(), name="kairos-forgotten-work"),
            asyncio.create_task(self._reports.run(), name="kairos-reports"),
            asyncio.create_task(self._connections.run(), name="kairos-connections"),
            asyncio.create_task(self._upkeep.sweep(), name="kairos-sweeper"),
            asyncio.create_task(self._deregistrations.run(), name="kairos-deregistrations"),
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
        await self._upkeep.release_lease()

    async def Connect(
        self, requests: AsyncIterator[agent_pb2.AgentMessage], context: RpcContext
    ) -> AsyncIterator[agent_pb2.DispatcherMessage]:
        caller = current_caller()
        tenant = caller.tenant
        requests = decoded(requests)
        hello = await read_hello(requests)
        check_speaks_for(caller.instance_id, hello.instance_id)
        stream = asyncio.current_task()
        session = AgentSession(
            InstanceKey(tenant, hello.instance_id),
            protocol=spoken_protocol(hello),
            send_timeout=self._send_timeout,
            on_stuck=lambda stuck: self._close_stuck(stuck, context, stream),
            peer=context.peer(),
        )
        # Recorded with the Hellos that gather meanwhile; then welcomed (``_welcome``).
        arrived = self._connections.arrive(
            session, Arrival(tenant, agent_hello(hello), held_executions(hello))
        )
        reader: asyncio.Task[Exception | None] | None = None
        try:
            await asyncio.shield(arrived)  # a refused Hello ends the stream with why
            # Live output is rated per execution where its agent's stream arrives.
            live = LiveRate(self._ctx.limits.live_output_rate, head=self._ctx.limits.max_output)
            reader = asyncio.create_task(self._read(session, requests, live))
            while (message := await session.next_message()) is not None:
                yield message
                # gRPC took the message: refill an outbox that had no room for some work.
                if session.wants_work():
                    await self._refill(session)
            # A message the server could not take ends the stream with its refusal, never OK.
            if reader.done() and (failure := reader.result()) is not None:
                raise failure
            if session.failure is not None:
                raise session.failure
        finally:
            session.ended()
            if reader is not None:
                reader.cancel()
            # Shielded: the stream's own cancellation must not skip recording that the
            # agent is gone, or its executions would wait out "DeliveryTimeout" instead.
            await asyncio.shield(self._forget(session, arrived, reader))

    async def Register(
        self, request: agent_pb2.RegisterRequest, context: RpcContext
    ) -> agent_pb2.RegisterResponse:
        registered = await managed_instances.register(
            self._ctx,
            request.activation_id,
            request.activation_code,
            hostname=request.hostname,
            address=peer_address(context.peer()),
            registration_id=request.registration_id,
        )
        return agent_pb2.RegisterResponse(
            instance_id=registered.instance.instance_id,
            instance_name=registered.name,
            credential=registered.credential,
        )

    async def _welcome(self, arrived: Sequence[tuple[AgentSession, list[str]]]) -> None:
        """These agents' Hellos are recorded: their sessions replace any earlier ones of the
        same instances, and they get their Welcome, their stops and their waiting work."""
        for session, to_stop in arrived:
            previous = self._sessions.get(session.key)
            if previous is not None:
                if previous.peer != session.peer:
                    _taken_over(session, previous)
                previous.close()
            self._sessions[session.key] = session
            metrics.connected_agents.inc()
            log.info("agent connected", extra={"instance_id": session.key.instance_id})
            session.send(
                agent_pb2.DispatcherMessage(
                    welcome=agent_pb2.Welcome(
                        heartbeat_interval_seconds=self._heartbeat_interval,
                        server_time=_now(),
                        protocol=session.protocol,
                    )
                )
            )
            for execution_id in to_stop:
                session.stop(execution_id)
            self._deregistrations.close_if_gone(session)
        sessions = [session for session, _ in arrived]
        try:
            await self._deliver(sessions)  # one reading for the whole batch
        except Exception as error:
            log_failure(log, "delivery to connecting agents", error)
            for session in sessions:  # they reconnect, and their work is read again
                session.fail(error)

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

    def _refill_soon(self, session: AgentSession) -> None:
        refill = asyncio.create_task(self._refill(session))
        self._refills.add(refill)
        refill.add_done_callback(self._refills.discard)

    async def _refill(self, session: AgentSession) -> None:
        try:
            await self._deliver([session])
        except Exception:
            log.exception("delivery failed", extra={"instance_id": session.key.instance_id})

    async def _forget(
        self,
        session: AgentSession,
        arrived: asyncio.Future[None],
        reader: asyncio.Task[Exception | None] | None,
    ) -> None:
        try:
            await arrived
        except (Exception, asyncio.CancelledError):
            return  # refused, or the dispatcher stopped: never connected
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        metrics.connected_agents.dec()
        key = session.key
        if self._sessions.get(key) is session:
            del self._sessions[key]
            await self._connections.leave(key, session.last_heard_at())
        log.info("agent disconnected", extra={"instance_id": key.instance_id})

    async def _read(
        self,
        session: AgentSession,
        requests: AsyncIterator[agent_pb2.AgentMessage],
        live: LiveRate,
    ) -> Exception | None:
        """Pass the agent's messages on until it closes; what ended the stream otherwise."""
        try:
            async for message in requests:
                session.heard()
                # Each report of a Reports message goes the way the same message alone would.
                for kind, said in unpacked(message, session.protocol):
                    report = self._report(session, kind, said, live)
                    if report is not None:
                        await self._reports.submit(session, report)
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

    def _report(
        self, session: AgentSession, kind: str, message: Said, live: LiveRate
    ) -> AgentReport | None:
        """What the agent's message of ``kind`` reports (None: a heartbeat, or nothing to
        record); ``message`` holds it under that name (``messages.unpacked``)."""
        # The agent touches only its own instance's executions, in its own tenant.
        agent = session.key
        if kind == "heartbeat":
            return None  # it ended the silence (``heard``); the stream's pings say alive
        if kind == "ack":
            session.acknowledged(message.ack.execution_id)
            return agent_reports.Acknowledged(agent, message.ack.execution_id)
        now = datetime.now(UTC)
        if kind == "started":
            started = message.started
            return agent_reports.started(
                agent, started.execution_id, moment(started, "start_time"), now
            )
        if kind == "output":
            chunk = message.output
            report = agent_reports.output(agent, chunk.execution_id, chunk.offset, chunk.data, live)
            if report is None:
                log.warning(
                    "output chunk at an impossible offset %d dropped",
                    chunk.offset,
                    extra={"execution_id": chunk.execution_id, "instance_id": agent.instance_id},
                )
            return report
        result = result_of(message.result)
        live.forget(result.execution_id)
        # The wall clock is enough here: only instants a day or more off are refused.
        return agent_reports.finished(
            agent, result, max_output=self._ctx.limits.max_output, now=now
        )

    async def _deliver(self, sessions: list[AgentSession], *, complete: bool = True) -> None:
        """Offer these agents what waits for them: one query and one update for all.

        Never waits on an agent: what does not fit in its outbox stays undelivered
        until its stream drains (``AgentSession.wants_work``). Not ``complete``: only
        the work never sent (what a notice announces), a far smaller reading under
        load than all the work an agent holds unstarted.
        """
        # An agent with a full outbox is only sent stops now: its tasks are read again
        # when its stream drains, so a stuck agent costs the shared loop no big reads.
        room = {s.key: s for s in sessions if s.has_room()}
        full = {s.key: s for s in sessions if s.key not in room}
        marks = {key: session.mark() for key, session in room.items()}
        waiting: dict[InstanceKey, list[TaskView]] = {s.key: [] for s in sessions}
        try:
            found = await lifecycle.waiting_work(
                self._ctx, list(room), stops_only=list(full), new_only=not complete
            )
        except BaseException:
            for key, session in room.items():
                session.unmark(marks[key])
            raise
        for task in found:
            waiting[task.instance].append(task)
        delivered: list[str] = []
        for key, session in room.items():
            delivered += session.offer(waiting[key], as_of=marks[key], complete=complete)
        for key, session in full.items():
            session.offer(waiting[key])
            session.left_out()
        await lifecycle.delivered(self._ctx, delivered)

    async def _deliver_on_notice(self) -> None:
        async with self._listener.subscribe(notices.dispatch_channel(self._id)) as queue:
            while True:
                received = [await queue.get()]
                # What arrived meanwhile is handled with it: one read for all of them.
                while (more := queue.get_nowait()) is not None:
                    received.append(more)
                try:
                    wanted = await self._wanting_work(received)
                    if wanted:
                        await self._deliver(wanted, complete=False)
                except Exception as error:
                    log_failure(log, "delivery", error)

    async def _deliver_forgotten(self) -> None:
        """Now and then, deliver work that its notice missed.

        A notice goes to the replica that held the agent when the work was written;
        an agent that connected here while that transaction was still open is
        sent its work by this look (``FORGOTTEN_WORK_AFTER`` seconds at most late).
        """
        while True:
            await asyncio.sleep(FORGOTTEN_WORK_AFTER)
            try:
                keys = await lifecycle.agents_with_stale_work(
                    self._ctx, self._id, older_than=FORGOTTEN_WORK_AFTER
                )
                wanted = [self._sessions[key] for key in keys if key in self._sessions]
                if wanted:
                    await self._deliver(wanted, complete=False)
            except Exception as error:
                log_failure(log, "delivery of forgotten work", error)

    async def _wanting_work(self, received: list[Notice]) -> list[AgentSession]:
        """This replica's agents that the DISPATCH notices (invocation ids) have work for."""
        if not self._sessions:
            return []
        if any(notice.channel == GAP for notice in received):
            return list(self._sessions.values())
        keys = await lifecycle.agents_with_work(self._ctx, [n.payload for n in received])
        return [self._sessions[key] for key in keys if key in self._sessions]


def _taken_over(session: AgentSession, previous: AgentSession) -> None:
    """Another stream says it is an instance that a connected stream is: it replaces it.

    An agent reconnecting while its old stream still looks open does this too; two
    agents (or an attacker) speaking for one instance do it again and again.
    """
    metrics.agent_takeovers.inc()
    log.warning(
        "agent stream from %s takes over the instance from the stream from %s",
        session.peer,
        previous.peer,
        extra={"instance_id": session.key.instance_id},
    )


async def _abort_unavailable(context: RpcContext, reason: str) -> None:
    try:
        await context.abort(grpc.StatusCode.UNAVAILABLE, f"stream closed: {reason}; reconnect")
    except grpc.aio.AbortError:
        pass  # how abort ends: the status is on its way
    except Exception:  # the agent went away meanwhile: there is no one to tell
        log.debug("could not end a stuck agent stream with a status", exc_info=True)


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp
