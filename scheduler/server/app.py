"""Assembling and running the server: database, roles, health, reflection, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import secrets
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from dispatcher.service import Dispatcher
from kairos.v1 import (
    activation_pb2,
    activation_pb2_grpc,
    agent_pb2,
    agent_pb2_grpc,
    command_pb2,
    command_pb2_grpc,
    file_pb2,
    file_pb2_grpc,
    fleet_pb2,
    fleet_pb2_grpc,
    invocation_pb2,
    invocation_pb2_grpc,
    tag_pb2,
    tag_pb2_grpc,
)
from scheduler.api.activations import ActivationServicer
from scheduler.api.commands import CommandServicer
from scheduler.api.files import FileServicer
from scheduler.api.fleet import FleetServicer
from scheduler.api.invocations import InvocationServicer
from scheduler.api.tags import TagServicer
from scheduler.domain.liveness import AGENT_PING_INTERVAL, PING_TIMEOUT, heartbeat_backstop
from scheduler.observability.grpc_metrics import MetricsInterceptor
from scheduler.observability.metrics import serve_metrics
from scheduler.operations import managed_instances
from scheduler.operations.context import Context
from scheduler.retention import Retention
from scheduler.rpc.auth import TokenTable, load_auth_file, open_access
from scheduler.rpc.in_flight import InFlight
from scheduler.rpc.interceptor import KairosInterceptor
from scheduler.server import collector, tls
from scheduler.server.config import ServerConfig, ServerRole
from scheduler.server.health import Health, serve_health_only
from scheduler.server.ports import binding
from scheduler.store import migrate
from scheduler.store.database import create_engine, database_url
from scheduler.store.embedded import EmbeddedPostgres
from scheduler.store.listener import Listener, conninfo
from scheduler.store.notices import Channel, dispatch_channel
from scheduler.store.probe import DatabaseProbe
from scheduler.ticker import Ticker

log = logging.getLogger(__name__)


def keepalive(ping_interval: int) -> list[tuple[str, int]]:
    """HTTP/2 keepalive: agents' liveness comes from the transport (``domain/liveness.py``).

    This server pings each connection every ``ping_interval`` seconds, so a vanished
    machine's streams end within it and ``PING_TIMEOUT``; and it lets agents ping it every
    ``AGENT_PING_INTERVAL`` without striking them out (GOAWAY ``too_many_pings``, from
    gRPC's default of one ping in five minutes while the server sends no data).
    """
    return [
        ("grpc.keepalive_time_ms", ping_interval * 1000),
        ("grpc.keepalive_timeout_ms", PING_TIMEOUT * 1000),
        # What bounds a keepalive ping's wait for its answer in this gRPC (its default is a
        # minute); the keepalive timeout alone leaves a dead peer's stream open that long.
        ("grpc.http2.ping_timeout_ms", PING_TIMEOUT * 1000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Half the agents' interval: a ping early by a timer's jitter is no strike.
        ("grpc.http2.min_ping_interval_without_data_ms", AGENT_PING_INTERVAL * 1000 // 2),
    ]


PENDING_CALLS = 32_768
"""Calls gRPC core holds before the server takes them, well above the 10,000 agents a
replica is sized for. Its defaults (1,000, refusing at random up to a hard 3,000)
refuse a connect storm inside gRPC (INTERNAL) before Kairos sees it: measured with
bench/fleet_sim.py, 10,000 agents (100 per connection) against a bare grpc.aio
server had 3,966 refused streams with the defaults and none with this."""
FLEET = [
    ("grpc.server.max_pending_requests", PENDING_CALLS),
    ("grpc.server.max_pending_requests_hard_limit", PENDING_CALLS),
]

RECONNECT_HINT_MS = 500
"""How long agents wait before reconnecting when this server shuts down."""
AGENT_CLOSE_MARGIN = 1.0
"""Seconds before the end of the grace period at which agent streams close regardless."""


async def serve(config: ServerConfig) -> None:
    """Run the server until SIGTERM or SIGINT, then shut down gracefully."""
    config.validate()
    listening = tls.endpoints(config)  # reads the TLS files: a bad one stops us here
    tokens = load_auth_file(config.auth_file) if config.auth_file else open_access()
    async with _database(config) as url:
        stop = asyncio.Event()
        starting = asyncio.current_task()
        assert starting is not None

        def on_signal() -> None:
            # During the start, a wait on the database (a listener reconnecting, a locked
            # row) would otherwise keep the signal unanswered until the start completes.
            if not stop.is_set() and not serving:
                starting.cancel()
            stop.set()

        serving = False
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal)
        try:
            async with running_server(config, url, tokens, listening) as (port, shutdown):
                serving = True
                await _serve_until(stop, config, port, shutdown)
        except asyncio.CancelledError:
            if serving or not stop.is_set():
                raise
            starting.uncancel()
            log.info("stopped before serving: a signal came during the start")


async def _serve_until(
    stop: asyncio.Event, config: ServerConfig, port: int, shutdown: Callable[[], Awaitable[None]]
) -> None:
    """Say where the server listens, then serve until ``stop``, then shut down gracefully."""
    collector.settle()
    log.info("kairos server listening on port %d", port)
    security = "TLS" if config.tls_cert else "plaintext"
    print(
        f"kairos server listening on {config.listen.rpartition(':')[0]}:{port} ({security})",
        flush=True,
    )
    if config.agent_listen:
        mutual = " with client certificates" if config.tls_client_ca else ""
        print(f"agents{mutual} on {config.agent_listen}", flush=True)
    if config.health_listen:
        print(f"health checks (plaintext) on {config.health_listen}", flush=True)
    await stop.wait()
    log.info("shutting down")
    await shutdown()


@contextlib.asynccontextmanager
async def _database(config: ServerConfig) -> AsyncIterator[str]:
    if config.database_url:
        await asyncio.to_thread(migrate.check_schema, config.database_url)
        yield database_url(config.database_url)
        return
    embedded = EmbeddedPostgres(config.data_dir / "postgres")
    await asyncio.to_thread(embedded.start)
    try:
        await asyncio.to_thread(migrate.upgrade, embedded.url)
        yield embedded.url
    finally:
        await asyncio.to_thread(embedded.stop)


@contextlib.asynccontextmanager
async def running_server(
    config: ServerConfig,
    url: str,
    tokens: TokenTable,
    listening: Sequence[tls.Endpoint] | None = None,
) -> AsyncIterator[tuple[int, Callable[[], Awaitable[None]]]]:
    """A started gRPC server on ``config.listen``; yields its port and a graceful-stop function.

    ``listening``: the server's ports with their credentials, ``tls.endpoints(config)`` if
    not given. The first is ``--listen``, whose port is yielded. A start that fails or is
    cancelled midway stops what it had started (``ListenError``: a port it cannot have).
    """
    async with contextlib.AsyncExitStack() as started:
        engine = create_engine(url)
        started.push_async_callback(engine.dispose)
        ctx = Context(engine=engine, limits=config.limits)
        # Each dispatcher replica hears of new work only for its own agents, on its own
        # channel.
        dispatcher_id = f"d-{secrets.token_hex(6)}"
        channels: list[str] = list(Channel)
        if ServerRole.DISPATCHER in config.roles:
            channels.append(dispatch_channel(dispatcher_id))
        listener = Listener(conninfo(url), channels)
        started.push_async_callback(listener.stop)
        await listener.start()
        in_flight = InFlight()
        if config.metrics_listen:
            with binding("--metrics-listen", config.metrics_listen):
                stop_metrics = serve_metrics(config.metrics_listen, engine)
            started.push_async_callback(asyncio.to_thread, stop_metrics)
        listening = list(listening or tls.endpoints(config))

        def grpc_server(*, agents_elsewhere: bool) -> grpc.aio.Server:
            return grpc.aio.server(
                # Metrics outermost, so that they see the status the Kairos interceptor sets.
                interceptors=[
                    MetricsInterceptor(),
                    KairosInterceptor(
                        tokens,
                        in_flight,
                        functools.partial(managed_instances.credential_caller, ctx),
                        agents_elsewhere=agents_elsewhere,
                    ),
                ],
                # Without this a second server on the same port starts silently and splits
                # traffic.
                options=[*keepalive(config.heartbeat_interval), *FLEET, ("grpc.so_reuseport", 0)],
            )

        # With --agent-listen, agents are served there only, by a server of their own (which
        # port a call came in on is not something a call's context tells): on --listen an
        # agent call is refused, saying where to go, and a port open to every client does not
        # open the agent API. With --tls-client-ca that port alone verifies client
        # certificates.
        server = grpc_server(agents_elsewhere=config.agent_listen is not None)
        agent_server = grpc_server(agents_elsewhere=False) if config.agent_listen else None
        grpc_servers = [server, *([agent_server] if agent_server is not None else [])]
        # Bound before anything else starts: a port in use stops the start at once, before
        # this replica takes a dispatcher lease or claims a fire. Stopped after the
        # dispatcher (the stack unwinds in reverse), which tells its agents where to go.
        port = _add_port(server, listening[0])
        if agent_server is not None:
            _add_port(agent_server, listening[1])
        for serving in grpc_servers:
            started.push_async_callback(serving.stop, 0)
        health_servicer = health.aio.HealthServicer()
        for serving in grpc_servers:
            health_pb2_grpc.add_HealthServicer_to_server(health_servicer, serving)
        services = [
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ]
        dispatcher: Dispatcher | None = None
        api_ctx = ctx
        if ServerRole.DISPATCHER in config.roles:
            dispatcher = Dispatcher(
                ctx,
                listener,
                dispatcher_id=dispatcher_id,
                heartbeat_interval=heartbeat_backstop(config.limits),
                send_timeout=config.agent_send_timeout,
            )
            # Calls served here hand what they create for these agents straight to them.
            api_ctx = dataclasses.replace(ctx, agents=dispatcher.held_agents())
        if ServerRole.API in config.roles:
            services += _add_api(api_ctx, listener, server)
        if dispatcher is not None:
            # Also on --listen when agents have their own port: there it only refuses them.
            for serving in grpc_servers:
                agent_pb2_grpc.add_AgentServiceServicer_to_server(dispatcher, serving)
            services.append(agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name)
            # Only a lease it took is given back: a start cancelled while it waits on the
            # database must not wait there again on its way out.
            await dispatcher.start()
            started.push_async_callback(dispatcher.shutdown, RECONNECT_HINT_MS)
        ticker: Ticker | None = None
        # The retention job runs with the ticker role, beside it, as a task of its own.
        retention: Retention | None = None
        if ServerRole.TICKER in config.roles:
            ticker = Ticker(ctx, listener)
            started.push_async_callback(ticker.shutdown)
            await ticker.start()
            retention = Retention(ctx)
            started.push_async_callback(retention.shutdown)
            await retention.start()
        reflection.enable_server_reflection(services, server)
        for serving in grpc_servers:
            await serving.start()
        # Started after the main port, so that a probe sees SERVING only once it listens too.
        if config.health_listen:
            with binding("--health-listen", config.health_listen):
                health_only = await serve_health_only(config.health_listen, health_servicer)
            started.push_async_callback(health_only.stop, 0)
        health_status = Health(health_servicer, services, DatabaseProbe(conninfo(url)))
        started.push_async_callback(health_status.shutdown)
        await health_status.start()

        async def shutdown() -> None:
            """Drain: not serving, no new fires or calls, in-flight calls finish, agents
            move on."""
            # Not serving first, so load balancers and probes stop sending new work.
            await health_status.shutdown()
            if ticker is not None:
                await ticker.shutdown()  # its open round commits or rolls back whole
            if retention is not None:
                await retention.shutdown()
            # From here new calls are refused; calls in flight get up to the grace period.
            stopping = asyncio.gather(*(serving.stop(config.grace) for serving in grpc_servers))
            # Client calls in flight (a WatchInvocation, say) may still need agents' results.
            await in_flight.idle(config.grace - AGENT_CLOSE_MARGIN)
            if dispatcher is not None:
                # Agent streams would otherwise hold the server for the whole grace period;
                # agents keep their results on disk and reconnect to another replica.
                await dispatcher.shutdown(RECONNECT_HINT_MS)
            await stopping

        yield port, shutdown


def _add_api(ctx: Context, listener: Listener, server: grpc.aio.Server) -> list[str]:
    """Add the client API's services to ``server``; returns their names."""
    command_pb2_grpc.add_CommandServiceServicer_to_server(CommandServicer(ctx), server)
    invocation_pb2_grpc.add_InvocationServiceServicer_to_server(
        InvocationServicer(ctx, listener), server
    )
    fleet_pb2_grpc.add_FleetServiceServicer_to_server(FleetServicer(ctx), server)
    file_pb2_grpc.add_FileServiceServicer_to_server(FileServicer(ctx), server)
    activation_pb2_grpc.add_ActivationServiceServicer_to_server(ActivationServicer(ctx), server)
    tag_pb2_grpc.add_TagServiceServicer_to_server(TagServicer(ctx), server)
    return [
        command_pb2.DESCRIPTOR.services_by_name["CommandService"].full_name,
        invocation_pb2.DESCRIPTOR.services_by_name["InvocationService"].full_name,
        fleet_pb2.DESCRIPTOR.services_by_name["FleetService"].full_name,
        file_pb2.DESCRIPTOR.services_by_name["FileService"].full_name,
        activation_pb2.DESCRIPTOR.services_by_name["ActivationService"].full_name,
        tag_pb2.DESCRIPTOR.services_by_name["TagService"].full_name,
    ]


def _add_port(server: grpc.aio.Server, endpoint: tls.Endpoint) -> int:
    with binding(endpoint.flag, endpoint.address):
        if endpoint.credentials is None:
            return server.add_insecure_port(endpoint.address)
        return server.add_secure_port(endpoint.address, endpoint.credentials)
