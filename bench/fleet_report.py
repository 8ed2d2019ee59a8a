"""The fleet benchmark's figures for one server, and the table printing Kairos next to bare."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.fleet_check import Check
from bench.fleet_sim import Storm
from bench.invocation_report import Distribution


@dataclass(kw_only=True, frozen=True)
class Loop:
    """Callers each running one call and waiting for every result before the next."""

    per_call: int
    callers: int
    executions: int
    seconds: float
    invoke_to_start: Distribution
    server_cpu_seconds: float
    postgres_cpu_seconds: float | None
    simulator_cpu_seconds: float  # the benchmark's own process: fleet and callers
    failed_calls: Counter[str]  # gRPC status name → RunCommand calls refused

    @property
    def per_second(self) -> float:
        return self.executions / self.seconds if self.seconds > 0 else math.nan

    @property
    def cpu_seconds(self) -> float:
        """Server and PostgreSQL together (the bare server has no PostgreSQL)."""
        return self.server_cpu_seconds + (self.postgres_cpu_seconds or 0.0)

    def cpu_ms_per_execution(self, seconds: float | None) -> float | None:
        if seconds is None or not self.executions:
            return None
        return seconds * 1000.0 / self.executions


@dataclass(kw_only=True)
class Figures:
    """Everything measured on one server with one fleet."""

    server: str
    agents: int
    connect: Storm
    kb_per_agent: float
    idle_server_percent: float
    idle_postgres_percent: float | None
    single: Loop
    small: Loop  # 50 instances per call
    large: Loop  # 1,000 instances per call (or the whole fleet, if smaller)
    storm: Storm
    lost: Counter[str] = field(default_factory=Counter)
    stops: int = 0  # StopTasks the fleet was sent
    checks: list[Check] = field(default_factory=list)

    @property
    def idle_percent(self) -> float:
        """Server and PostgreSQL together (the bare server has no PostgreSQL)."""
        return self.idle_server_percent + (self.idle_postgres_percent or 0.0)

    def failed(self) -> bool:
        return any(check.failures() for check in self.checks)


def _refusals(counts: Counter[str]) -> str:
    total = sum(counts.values())
    if not total:
        return "0"
    return f"{total} (" + ", ".join(f"{name} {n}" for name, n in counts.most_common()) + ")"


_Row = tuple[str, Callable[[Figures], float | None], str]


def _loop_rows(name: str, callers: int, loop: Callable[[Figures], Loop]) -> list[_Row]:
    """The rows of one closed loop: throughput, latency and CPU per execution."""
    return [
        (f"executions/s, {name} ({callers} callers)", lambda f: loop(f).per_second, ".1f"),
        (f"invoke→start p50 ms, {name}", lambda f: loop(f).invoke_to_start.p50_ms, ".1f"),
        (f"invoke→start p99 ms, {name}", lambda f: loop(f).invoke_to_start.p99_ms, ".1f"),
        (
            f"simulator CPU % of a core, {name}",
            lambda f: loop(f).simulator_cpu_seconds / loop(f).seconds * 100,
            ".1f",
        ),
        (
            f"server CPU ms per execution, {name}",
            lambda f: loop(f).cpu_ms_per_execution(loop(f).server_cpu_seconds),
            ".3f",
        ),
        (
            f"PostgreSQL CPU ms per execution, {name}",
            lambda f: loop(f).cpu_ms_per_execution(loop(f).postgres_cpu_seconds),
            ".3f",
        ),
        (
            f"server + PostgreSQL CPU ms per execution, {name}",
            lambda f: loop(f).cpu_ms_per_execution(loop(f).cpu_seconds),
            ".3f",
        ),
    ]


def _rows(kairos: Figures) -> list[_Row]:
    large, small = kairos.large, kairos.small
    return [
        ("connect all, s", lambda f: f.connect.seconds, ".2f"),
        ("reconnect storm, s", lambda f: f.storm.seconds, ".2f"),
        ("KB per agent (server RSS growth / N)", lambda f: f.kb_per_agent, ".1f"),
        ("idle CPU % of a core: server", lambda f: f.idle_server_percent, ".2f"),
        ("idle CPU % of a core: PostgreSQL", lambda f: f.idle_postgres_percent, ".2f"),
        ("idle CPU % of a core: server + PostgreSQL", lambda f: f.idle_percent, ".2f"),
        *_loop_rows(f"{large.per_call} per call", large.callers, lambda f: f.large),
        *_loop_rows(f"{small.per_call} per call", small.callers, lambda f: f.small),
        (
            "invoke→start p50 ms, single instance, idle fleet",
            lambda f: f.single.invoke_to_start.p50_ms,
            ".1f",
        ),
        (
            "invoke→start p99 ms, single instance, idle fleet",
            lambda f: f.single.invoke_to_start.p99_ms,
            ".1f",
        ),
    ]


def table(kairos: Figures, bare: Figures, per_connection: int, heartbeat: int) -> str:
    """The figures of one fleet size, Kairos next to bare, with their ratio."""
    head = f"{'':58} {'Kairos':>10} {'bare':>10} {'Kairos/bare':>12}"
    lines = [
        f"Fleet of {kairos.agents:,} simulated agents ({per_connection} streams per connection, "
        f"heartbeat {heartbeat} s)",
        head,
        "-" * len(head),
    ]

    def cell(value: float | None, spec: str) -> str:
        return f"{'-':>10}" if value is None or math.isnan(value) else f"{value:>10{spec}}"

    for label, pick, spec in _rows(kairos):
        k, b = pick(kairos), pick(bare)
        ratio = "" if k is None or b is None or not b or math.isnan(k) else f"{k / b:>11.3g}×"
        lines.append(f"{label:58} {cell(k, spec)} {cell(b, spec)} {ratio:>12}")
    counts: list[tuple[str, Callable[[Figures], str]]] = [
        ("streams refused at connect", lambda f: _refusals(f.connect.refused)),
        ("streams refused in the reconnect storm", lambda f: _refusals(f.storm.refused)),
        ("streams ended by the server after Welcome", lambda f: _refusals(f.lost)),
        (
            "RunCommand calls refused",
            lambda f: _refusals(
                f.single.failed_calls + f.small.failed_calls + f.large.failed_calls
            ),
        ),
        ("StopTasks sent to the fleet", lambda f: str(f.stops)),
    ]
    for label, value in counts:
        lines.append(f"{label}: Kairos {value(kairos)}; bare {value(bare)}")
    lines.append("checks:")
    for figures in (kairos, bare):
        lines += [f"  {figures.server} {check.line()}" for check in figures.checks]
    return "\n".join(lines)
