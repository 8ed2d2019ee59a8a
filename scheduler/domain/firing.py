"""When a scheduled target fires: the misfire rule and the next fire (SPEC §5, §6). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.schedule import Schedule

MAX_MISSED = 100_000
"""Missed fires counted one by one before the rest are skipped in one jump."""


@dataclass(frozen=True)
class FirePlan:
    """What to do with a target that is due."""

    fire_at: datetime | None
    """The scheduled instant to fire now; None when every missed fire is skipped."""
    next_fire_at: datetime | None
    """The fire after it; None when the schedule is exhausted."""
    misfire_skips: int
    """Missed fires that will never run."""


def plan_fire(
    schedule: Schedule, due_at: datetime, now: datetime, *, grace: timedelta, zone: tzinfo
) -> FirePlan:
    """Decide a due target's fire at ``now``; ``due_at`` is its stored next fire.

    A fire not yet past (claimed a little ahead) fires at its instant. After
    downtime the schedule fires at most once for everything it missed: at the
    latest missed instant if that is within ``grace`` of ``now``, otherwise
    not at all; either way the other missed fires are counted as skipped and
    the schedule moves on to its first fire after ``now``.
    """
    if due_at > now:
        return FirePlan(due_at, schedule.next_fire(due_at, zone=zone), 0)
    latest, missed = due_at, 1
    following = schedule.next_fire(latest, zone=zone)
    while following is not None and following <= now and missed < MAX_MISSED:
        latest, missed = following, missed + 1
        following = schedule.next_fire(latest, zone=zone)
    if following is not None and following <= now:
        # Pathologically long downtime: jump, skipping the rest uncounted.
        following = schedule.next_fire(now, zone=zone)
    if now - latest <= grace:
        return FirePlan(latest, following, missed - 1)
    return FirePlan(None, following, missed)


def instance_zone(name: str) -> tzinfo:
    """The zone an agent reported, for crons without their own zone; UTC when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
