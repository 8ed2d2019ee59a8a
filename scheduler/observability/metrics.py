"""Prometheus metrics of the server roles, and the HTTP endpoint that serves them.

Names follow Prometheus conventions (base units, ``_total`` counters); the gRPC
server series use the names of go-grpc-prometheus, which dashboards expect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy.ext.asyncio import AsyncEngine

GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")

grpc_started = Counter("grpc_server_started_total", "RPCs started on the server.", GRPC_LABELS)
grpc_handled = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    (*GRPC_LABELS, "grpc_code"),
)
grpc_handling_seconds = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its end.",
    GRPC_LABELS,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300),
)
grpc_msg_received = Counter(
    "grpc_server_msg_received_total", "Stream messages received from clients.", GRPC_LABELS
)
grpc_msg_sent = Counter(
    "grpc_server_msg_sent_total", "Stream messages sent to clients.", GRPC_LABELS
)

fires = Counter(
    "kairos_fires_total",
    "Fires turned into executions, by trigger (schedule, boot or trigger: TriggerInvocation).",
    ("trigger",),
)
fire_skips = Counter(
    "kairos_fire_skips_total",
    "Scheduled fires that did not run, by reason (overlap, misfire, paused).",
    ("reason",),
)
fire_errors = Counter(
    "kairos_fire_errors_total",
    "Due targets whose fire could not be decided (a bug or bad data); each is disarmed.",
)
executions_finished = Counter(
    "kairos_executions_finished_total",
    "Executions that reached a final status, by status.",
    ("status",),
)
results_not_stored = Counter(
    "kairos_results_not_stored_total",
    "Agent results that changed nothing: duplicates, or late after the execution had ended.",
)
scheduling_lateness = Histogram(
    "kairos_scheduling_lateness_seconds",
    "From an execution's scheduled instant (plus its jitter offset) to its delivery to the agent.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
delivery_latency = Histogram(
    "kairos_delivery_latency_seconds",
    "From an execution's delivery to its agent to the agent's acknowledgement.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
handed_over_tasks = Counter(
    "kairos_handed_over_tasks_total",
    "Tasks put in their agents' outboxes by the call that created them, in the same process"
    " (no notice, no reading).",
)
connected_agents = Gauge("kairos_connected_agents", "Agent streams held by this dispatcher.")
agent_messages_delayed = Counter(
    "kairos_agent_messages_delayed_total",
    "Agent messages that found the database unavailable: held until it was back"
    " (heartbeats: dropped), by message kind.",
    ("kind",),
)
agent_reports_waiting = Gauge(
    "kairos_agent_reports_waiting",
    "Agent reports (acks, starts, output, results) read by this dispatcher and not yet"
    " applied to the database.",
)
agent_report_batch_size = Histogram(
    "kairos_agent_report_batch_size",
    "Agent reports applied in one transaction (group commit).",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
agent_connects_waiting = Gauge(
    "kairos_agent_connects_waiting",
    "Agent Hellos read and waiting to be recorded (dispatcher.connections).",
)
agent_disconnects_waiting = Gauge(
    "kairos_agent_disconnects_waiting",
    "Ended agent streams waiting to be recorded while the database is unavailable"
    " (dispatcher.connections).",
)
agent_connect_batch_size = Histogram(
    "kairos_agent_connect_batch_size",
    "Agent Hellos recorded in one transaction (group commit).",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
database_up = Gauge(
    "kairos_database_up", "1 while this process's health probe reaches the database, else 0."
)
stuck_agent_streams = Counter(
    "kairos_stuck_agent_streams_total",
    "Agent streams closed because their outbox stayed full past --agent-send-timeout.",
)
agent_takeovers = Counter(
    "kairos_agent_takeovers_total",
    "Agent streams that replaced a connected stream of the same instance from another peer: "
    "reconnects while the old stream still looked open, or two agents speaking for one instance.",
)
silent_agent_streams = Counter(
    "kairos_silent_agent_streams_total",
    "Agent streams closed because the agent sent nothing for longer than --agent-lost-after.",
)
quota_exceeded = Counter(
    "kairos_quota_exceeded_total",
    "Requests or fires refused by a quota, by quota name.",
    ("quota",),
)
retention_deleted = Counter(
    "kairos_retention_deleted_total",
    "Rows the retention job deleted, by table (executions, invocations, commands,"
    " idempotency_keys, daily_usage).",
    ("table",),
)
retention_errors = Counter(
    "kairos_retention_errors_total",
    "Retention rounds that failed (the database unavailable, say); the next round retries.",
)


class PoolCollector(Collector):
    """Connections of the database pool, read when Prometheus scrapes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self._engine.pool
        family = GaugeMetricFamily(
            "kairos_db_pool_connections",
            "Connections of the database pool, by state.",
            labels=["state"],
        )
        family.add_metric(["in_use"], float(getattr(pool, "checkedout", lambda: 0)()))
        family.add_metric(["idle"], float(getattr(pool, "checkedin", lambda: 0)()))
        family.add_metric(["overflow"], float(max(0, getattr(pool, "overflow", lambda: 0)())))
        yield family


def serve_metrics(listen: str, engine: AsyncEngine) -> Callable[[], None]:
    """Serve /metrics on ``listen`` (HOST:PORT) from a thread; returns a function to stop it."""
    host, _, port = listen.rpartition(":")
    collector = PoolCollector(engine)
    REGISTRY.register(collector)
    server, thread = start_http_server(int(port), addr=host.strip("[]") or "0.0.0.0")

    def stop() -> None:
        server.shutdown()
        thread.join()
        REGISTRY.unregister(collector)

    return stop
