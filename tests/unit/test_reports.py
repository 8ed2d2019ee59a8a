"""What the server keeps of an agent's report: its own bounds, whatever the agent sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.enums import REPORTED_STATUSES, InvocationStatus
from scheduler.domain.limits import MAX_ERROR_CODE, MAX_ERROR_INFO, MAX_OUTPUT_OFFSET
from scheduler.domain.models import ExecutionResult
from scheduler.domain.reports import bounded_result
from tests.factories import execution_result

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LIMIT = 24 * 1024

instants = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
)


@given(
    status=st.sampled_from(list(InvocationStatus)),
    output=st.binary(max_size=3 * LIMIT),
    dropped=st.integers(-(2**63), 2**63 - 1),
    error_code=st.text(max_size=300),
    error_info=st.text(max_size=6000),
    started=instants,
    finished=instants,
)
def test_a_stored_report_is_within_every_bound(
    status: InvocationStatus,
    output: bytes,
    dropped: int,
    error_code: str,
    error_info: str,
    started: datetime | None,
    finished: datetime | None,
) -> None:
    reported = ExecutionResult(
        execution_id="e-1",
        status=status,
        exit_code=0,
        error_code=error_code,
        error_info=error_info,
        output=output,
        dropped=dropped,
        started_at=started,
        finished_at=finished,
    )
    kept = bounded_result(reported, max_output=LIMIT, now=NOW)
    assert kept.status in REPORTED_STATUSES
    assert kept.status == (status if status in REPORTED_STATUSES else InvocationStatus.ERROR)
    assert len(kept.output) <= LIMIT
    assert kept.dropped >= 0
    # Stored output size (output and dropped bytes) fits the BIGINT column.
    assert len(kept.output) + kept.dropped < 2**63
    believed = min(max(0, dropped), MAX_OUTPUT_OFFSET)
    assert len(kept.output) + kept.dropped == len(output) + believed
    if len(output) <= LIMIT:
        assert kept.output == output
    else:
        assert kept.output == output[: LIMIT // 2] + output[-(LIMIT - LIMIT // 2) :]
    assert len(kept.error_code) <= MAX_ERROR_CODE and "\x00" not in kept.error_code
    assert len(kept.error_info) <= MAX_ERROR_INFO and "\x00" not in kept.error_info
    for moment in (kept.started_at, kept.finished_at):
        assert moment is None or (
            datetime(2000, 1, 1, tzinfo=UTC) <= moment <= NOW + timedelta(days=1)
        )


def test_a_sane_report_is_kept_as_it_is() -> None:
    reported = ExecutionResult(
        execution_id="e-1",
        status=InvocationStatus.FAILED,
        exit_code=3,
        error_code="ExitCodeNonzero",
        error_info="the script exited with code 3",
        output=b"out\n",
        dropped=0,
        started_at=NOW - timedelta(seconds=5),
        finished_at=NOW,
    )
    assert bounded_result(reported, max_output=LIMIT, now=NOW) == reported


def test_a_status_an_agent_may_not_report_is_an_error_that_says_so() -> None:
    reported = execution_result("e-1", status=InvocationStatus.PARTIAL_FAILED)
    kept = bounded_result(reported, max_output=LIMIT, now=NOW)
    assert kept.status is InvocationStatus.ERROR
    assert kept.error_info.startswith("agent reported the status PartialFailed")
