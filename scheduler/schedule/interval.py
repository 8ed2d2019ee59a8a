"""The exact smallest gap between consecutive fires of a cron schedule.

Every matching day fires at every combination of the hour, minute and second
sets, so consecutive fires are either in the same minute (the closest pair of
seconds), the same hour (last second of one minute to the first of the next
matching minute), the same day (likewise for hours), or on consecutive
matching days. Each level's smallest gap follows from its sorted values; only
the day level needs the calendar, and only when it could be the smallest.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from typing import TYPE_CHECKING

from scheduler.schedule.errors import ErrorCode, ScheduleError

if TYPE_CHECKING:
    # Only for annotations: at run time the cron module calls into this one.
    from scheduler.schedule.cron import CronSchedule

MIN_INTERVAL = timedelta(seconds=10)
_DAY = 86400


def min_interval(schedule: CronSchedule) -> timedelta | None:
    """The smallest wall-clock gap between two consecutive fires; None if it fires once."""
    gaps = [gap for gap, _ in _within_day(schedule)]
    first, last = _first_and_last_time(schedule)
    # Consecutive days are at least a day minus the day's span apart.
    if not gaps or min(gaps) > _DAY - (last - first):
        days = _min_day_gap(schedule)
        if days is not None:
            gaps.append(days * _DAY - (last - first))
    return timedelta(seconds=min(gaps)) if gaps else None


def check_min_interval(schedule: CronSchedule) -> None:
    """Raise `IntervalTooShort` when two consecutive fires can be under 10 s apart."""
    limit = int(MIN_INTERVAL.total_seconds())
    for gap, example in _within_day(schedule):
        if gap < limit:
            raise _too_short(gap, example())
    first, last = _first_and_last_time(schedule)
    if _DAY - (last - first) < limit and _min_day_gap(schedule, enough=1) == 1:
        raise _too_short(_DAY - (last - first), f"{_clock(last)} and {_clock(first)} the next day")


def _too_short(gap: int, example: str) -> ScheduleError:
    return ScheduleError(
        ErrorCode.INTERVAL_TOO_SHORT,
        f"two consecutive fires can be {gap}s apart ({example}); "
        f"the minimum interval is {int(MIN_INTERVAL.total_seconds())}s",
    )


def _within_day(schedule: CronSchedule) -> list[tuple[int, Callable[[], str]]]:
    """(gap in seconds, example pair) for the second, minute and hour levels.

    Examples are only formatted for an error message, hence the callables.
    """
    seconds, minutes, hours = schedule.seconds, schedule.minutes, schedule.hours
    h, m = hours[0], minutes[0]
    found: list[tuple[int, Callable[[], str]]] = []
    pair = _closest(seconds)
    if pair is not None:
        s1, s2 = pair
        found.append((s2 - s1, lambda: f"{_clock(h, m, s1)} and {_clock(h, m, s2)}"))
    pair = _closest(minutes)
    if pair is not None:
        m1, m2 = pair
        gap = (m2 - m1) * 60 + seconds[0] - seconds[-1]
        found.append((gap, lambda: f"{_clock(h, m1, seconds[-1])} and {_clock(h, m2, seconds[0])}"))
    pair = _closest(hours)
    if pair is not None:
        h1, h2 = pair
        gap = (h2 - h1) * 3600 + (minutes[0] - minutes[-1]) * 60 + seconds[0] - seconds[-1]
        found.append(
            (
                gap,
                lambda: (
                    f"{_clock(h1, minutes[-1], seconds[-1])} and "
                    f"{_clock(h2, minutes[0], seconds[0])}"
                ),
            )
        )
    return found


def _closest(values: tuple[int, ...]) -> tuple[int, int] | None:
    """The consecutive pair of sorted values with the smallest difference."""
    if len(values) < 2:
        return None
    gap = min(b - a for a, b in itertools.pairwise(values))
    return next((a, b) for a, b in itertools.pairwise(values) if b - a == gap)


def _first_and_last_time(schedule: CronSchedule) -> tuple[int, int]:
    """Seconds since midnight of the first and the last fire of a matching day."""
    first = schedule.hours[0] * 3600 + schedule.minutes[0] * 60 + schedule.seconds[0]
    last = schedule.hours[-1] * 3600 + schedule.minutes[-1] * 60 + schedule.seconds[-1]
    return first, last


def _min_day_gap(schedule: CronSchedule, *, enough: int = 1) -> int | None:
    """Fewest days between two consecutive matching dates, stopping early at `enough`."""
    best: int | None = None
    previous: int | None = None
    for year in schedule.years:
        for month in schedule.months:
            for day in schedule.days.days_in(year, month):
                ordinal = date(year, month, day).toordinal()
                if previous is not None and (best is None or ordinal - previous < best):
                    best = ordinal - previous
                    if best <= enough:
                        return best
                previous = ordinal
    return best


def _clock(hour: int, minute: int | None = None, second: int | None = None) -> str:
    if minute is None or second is None:
        hour, rest = divmod(hour, 3600)
        minute, second = divmod(rest, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}"
