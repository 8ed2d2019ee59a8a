"""`kairos server` and `kairos migrate`."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from scheduler.domain.limits import Limits


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``server`` and ``migrate`` subcommands."""
    defaults = Limits()
    server = subparsers.add_parser(
        "server",
        help="run the Kairos server (API and dispatcher)",
        description="Run the Kairos server. With no --database-url it starts a private "
        "PostgreSQL in --data-dir, migrates it, and stops it on exit.",
    )
    server.add_argument(
        "--listen",
        default=os.environ.get("KAIROS_LISTEN", "127.0.0.1:50051"),
        help="HOST:PORT for the client API, the agent API and health "
        "(env KAIROS_LISTEN; default %(default)s)",
    )
    server.add_argument(
        "--database-url",
        default=os.environ.get("KAIROS_DATABASE_URL"),
        help="postgresql://user:password@host:port/db (env KAIROS_DATABASE_URL); "
        "the schema must be migrated (kairos migrate)",
    )
    server.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("KAIROS_DATA_DIR", ".kairos/server")),
        help="where the embedded PostgreSQL keeps its data (env KAIROS_DATA_DIR)",
    )
    server.add_argument(
        "--auth-file",
        type=Path,
        default=os.environ.get("KAIROS_AUTH_FILE"),
        help="TOML file of [[tokens]] (token, account, region, role)",
    )
    server.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback --listen without an --auth-file or without TLS "
        "(for a port something else guards, such as a service mesh's mutual TLS)",
    )
    server.add_argument(
        "--tls-cert",
        type=Path,
        metavar="FILE",
        help="PEM certificate chain: serve TLS on --listen (with --tls-key); "
        "reloaded when the file changes",
    )
    server.add_argument(
        "--tls-key",
        type=Path,
        metavar="FILE",
        help="PEM private key of --tls-cert; reloaded when the file changes",
    )
    server.add_argument(
        "--tls-client-ca",
        type=Path,
        metavar="FILE",
        help="PEM CA certificates: agents must show a client certificate it signed, "
        "on --agent-listen (mutual TLS); operators keep using --listen and tokens",
    )
    server.add_argument(
        "--agent-listen",
        metavar="HOST:PORT",
        help="a second port, for agents with client certificates (needs --tls-client-ca; "
        "with it, agents are refused on --listen)",
    )
    server.add_argument(
        "--health-listen",
        default=os.environ.get("KAIROS_HEALTH_LISTEN"),
        metavar="HOST:PORT",
        help="a plaintext port serving only grpc.health.v1, for probes that cannot speak "
        "TLS (env KAIROS_HEALTH_LISTEN; default: health on --listen only)",
    )
    server.add_argument(
        "--roles",
        default=os.environ.get("KAIROS_ROLES", "api,dispatcher,ticker"),
        help="comma-separated roles to run: api, dispatcher, ticker (default: all)",
    )
    server.add_argument("--max-commands", type=int, default=defaults.max_commands)
    server.add_argument("--max-daily-executions", type=int, default=defaults.max_daily_executions)
    server.add_argument(
        "--max-instances-per-call", type=int, default=defaults.max_instances_per_call
    )
    server.add_argument(
        "--max-instances",
        type=int,
        default=defaults.max_instances,
        metavar="N",
        help="instances per account and region; a new one past it is refused "
        "(RESOURCE_EXHAUSTED), one already registered never is",
    )
    server.add_argument(
        "--max-instances-per-selector",
        type=int,
        default=defaults.max_instances_per_selector,
        metavar="N",
        help="instances a selector (run/invoke -l, resource_tags) may match when an invocation "
        "is created; past it the call is refused (INVALID_ARGUMENT)",
    )
    server.add_argument(
        "--misfire-grace",
        type=int,
        default=defaults.misfire_grace,
        metavar="SECONDS",
        help="a fire missed while no ticker ran still runs if at most this late",
    )
    server.add_argument(
        "--delivery-timeout",
        type=int,
        default=defaults.delivery_timeout,
        metavar="SECONDS",
        help="seconds before an undelivered execution ends Aborted",
    )
    server.add_argument(
        "--max-watches",
        type=int,
        default=defaults.max_watches,
        metavar="N",
        help="concurrent WatchInvocation streams per account on this server",
    )
    server.add_argument(
        "--live-output-rate",
        type=int,
        default=defaults.live_output_rate,
        metavar="BYTES_PER_SECOND",
        help="live output of one execution relayed to watchers at most at this rate; "
        "what is skipped shows as a gap in the watch, and results keep head and tail "
        "(default %(default)s)",
    )
    server.add_argument(
        "--retention-days",
        type=int,
        default=defaults.retention_days,
        metavar="DAYS",
        help="finished executions (and their output) older than this are deleted, a periodic "
        "target's latest excepted, and final invocations with them (default %(default)s)",
    )
    server.add_argument(
        "--agent-lost-after",
        type=int,
        default=defaults.agent_lost_after,
        metavar="SECONDS",
        help="seconds not seen alive (and not connected) after which the executions an "
        "agent holds (acknowledged, running, stopping) end Error/ClientNotResponse; also "
        "its heartbeat interval (a stream silent for twice this is closed)",
    )
    server.add_argument(
        "--heartbeat-interval",
        type=int,
        default=30,
        metavar="SECONDS",
        help="seconds between the HTTP/2 keepalive pings sent to each agent connection; "
        "a connection that leaves one unanswered for 10 s is closed (agents send heartbeat "
        "messages only every --agent-lost-after, as a backstop)",
    )
    server.add_argument(
        "--agent-send-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="close an agent's stream when its outbox stays full this long (it stopped reading)",
    )
    server.add_argument(
        "--grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long in-flight calls may finish on shutdown",
    )
    server.add_argument(
        "--metrics-listen",
        default=os.environ.get("KAIROS_METRICS_LISTEN"),
        metavar="HOST:PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (env KAIROS_METRICS_LISTEN)",
    )
    server.add_argument(
        "--log-level",
        default=os.environ.get("KAIROS_LOG_LEVEL", "INFO"),
        help="(env KAIROS_LOG_LEVEL)",
    )
    server.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=os.environ.get("KAIROS_LOG_FORMAT", "text"),
        help="text for people, json for log collectors (env KAIROS_LOG_FORMAT)",
    )
    server.set_defaults(func=run_server)

    migrate = subparsers.add_parser(
        "migrate", help="apply the database migrations to an external PostgreSQL"
    )
    migrate.add_argument(
        "--database-url",
        default=os.environ.get("KAIROS_DATABASE_URL"),
        required="KAIROS_DATABASE_URL" not in os.environ,
    )
    migrate.set_defaults(func=run_migrate)


def run_server(args: argparse.Namespace) -> int:
    """Run the server until it is told to stop."""
    # gRPC's C core writes its own log lines to stderr; only its errors belong in ours.
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    from sqlalchemy.exc import OperationalError

    from scheduler.observability.logs import LogFormat
    from scheduler.observability.logs import configure as configure_logging
    from scheduler.rpc.auth import AuthFileError
    from scheduler.server.app import serve
    from scheduler.server.config import ConfigError, ServerConfig, ServerRole
    from scheduler.server.ports import ListenError
    from scheduler.store.embedded import EmbeddedPostgresError
    from scheduler.store.migrate import SchemaNotMigrated

    configure_logging(args.log_level, LogFormat(args.log_format))
    try:
        roles = frozenset(ServerRole(r.strip()) for r in args.roles.split(",") if r.strip())
    except ValueError:
        print(
            f"error: --roles: unknown role in {args.roles!r}; roles are api, dispatcher, ticker",
            file=sys.stderr,
        )
        return 2
    config = ServerConfig(
        listen=args.listen,
        database_url=args.database_url,
        data_dir=args.data_dir,
        auth_file=args.auth_file,
        insecure=args.insecure,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        tls_client_ca=args.tls_client_ca,
        agent_listen=args.agent_listen,
        health_listen=args.health_listen,
        roles=roles,
        limits=Limits(
            max_commands=args.max_commands,
            max_daily_executions=args.max_daily_executions,
            max_instances_per_call=args.max_instances_per_call,
            max_instances=args.max_instances,
            max_instances_per_selector=args.max_instances_per_selector,
            delivery_timeout=args.delivery_timeout,
            agent_lost_after=args.agent_lost_after,
            max_watches=args.max_watches,
            misfire_grace=args.misfire_grace,
            live_output_rate=args.live_output_rate,
            retention_days=args.retention_days,
        ),
        heartbeat_interval=args.heartbeat_interval,
        agent_send_timeout=args.agent_send_timeout,
        grace=args.grace,
        metrics_listen=args.metrics_listen,
    )
    try:
        asyncio.run(serve(config))
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (
        AuthFileError,
        EmbeddedPostgresError,
        ListenError,
        SchemaNotMigrated,
        OperationalError,
        ValueError,
    ) as error:  # stopped before serving: one clear line, no traceback
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    """Apply every migration to the database at --database-url."""
    from sqlalchemy.exc import OperationalError

    from scheduler.store.database import database_url
    from scheduler.store.migrate import upgrade

    try:
        upgrade(database_url(args.database_url))
    except (ValueError, OperationalError) as error:
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 1
    print("database schema is up to date")
    return 0


def _one_line(error: BaseException) -> str:
    # Driver errors carry the SQL and a link on further lines; the first says what failed.
    return str(getattr(error, "orig", None) or error).strip().splitlines()[0]
