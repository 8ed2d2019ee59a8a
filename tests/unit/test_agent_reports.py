"""Grouping a batch of agent reports: the first of each kind per execution, output joined
so that storing the joined chunk once ends as storing each chunk alone would."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.agent_reports import (
    Acknowledged,
    AgentReport,
    Finished,
    Output,
    Started,
    grouped,
    output,
    started,
)
from scheduler.domain.limits import MAX_OUTPUT_OFFSET
from scheduler.domain.live_rate import LiveRate
from scheduler.domain.tenancy import InstanceKey, Tenant
from tests.factories import execution_result

AGENT = InstanceKey(Tenant("a-1", "r-1"), "i-1")
OTHER = InstanceKey(Tenant("a-2", "r-1"), "i-1")
LIVE = LiveRate(1024, head=1024)
NOW = datetime(2026, 12, 5, tzinfo=UTC)


def stored_alone(size: int, chunks: list[Output]) -> tuple[bytes, int]:
    """The store's rule applied chunk by chunk: appended unless before the stored end."""
    data = b""
    for chunk in chunks:
        if size <= chunk.offset:
            data += chunk.data
            size = chunk.offset + len(chunk.data)
    return data, size


@st.composite
def chunk_runs(draw: st.DrawFn) -> list[Output]:
    """Chunks as an agent sends them: mostly in order, some resent, some after a gap."""
    offset = draw(st.integers(0, 100))
    chunks = []
    for _ in range(draw(st.integers(1, 12))):
        data = draw(st.binary(min_size=0, max_size=8))
        step = draw(st.sampled_from(["next", "next", "resend", "gap"]))
        at = {"next": offset, "resend": max(0, offset - 4), "gap": offset + 3}[step]
        chunks.append(Output(agent=AGENT, execution_id="e-1", offset=at, data=data, live=LIVE))
        offset = max(offset, at + len(data))
    return chunks


@given(chunk_runs(), st.integers(0, 100))
def test_a_joined_chunk_is_stored_as_its_parts_would_be(chunks: list[Output], size: int) -> None:
    # What the database holds before the batch is at most where the batch's output starts
    # (the agent's earlier output): the case the join is exact for.
    size = min(size, chunks[0].offset)
    (joined,) = grouped(chunks).output
    assert (joined.data, joined.end) == stored_alone(size, chunks)
    assert joined.offset == chunks[0].offset


@given(chunk_runs())
def test_each_unbroken_stretch_keeps_its_own_offset(chunks: list[Output]) -> None:
    # Watchers are given the stretches, so a skip the agent made stays a gap; before,
    # the bytes after a skip were relayed as if they followed the bytes before it.
    (joined,) = grouped(chunks).output
    assert b"".join(data for _, data in joined.runs) == joined.data
    assert joined.runs[0][0] == joined.offset
    for (offset, data), (following, _) in zip(joined.runs, joined.runs[1:], strict=False):
        assert offset + len(data) < following
    last_offset, last_data = joined.runs[-1]
    assert last_offset + len(last_data) == joined.end


def test_a_skip_between_two_chunks_splits_the_stretches() -> None:
    chunks = [
        Output(agent=AGENT, execution_id="e-1", offset=0, data=b"AAAA", live=LIVE),
        Output(agent=AGENT, execution_id="e-1", offset=8, data=b"CCCC", live=LIVE),
    ]
    (joined,) = grouped(chunks).output
    assert joined.runs == ((0, b"AAAA"), (8, b"CCCC"))
    assert (joined.data, joined.end) == (b"AAAACCCC", 12)  # stored as before


def test_the_first_report_of_each_kind_per_execution_is_kept() -> None:
    result = execution_result("e-1")
    first_start = Started(AGENT, "e-1", NOW)
    reports: list[AgentReport] = [
        Acknowledged(AGENT, "e-1"),
        Acknowledged(AGENT, "e-1"),
        Acknowledged(OTHER, "e-1"),  # another agent naming the same id: its own report
        first_start,
        Started(AGENT, "e-1", NOW.replace(year=2027)),
        Finished(OTHER, result),
        Finished(OTHER, result),
    ]
    batch = grouped(reports)
    assert batch.acknowledged == [Acknowledged(AGENT, "e-1")]
    assert batch.started == [first_start]
    assert batch.finished == [Finished(OTHER, result)]


def test_an_execution_ending_in_the_batch_is_only_finished_with_its_start_instant() -> None:
    without_start = execution_result("e-1")
    with_start = execution_result("e-2", started_at=NOW.replace(hour=1))
    reports: list[AgentReport] = [
        Acknowledged(AGENT, "e-1"),
        Started(AGENT, "e-1", NOW),
        Acknowledged(AGENT, "e-2"),
        Started(AGENT, "e-2", NOW),
        Acknowledged(AGENT, "e-3"),  # still running
        Started(AGENT, "e-3", NOW),
        Finished(AGENT, without_start),
        Finished(AGENT, with_start),
    ]
    batch = grouped(reports)
    assert batch.acknowledged == [Acknowledged(AGENT, "e-3")]
    assert batch.started == [Started(AGENT, "e-3", NOW)]
    assert batch.finished == [
        Finished(AGENT, replace(without_start, started_at=NOW)),
        Finished(AGENT, with_start),  # the result's own start instant wins
    ]


def test_an_unbelievable_start_is_the_servers_time_and_an_impossible_offset_is_dropped() -> None:
    assert started(AGENT, "e-1", datetime(1970, 1, 1, tzinfo=UTC), NOW).started_at == NOW
    assert started(AGENT, "e-1", None, NOW).started_at == NOW
    assert output(AGENT, "e-1", -1, b"x", LIVE) is None
    assert output(AGENT, "e-1", MAX_OUTPUT_OFFSET + 1, b"x", LIVE) is None
    assert output(AGENT, "e-1", MAX_OUTPUT_OFFSET, b"x", LIVE) is not None
