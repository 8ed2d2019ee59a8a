"""Aggregating per-instance statuses into an invocation's overall status (SPEC §7)."""

from __future__ import annotations

from collections.abc import Iterable

from scheduler.domain.enums import FAILURE_STATUSES, InvocationStatus

_PRECEDENCE = (
    InvocationStatus.PENDING,
    InvocationStatus.SCHEDULED,
    InvocationStatus.RUNNING,
    InvocationStatus.STOPPING,
)


def overall_status(statuses: Iterable[InvocationStatus]) -> InvocationStatus:
    """The overall status of an invocation whose instances are in ``statuses``."""
    present = set(statuses)
    for status in _PRECEDENCE:
        if status in present:
            return status
    succeeded = InvocationStatus.SUCCESS in present
    failed = bool(present & FAILURE_STATUSES)
    if succeeded and failed:
        return InvocationStatus.PARTIAL_FAILED
    if failed:
        return InvocationStatus.FAILED
    if succeeded:
        return InvocationStatus.SUCCESS
    # Only Cancelled and Terminated remain.
    return InvocationStatus.STOPPED
