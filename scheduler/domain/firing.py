"""When a scheduled target fires: the misfire rule, the next fire, jitter and bounds
(SPEC §5, §6; issue 12 item 5). Pure.

A target's stored next fire (``invocation_targets.next_fire_at``, what the ticker
claims by) is its nominal fire plus its jitter offset; executions keep the nominal
instant as ``scheduled_at``. ``first_fire`` and ``plan_fire`` are the only places
that compute a target's next fire: creating, resuming or modifying an invocation
arms its targets with ``first_fire``, the ticker moves them on with ``plan_fire``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from scheduler.domain.jitter import jitter_offset
from scheduler.domain.models import Timing
from scheduler.schedule import Schedule, ScheduleError
from scheduler.schedule.zones import parse_zone

MAX_MISSED = 100_000
"""Missed fires counted one by one before the rest are skipped in one jump."""


@dataclass(frozen=True, kw_only=True)
class Window:
    """Where one target's fires fall beyond its schedule: its jitter and the bounds."""

    offset: timedelta = timedelta(0)
    """How long after each nominal fire the target starts (``jitter_offset``)."""
    start_at: datetime | None = None
    """No nominal fire before it."""
    end_at: datetime | None = None
    """No nominal fire after it: the target is then exhausted."""


NO_WINDOW = Window()
"""A target without jitter or bounds."""


def window_of(invocation_id: str, instance_id: str, timing: Timing) -> Window:
    """The window of an invocation's target on one instance; ``timing`` is the
    invocation's (its ``InvocationSettings`` are one)."""
    return Window(
        offset=jitter_offset(invocation_id, instance_id, timing.max_jitter),
        start_at=timing.start_at,
        end_at=timing.end_at,
    )


@dataclass(frozen=True, kw_only=True)
class FirePlan:
    """What to do with a target that is due."""

    fire_at: datetime | None
    """The nominal scheduled instant to fire now; None when every missed fire is skipped."""
    starts_at: datetime | None
    """When its execution is created: ``fire_at`` plus the target's jitter offset."""
    next_fire_at: datetime | None
    """The instant to store for the fire after it (nominal plus offset); None when the
    schedule is exhausted or the next fire is past the end bound."""
    misfire_skips: int
    """Missed fires that will never run."""


def first_fire(
    schedule: Schedule, now: datetime, *, zone: tzinfo, window: Window = NO_WINDOW
) -> datetime | None:
    """The instant to store for a target armed at ``now``: its first nominal fire after
    ``now`` and at or after the start bound, plus its offset; None when there is none
    up to the end bound."""
    after = now
    if window.start_at is not None and window.start_at > now:
        # next_fire is strictly after its argument: a fire exactly at the start counts.
        after = window.start_at - timedelta(microseconds=1)
    return _stored(window, _bounded_next(schedule, after, zone, window))


def plan_fire(
    schedule: Schedule,
    due_at: datetime,
    now: datetime,
    *,
    grace: timedelta,
    zone: tzinfo,
    window: Window = NO_WINDOW,
) -> FirePlan:
    """Decide a due target's fire at ``now``; ``due_at`` is its stored next fire.

    A fire not yet past (claimed a little ahead) fires at its instant. After
    downtime the schedule fires at most once for everything it missed: at the
    latest missed instant if that is within ``grace`` of ``now``, otherwise
    not at all; either way the other missed fires are counted as skipped and
    the schedule moves on to its first fire after ``now``.

    With jitter, all of it happens on the target's own timeline (every instant
    shifted by its offset), so that grace and misses are measured from the
    jittered instant at which the ticker fires it. No fire is after the end bound.
    """
    offset = window.offset
    nominal_due, nominal_now = due_at - offset, now - offset
    if window.end_at is not None and nominal_due > window.end_at:
        return FirePlan(fire_at=None, starts_at=None, next_fire_at=None, misfire_skips=0)
    if nominal_due > nominal_now:
        following = _bounded_next(schedule, nominal_due, zone, window)
        return _plan(window, nominal_due, following, 0)
    latest, missed = nominal_due, 1
    following = _bounded_next(schedule, latest, zone, window)
    while following is not None and following <= nominal_now and missed < MAX_MISSED:
        latest, missed = following, missed + 1
        following = _bounded_next(schedule, latest, zone, window)
    if following is not None and following <= nominal_now:
        # Pathologically long downtime: jump, skipping the rest uncounted.
        following = _bounded_next(schedule, nominal_now, zone, window)
    if nominal_now - latest <= grace:
        return _plan(window, latest, following, missed - 1)
    return _plan(window, None, following, missed)


def _plan(
    window: Window, fire_at: datetime | None, following: datetime | None, skips: int
) -> FirePlan:
    return FirePlan(
        fire_at=fire_at,
        starts_at=_stored(window, fire_at),
        next_fire_at=_stored(window, following),
        misfire_skips=skips,
    )


def _bounded_next(
    schedule: Schedule, after: datetime, zone: tzinfo, window: Window
) -> datetime | None:
    """The schedule's next nominal fire, None past the end bound."""
    following = schedule.next_fire(after, zone=zone)
    if following is None or (window.end_at is not None and following > window.end_at):
        return None
    return following


def _stored(window: Window, nominal: datetime | None) -> datetime | None:
    return None if nominal is None else nominal + window.offset


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
