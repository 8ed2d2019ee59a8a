"""The figures of the invocation benchmark: samples, distributions, and the printed report."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kairos.v1 import invocation_pb2


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values``, linearly interpolated; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(kw_only=True, frozen=True)
class Distribution:
    """p50, p99 and max of a set of samples in milliseconds."""

    n: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> Distribution:
        """Summarise ``samples_ms``."""
        return cls(
            n=len(samples_ms),
            p50_ms=percentile(samples_ms, 50),
            p99_ms=percentile(samples_ms, 99),
            max_ms=max(samples_ms, default=math.nan),
        )


@dataclass(frozen=True)
class RoundTrip:
    """Sequential calls of one RPC: latency and calls per second."""

    name: str
    latency: Distribution
    calls_per_second: float


@dataclass(kw_only=True)
class Invocation:
    """One RunCommand as the client saw it, with the per-instance results read back after."""

    invoke_id: str
    sent_ns: int  # wall clock, to compare with agent-reported times
    replied_ns: int
    finished_ns: int  # the WatchInvocation "finished" event arrived
    sent_mono: float
    finished_mono: float
    status: int
    creation_ns: int = 0
    results: list[invocation_pb2.InvocationResult] = field(default_factory=list)


@dataclass(kw_only=True, frozen=True)
class Run:
    """Invocations run ``in_flight`` at a time, and what they add up to."""

    label: str
    in_flight: int
    invocations: list[Invocation]
    executions: int
    not_successful: int
    wall_seconds: float
    executions_per_second: float
    run_command: Distribution  # RunCommand send → reply
    api: Distribution  # RunCommand send → invocation creation_time (stored)
    dispatch: Distribution  # creation_time → execution start_time (on the agent)
    invoke_to_start: Distribution
    invoke_to_finish: Distribution


@dataclass(kw_only=True, frozen=True)
class Report:
    """Every figure of one run."""

    agents: int
    server_start_seconds: float
    agents_online_seconds: float
    baseline: list[RoundTrip]
    runs: list[Run]
    total_seconds: float = 0.0


def table(report: Report, rounds: int) -> str:
    """The figures as a compact, aligned text table."""
    raw = report.baseline[0]
    head = f"{'':36} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'per s':>9}"
    lines = [
        f"Kairos one-time invocations of `true` on {report.agents} local agents, "
        f"{rounds} rounds per run",
        f"setup: server serving after {report.server_start_seconds:.1f} s, all agents online "
        f"{report.agents_online_seconds:.1f} s later; total run {report.total_seconds:.1f} s",
        "",
        head,
        "-" * len(head),
    ]

    def row(name: str, d: Distribution, rate: float | None = None) -> None:
        per_second = f"{rate:9.1f}" if rate is not None else f"{'':9}"
        lines.append(
            f"{name:36} {d.n:6d} {d.p50_ms:9.2f} {d.p99_ms:9.2f} {d.max_ms:9.2f} {per_second}"
        )

    for trip in report.baseline:
        row(f"baseline: {trip.name}", trip.latency, trip.calls_per_second)
    for run in report.runs:
        lines.append(
            f"{run.label}: {run.executions} executions ({run.not_successful} not Success) in "
            f"{run.wall_seconds:.2f} s = {run.executions_per_second:.1f} executions/s"
        )
        row("  RunCommand call (send → reply)", run.run_command)
        row("  send → creation_time (API)", run.api)
        row("  creation_time → start (dispatch)", run.dispatch)
        row("  invoke → start", run.invoke_to_start)
        row("  invoke → finish", run.invoke_to_finish)
    lines.append("")
    for run in report.runs:
        lines.append(
            f"{run.label}: invoke→start p50 / raw gRPC round-trip p50 = "
            f"{run.invoke_to_start.p50_ms:.2f} / {raw.latency.p50_ms:.3f} ms = "
            f"{run.invoke_to_start.p50_ms / raw.latency.p50_ms:.0f}×"
        )
    return "\n".join(lines)


def as_json(report: Report) -> dict[str, Any]:
    """The figures as plain JSON data."""

    def dist(d: Distribution) -> dict[str, float]:
        return {"n": d.n, "p50_ms": d.p50_ms, "p99_ms": d.p99_ms, "max_ms": d.max_ms}

    raw = report.baseline[0].latency.p50_ms
    return {
        "agents": report.agents,
        "server_start_seconds": report.server_start_seconds,
        "agents_online_seconds": report.agents_online_seconds,
        "total_seconds": report.total_seconds,
        "baseline": [
            {"call": t.name, **dist(t.latency), "calls_per_second": t.calls_per_second}
            for t in report.baseline
        ],
        "runs": [
            {
                "label": run.label,
                "in_flight": run.in_flight,
                "invocations": len(run.invocations),
                "executions": run.executions,
                "not_successful": run.not_successful,
                "wall_seconds": run.wall_seconds,
                "executions_per_second": run.executions_per_second,
                "run_command": dist(run.run_command),
                "send_to_creation": dist(run.api),
                "creation_to_start": dist(run.dispatch),
                "invoke_to_start": dist(run.invoke_to_start),
                "invoke_to_finish": dist(run.invoke_to_finish),
                "invoke_to_start_p50_over_round_trip_p50": run.invoke_to_start.p50_ms / raw,
            }
            for run in report.runs
        ],
    }
