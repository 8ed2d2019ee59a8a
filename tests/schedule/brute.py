"""A slow, obviously-correct reference for property tests.

It shares no code with the engine's matching: days are checked with the
`calendar` module, times by enumerating every combination of the field sets,
and wall times are mapped to instants by trying each nearby UTC offset and
converting back.
"""

import calendar
import itertools
from datetime import UTC, date, datetime, timedelta, tzinfo

from scheduler.schedule import CronSchedule
from scheduler.schedule.days import (
    DaySpec,
    EveryDay,
    LastDay,
    LastWeekday,
    MonthDays,
    NearestWeekday,
    NthWeekday,
    WeekDays,
)


def quartz_weekday(day: date) -> int:
    """1 = Sunday … 7 = Saturday."""
    return day.isoweekday() % 7 + 1


def day_matches(days: DaySpec, day: date) -> bool:
    """Whether `day` is allowed, computed from first principles."""
    length = calendar.monthrange(day.year, day.month)[1]
    month_days = [date(day.year, day.month, d) for d in range(1, length + 1)]
    if isinstance(days, EveryDay):
        return True
    if isinstance(days, MonthDays):
        return day.day in days.days
    if isinstance(days, WeekDays):
        return quartz_weekday(day) in days.weekdays
    if isinstance(days, LastDay):
        return day.day == length - days.offset
    if isinstance(days, LastWeekday):
        same = [d for d in month_days if quartz_weekday(d) == days.weekday]
        return day == same[-1]
    if isinstance(days, NthWeekday):
        same = [d for d in month_days if quartz_weekday(d) == days.weekday]
        return len(same) >= days.nth and day == same[days.nth - 1]
    if isinstance(days, NearestWeekday):
        base = length - days.day if days.from_last else days.day
        if not 1 <= base <= length:
            return False
        weekdays = [d for d in month_days if d.weekday() < 5]
        # The nearest Mon–Fri in the month; ties cannot happen (a weekend is 2 days).
        nearest = min(weekdays, key=lambda d: (abs(d.day - base), d.day))
        return day == nearest
    raise AssertionError(days)


def wall_matches(schedule: CronSchedule, wall: datetime) -> bool:
    """Whether a naive wall time matches every field."""
    return (
        wall.second in schedule.seconds
        and wall.minute in schedule.minutes
        and wall.hour in schedule.hours
        and wall.month in schedule.months
        and wall.year in schedule.years
        and day_matches(schedule.days, wall.date())
    )


def matching_walls(schedule: CronSchedule, first: date, last: date) -> list[datetime]:
    """Every matching wall time on the days first..last, in order."""
    walls: list[datetime] = []
    day = first
    while day <= last:
        if (
            day.year in schedule.years
            and day.month in schedule.months
            and day_matches(schedule.days, day)
        ):
            for h, m, s in itertools.product(schedule.hours, schedule.minutes, schedule.seconds):
                walls.append(datetime(day.year, day.month, day.day, h, m, s))
        day += timedelta(days=1)
    return walls


def instants_of(wall: datetime, tz: tzinfo) -> list[int]:
    """All instants whose local wall time in `tz` is `wall` (0, 1 or 2 of them)."""
    offsets = set()
    for hours in (-36, -12, 0, 12, 36):
        probe = datetime(wall.year, wall.month, wall.day, tzinfo=UTC) + timedelta(hours=hours)
        offset = probe.astimezone(tz).utcoffset()
        assert offset is not None
        offsets.add(offset)
    found = []
    for offset in offsets:
        instant = wall.replace(tzinfo=UTC) - offset
        if instant.astimezone(tz).replace(tzinfo=None) == wall:
            found.append(int(instant.timestamp()))
    return sorted(found)


def first_instant_after_gap(wall: datetime, tz: tzinfo) -> int:
    """The first instant whose wall time is later than a non-existent `wall`."""
    probe = wall.replace(tzinfo=UTC) - timedelta(hours=15)
    instant = int(probe.timestamp())
    while datetime.fromtimestamp(instant, tz).replace(tzinfo=None) <= wall:
        instant += (
            60 if datetime.fromtimestamp(instant + 60, tz).replace(tzinfo=None) <= wall else 1
        )
    return instant


def expected_fires(schedule: CronSchedule, tz: tzinfo, first: date, last: date) -> list[int]:
    """The SPEC §5 fire instants for walls on the days first..last, sorted."""
    fires: set[int] = set()
    for wall in matching_walls(schedule, first, last):
        instants = instants_of(wall, tz)
        if schedule.interval_like:
            fires.update(instants)
        elif instants:
            fires.add(instants[0])
        else:
            fires.add(first_instant_after_gap(wall, tz))
    return sorted(fires)
