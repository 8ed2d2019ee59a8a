"""Statuses derived from others: a target's from its executions, an invocation's from its targets.

``store.statuses`` keeps both up to date: each changed target's status in SQL
(``target_status``'s twin), and per invocation how many targets are in each
status, from which ``overall_status`` follows; these are the rules it follows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scheduler.domain.enums import ACTIVE_STATUSES, FAILURE_STATUSES, InvocationStatus

_PRECEDENCE = (
    InvocationStatus.PENDING,
    InvocationStatus.SCHEDULED,
    InvocationStatus.RUNNING,
    InvocationStatus.STOPPING,
)


@dataclass(frozen=True, order=True)
class TargetKey:
    """One target: an invocation on one of its instances (an instance of its own tenant)."""

    invocation_id: str
    instance_id: str


@dataclass(frozen=True)
class StatusChange:
    """A target of ``invocation_id`` moved from status ``old`` to ``new``."""

    invocation_id: str
    old: InvocationStatus | None
    """None for a target the transaction created (a selector's new member)."""
    new: InvocationStatus


def chained(first: StatusChange, then: StatusChange) -> StatusChange:
    """One target's two moves in one transaction as one: from ``first``'s old to ``then``'s new."""
    return StatusChange(first.invocation_id, first.old, then.new)


def count_deltas(changes: Iterable[StatusChange]) -> dict[tuple[str, InvocationStatus], int]:
    """How the per-status target counts of each invocation change: (invocation, status) → delta.

    Only non-zero deltas; one target leaving a status and another entering it cancel out.
    """
    deltas: Counter[tuple[str, InvocationStatus]] = Counter()
    for change in changes:
        if change.old is not None:
            deltas[change.invocation_id, change.old] -= 1
        deltas[change.invocation_id, change.new] += 1
    return {key: delta for key, delta in sorted(deltas.items()) if delta}


def presence_changed(
    deltas: Mapping[tuple[str, InvocationStatus], int],
    counts: Mapping[tuple[str, InvocationStatus], int],
) -> set[str]:
    """The invocations some status of which ``deltas`` brought to zero or from zero, given
    the ``counts`` after them: only their overall status can have changed, since it
    follows from which statuses have targets, not from how many."""
    return {
        invoke_id
        for (invoke_id, status), delta in deltas.items()
        if (counts[invoke_id, status] > 0) != (counts[invoke_id, status] - delta > 0)
    }


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


def overall_status(
    statuses: Iterable[InvocationStatus], *, selecting: bool = False
) -> InvocationStatus:
    """The overall status of an invocation whose instances are in ``statuses`` (SPEC §7).

    Only which statuses are present matters, not how many targets have each:
    the store derives it from the statuses whose count is above zero.
    ``selecting``: a periodic or boot invocation by selector, not stopped, which
    awaits fires whatever its targets (none may match yet): it is Scheduled at least.
    """
    present = set(statuses) | ({InvocationStatus.SCHEDULED} if selecting else set())
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
