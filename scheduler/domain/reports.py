"""What the server keeps of an agent's final report, whatever the agent sent. Pure.

An agent is outside the server's trust: its report is bounded by the server's
own rules before anything is stored — a status an agent may report, the
stored-output limit (head and tail, the rest counted), text without NUL and
within its column, instants within a sane range.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from scheduler.domain.enums import REPORTED_STATUSES, InvocationStatus
from scheduler.domain.limits import MAX_ERROR_CODE, MAX_ERROR_INFO, MAX_OUTPUT_OFFSET
from scheduler.domain.models import ExecutionResult
from scheduler.domain.output import head_tail

EARLIEST = datetime.fromisoformat("2000-01-01T00:00:00+00:00")
"""No execution of Kairos started before this; an earlier reported instant is not believed."""
CLOCK_SKEW = timedelta(days=1)
"""How far in the future an agent's clock may be before its instants are not believed."""


def bounded_result(result: ExecutionResult, *, max_output: int, now: datetime) -> ExecutionResult:
    """``result`` as the server stores it.

    A status an agent may not report counts as ``Error`` (its word kept in the
    message); output beyond ``max_output`` keeps its head and tail and counts
    the rest as dropped (never negative, nor more than any script prints);
    error code and message lose NUL characters and are cut to their limits; an
    instant before 2000 or more than a day ahead of ``now`` is dropped (the
    server then uses its own time).
    """
    status, error_info = result.status, result.error_info
    if status not in REPORTED_STATUSES:
        error_info = f"agent reported the status {status.value}, which it may not: {error_info}"
        status = InvocationStatus.ERROR
    head = max_output // 2
    output, cut = head_tail(result.output, head, max_output - head)
    return replace(
        result,
        status=status,
        error_code=clean_text(result.error_code, MAX_ERROR_CODE),
        error_info=clean_text(error_info, MAX_ERROR_INFO),
        output=output,
        dropped=min(max(0, result.dropped), MAX_OUTPUT_OFFSET) + cut,
        started_at=believable(result.started_at, now),
        finished_at=believable(result.finished_at, now),
    )


def clean_text(text: str, limit: int) -> str:
    """``text`` without NUL characters (no text column can hold them), at most ``limit`` long."""
    return text.replace("\x00", "")[:limit]


def believable(moment: datetime | None, now: datetime) -> datetime | None:
    """``moment`` if it lies between 2000 and a day after ``now``, else None."""
    if moment is None or not EARLIEST <= moment <= now + CLOCK_SKEW:
        return None
    return moment
