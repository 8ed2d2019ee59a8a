"""What agents report about their executions, and how a batch of reports is grouped. Pure.

A dispatcher applies the reports of all its agent streams in batches, one
transaction each (``operations.reports``). Within a batch the reports are
applied kind by kind, in the order of an execution's life — acknowledged,
started, output, finished — so an execution whose whole life fits in one batch
ends as if each report had been applied alone. ``grouped`` keeps the first
report of each kind per execution (a repeat changes nothing when applied alone
either) and joins an execution's output chunks into one. An execution that ends
within the batch needs neither its acknowledgement nor its start applied: its
result says as much (its start instant taken from the start report when the
result has none), and it ends as it would after them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import ClassVar

from scheduler.domain.limits import MAX_OUTPUT_OFFSET
from scheduler.domain.live_rate import LiveRate
from scheduler.domain.models import ExecutionResult
from scheduler.domain.reports import believable, bounded_result
from scheduler.domain.tenancy import InstanceKey

ExecutionKey = tuple[InstanceKey, str]
"""An execution as an agent names it: its own instance, and the execution id."""


@dataclass(frozen=True)
class Acknowledged:
    """The agent holds the execution (the delivery timeout no longer applies)."""

    kind: ClassVar[str] = "ack"
    """The AgentMessage field it comes from."""

    agent: InstanceKey
    execution_id: str


@dataclass(frozen=True)
class Started:
    """The agent started the execution at ``started_at`` (the server's time if not believed)."""

    kind: ClassVar[str] = "started"
    """The AgentMessage field it comes from."""

    agent: InstanceKey
    execution_id: str
    started_at: datetime


@dataclass(frozen=True, kw_only=True)
class Output:
    """A chunk of live output at ``offset``; ``live`` rates what of it goes to watchers."""

    kind: ClassVar[str] = "output"
    """The AgentMessage field it comes from."""

    agent: InstanceKey
    execution_id: str
    offset: int
    data: bytes
    live: LiveRate = field(compare=False)


@dataclass(frozen=True)
class Finished:
    """The agent's final result, already bounded by the server's rules (``domain.reports``)."""

    kind: ClassVar[str] = "result"
    """The AgentMessage field it comes from."""

    agent: InstanceKey
    result: ExecutionResult

    @property
    def execution_id(self) -> str:
        return self.result.execution_id


AgentReport = Acknowledged | Started | Output | Finished


def started(
    agent: InstanceKey, execution_id: str, reported_at: datetime | None, now: datetime
) -> Started:
    """A start as the server records it: an instant it does not believe
    (``domain.reports.believable``) is replaced by its own time."""
    return Started(agent, execution_id, believable(reported_at, now) or now)


def output(
    agent: InstanceKey, execution_id: str, offset: int, data: bytes, live: LiveRate
) -> Output | None:
    """A chunk of live output; None at an impossible offset (negative, or beyond any
    real output), which only a broken or hostile agent sends."""
    if not 0 <= offset <= MAX_OUTPUT_OFFSET:
        return None
    return Output(agent=agent, execution_id=execution_id, offset=offset, data=data, live=live)


def finished(
    agent: InstanceKey, reported: ExecutionResult, *, max_output: int, now: datetime
) -> Finished:
    """A result as the server stores it: bounded by its rules, not the agent's."""
    return Finished(agent, bounded_result(reported, max_output=max_output, now=now))


@dataclass(frozen=True, kw_only=True)
class JoinedOutput:
    """An execution's output chunks of one batch as one: ``data`` from ``offset`` on, and
    ``end``, the output size once stored (more than offset plus length after a gap)."""

    agent: InstanceKey
    execution_id: str
    offset: int
    data: bytes
    end: int
    live: LiveRate = field(compare=False)
    runs: tuple[tuple[int, bytes], ...] = ()
    """The unbroken stretches of ``data``, each at its own offset: what watchers are
    given, so that a skip between two chunks stays a gap (``data`` glues them, as the
    store keeps them)."""


@dataclass(kw_only=True)
class Grouped:
    """One batch of reports, by kind, in the order they are applied."""

    acknowledged: list[Acknowledged] = field(default_factory=list)
    started: list[Started] = field(default_factory=list)
    output: list[JoinedOutput] = field(default_factory=list)
    finished: list[Finished] = field(default_factory=list)


def grouped(reports: Iterable[AgentReport]) -> Grouped:
    """The reports by kind: the first of each kind per execution, output chunks joined.

    An execution's chunks, in the order they came, become one chunk at the first
    one's offset: a chunk before the end of those already joined is a resend and
    is skipped; one after it (the agent dropped output meanwhile) is appended,
    as it would be alone.
    """
    batch = Grouped()
    seen: set[tuple[type, ExecutionKey]] = set()
    chunks: dict[ExecutionKey, list[Output]] = {}
    for report in reports:
        key = (report.agent, report.execution_id)
        if isinstance(report, Output):
            chunks.setdefault(key, []).append(report)
            continue
        if (type(report), key) in seen:
            continue
        seen.add((type(report), key))
        if isinstance(report, Acknowledged):
            batch.acknowledged.append(report)
        elif isinstance(report, Started):
            batch.started.append(report)
        else:
            batch.finished.append(report)
    batch.output = [_joined(parts) for parts in chunks.values()]
    return _ending_in(batch)


def _ending_in(batch: Grouped) -> Grouped:
    """``batch`` without the acknowledgements and starts of the executions it ends."""
    ending = {(report.agent, report.execution_id) for report in batch.finished}
    if not ending:
        return batch
    start_of = {(r.agent, r.execution_id): r.started_at for r in batch.started}
    batch.acknowledged = [r for r in batch.acknowledged if (r.agent, r.execution_id) not in ending]
    batch.started = [r for r in batch.started if (r.agent, r.execution_id) not in ending]
    batch.finished = [_with_start(report, start_of) for report in batch.finished]
    return batch


def _with_start(report: Finished, start_of: dict[ExecutionKey, datetime]) -> Finished:
    started_at = start_of.get((report.agent, report.execution_id))
    if report.result.started_at is not None or started_at is None:
        return report
    return Finished(report.agent, replace(report.result, started_at=started_at))


def _joined(parts: list[Output]) -> JoinedOutput:
    first = parts[0]
    runs: list[tuple[int, bytearray]] = [(first.offset, bytearray())]
    end = first.offset
    for part in parts:
        if part.offset < end:
            continue
        if part.offset > end:  # the agent skipped what lies between: a new stretch
            runs.append((part.offset, bytearray()))
        runs[-1][1].extend(part.data)
        end = part.offset + len(part.data)
    return JoinedOutput(
        agent=first.agent,
        execution_id=first.execution_id,
        offset=first.offset,
        data=b"".join(data for _, data in runs),
        end=end,
        live=first.live,
        runs=tuple((offset, bytes(data)) for offset, data in runs),
    )
