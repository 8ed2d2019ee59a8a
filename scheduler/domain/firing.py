"""When a scheduled target fires: the misfire rule and the next fire (SPEC §5, §6). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from scheduler.schedule import Schedule, ScheduleError
from scheduler.schedule.zones import parse_zone

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


def agent_zone(name: str) -> str | None:
    """The canonical name of a zone an agent reported; None when it is not a valid one.

    Valid are the zones a frequency may name (SPEC §5): IANA Area/Location names,
    UTC/GMT and fixed GMT±H:MM offsets. Anything else (a directory of the zone
    database such as ``Etc``, an abbreviation, junk) is refused; the caller stores UTC.
    """
    try:
        return parse_zone(name).name
    except ScheduleError:
        return None


def instance_zone(name: str) -> tzinfo:
    """The zone of an instance, for crons without their own zone; UTC when unknown.

    Never raises, whatever the stored string: rows written before Hello was
    validated may hold anything, and one bad row must not stop a ticker round.
    """
    try:
        return parse_zone(name).tzinfo
    except Exception:  # any failure: try the tz database, then UTC
        pass
    try:
        # Rows registered before zones were checked: a bare tz database name (Japan).
        return ZoneInfo(name)
    except Exception:  # IsADirectoryError (Etc), ValueError, …: all mean UTC
        return UTC
