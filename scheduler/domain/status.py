"""Statuses derived from others: a target's from its executions, an invocation's from its targets.

``store.invocations`` computes both in SQL; these functions are the rules it follows.
"""

from __future__ import annotations

from collections.abc import Iterable

from scheduler.domain.enums import ACTIVE_STATUSES, FAILURE_STATUSES, InvocationStatus

_PRECEDENCE = (
    InvocationStatus.PENDING,
    InvocationStatus.SCHEDULED,
    InvocationStatus.RUNNING,
    InvocationStatus.STOPPING,
)


def target_status(latest: InvocationStatus | None, *, armed: bool) -> InvocationStatus:
    """The status of a target whose latest execution is ``latest`` (None before any).

    An unfinished execution shows its own status; otherwise an armed target
    awaits its next fire; otherwise the latest execution's outcome stands, and a
    target stopped before it ever fired is cancelled.
    """
    if latest is not None and latest in ACTIVE_STATUSES:
        return latest
    if armed:
        return InvocationStatus.SCHEDULED
    return InvocationStatus.CANCELLED if latest is None else latest


def overall_status(statuses: Iterable[InvocationStatus]) -> InvocationStatus:
    """The overall status of an invocation whose instances are in ``statuses`` (SPEC §7)."""
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
