"""Rolling rate control: how many executions of one fire run at once, and when it gives up.

An invocation's ``max_concurrency`` and ``max_errors`` are each empty (no limit), a
count (``"10"``) or a percentage of the fire's targets (``"25%"``), spelled as AWS
Systems Manager spells MaxConcurrency and MaxErrors: digits only, no sign, space or
decimal point, no leading zero. A fire is the executions of one invocation with one
``scheduled_at``; its number of targets is its number of executions.

- ``max_concurrency`` resolves rounding UP and to at least 1 (``"10%"`` of 5 targets is
  1): a fire always makes progress. A count is at least 1; a percentage 1–100.
- ``max_errors`` resolves rounding DOWN (``"25%"`` of 10 targets is 2): the fire never
  tolerates more failures than the percentage says. A count may be 0 and a percentage
  0% ("stop at the first failure").

A failure is a final status other than ``Success``, ``Cancelled`` and ``Terminated``:
those two (and ``Stopped``) are the operator's stops, not the script's failures
(``FAILURE_STATUSES``).
Once more than ``max_errors`` executions of a fire have failed, its executions not yet
released end ``Cancelled`` with ``MaxErrorsExceeded``; the released ones run to their end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from scheduler.domain.codes import ExecutionErrorCode, RefusalCode
from scheduler.domain.enums import FINAL_STATUSES, InvocationStatus
from scheduler.domain.errors import invalid
from scheduler.domain.models import PlannedExecution

FAILURE_STATUSES = FINAL_STATUSES - {
    InvocationStatus.SUCCESS,
    InvocationStatus.CANCELLED,
    InvocationStatus.TERMINATED,
    InvocationStatus.STOPPED,
}
"""The final statuses ``max_errors`` counts: not a success, and not the operator's stop
(``Stopped``, an overall status, only if an agent reports it for an execution)."""

MAX_LIMIT_LENGTH = 7
"""The longest count (AWS's limit of both fields): up to 9,999,999 executions."""

_COUNT = re.compile(r"(0|[1-9][0-9]*)")
_PERCENT = re.compile(r"(0|[1-9][0-9]?|100)%")


@dataclass(frozen=True)
class _Limit:
    value: int
    percent: bool


def _parse(text: str, *, code: RefusalCode, field_name: str, minimum: int) -> _Limit | None:
    """The limit ``text`` states, None for no limit; refused when malformed or below minimum."""
    if not text:
        return None
    rule = (
        f'{field_name} is a count of at least {minimum} (such as "10") or a percentage '
        f'of the targets from {minimum}% to 100% (such as "25%"), digits only'
    )
    if len(text) > MAX_LIMIT_LENGTH:
        raise invalid(
            code,
            field_name,
            f"{field_name} is {len(text)} characters long; the limit is {MAX_LIMIT_LENGTH}",
        )
    percent = _PERCENT.fullmatch(text)
    if percent is None and _COUNT.fullmatch(text) is None:
        raise invalid(code, field_name, f"{field_name} {text!r} is malformed: {rule}")
    limit = _Limit(int(text.removesuffix("%")), percent is not None)
    if limit.value < minimum:
        raise invalid(code, field_name, f"{field_name} {text!r} is too small: {rule}")
    return limit


def check_max_concurrency(text: str) -> str:
    """``max_concurrency`` once valid: empty, a count ≥ 1 or a percentage 1–100%."""
    _parse(
        text,
        code=RefusalCode.INVALID_PARAM_MAX_CONCURRENCY,
        field_name="max_concurrency",
        minimum=1,
    )
    return text


def check_max_errors(text: str) -> str:
    """``max_errors`` once valid: empty, a count ≥ 0 or a percentage 0–100%."""
    _parse(text, code=RefusalCode.INVALID_PARAM_MAX_ERRORS, field_name="max_errors", minimum=0)
    return text


def concurrency_of(max_concurrency: str, targets: int) -> int | None:
    """How many executions of a fire of ``targets`` may be released at once (None: all).

    A percentage rounds up, and any limit is at least 1.
    """
    limit = _parse(
        max_concurrency,
        code=RefusalCode.INVALID_PARAM_MAX_CONCURRENCY,
        field_name="max_concurrency",
        minimum=1,
    )
    if limit is None:
        return None
    if not limit.percent:
        return limit.value
    return max(1, -(-limit.value * targets // 100))


def errors_allowed(max_errors: str, targets: int) -> int | None:
    """How many failures a fire of ``targets`` tolerates (None: any number).

    A percentage rounds down.
    """
    limit = _parse(
        max_errors, code=RefusalCode.INVALID_PARAM_MAX_ERRORS, field_name="max_errors", minimum=0
    )
    if limit is None:
        return None
    if not limit.percent:
        return limit.value
    return limit.value * targets // 100


@dataclass(kw_only=True, frozen=True)
class FireProgress:
    """Where one fire stands, counted over its executions."""

    targets: int
    """Its executions, whatever their status."""
    running: int
    """Released and not final yet (pending-and-released, running, stopping)."""
    failed: int
    """Final in one of ``FAILURE_STATUSES``."""
    held: int
    """Pending and not released yet."""


@dataclass(frozen=True)
class FireStep:
    """What the fire does next: release this many held executions, or cancel them all."""

    release: int
    cancel_held: bool


def next_step(progress: FireProgress, *, max_concurrency: str, max_errors: str) -> FireStep:
    """Release held executions into the room ``max_concurrency`` leaves, unless the fire
    has failed more than ``max_errors`` allows: then its held executions are cancelled."""
    allowed = errors_allowed(max_errors, progress.targets)
    if allowed is not None and progress.failed > allowed:
        return FireStep(release=0, cancel_held=progress.held > 0)
    limit = concurrency_of(max_concurrency, progress.targets)
    room = progress.held if limit is None else limit - progress.running
    return FireStep(release=max(0, min(progress.held, room)), cancel_held=False)


MAX_ERRORS_EXCEEDED_INFO = (
    "more executions of this fire failed than max_errors allows; this one was never started"
)


def first_slice(
    plans: Sequence[PlannedExecution], *, max_concurrency: str, max_errors: str
) -> list[tuple[PlannedExecution, bool]]:
    """A new fire's executions, each with whether it is released at once.

    The pending ones are released in instance id order (a stable, predictable slice)
    up to ``max_concurrency``; the others are held. Executions decided at once (not
    pending) count as the fire's targets and, when failed, as its failures: past
    ``max_errors`` already, the pending ones end ``Cancelled`` (``MaxErrorsExceeded``).
    """
    pending = sorted(
        (p for p in plans if p.status is InvocationStatus.PENDING), key=lambda p: p.instance_id
    )
    step = next_step(
        FireProgress(
            targets=len(plans),
            running=0,
            failed=sum(1 for p in plans if p.status in FAILURE_STATUSES),
            held=len(pending),
        ),
        max_concurrency=max_concurrency,
        max_errors=max_errors,
    )
    released = {p.id for p in pending[: step.release]}
    cancelled = {p.id for p in pending} if step.cancel_held else set()
    return [
        (
            replace(
                plan,
                status=InvocationStatus.CANCELLED,
                error_code=ExecutionErrorCode.MAX_ERRORS_EXCEEDED,
                error_info=MAX_ERRORS_EXCEEDED_INFO,
            )
            if plan.id in cancelled
            else plan,
            plan.id in released or plan.status is not InvocationStatus.PENDING,
        )
        for plan in plans
    ]
