"""Quartz-style cron schedules: matching wall times and finding the next fire.

The next matching wall time is found by jumping field by field (year, month,
day, hour, minute, second) through precomputed "next allowed value" tables,
so a yearly schedule costs about as much as a secondly one.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from scheduler.schedule import walltime
from scheduler.schedule.base import Schedule
from scheduler.schedule.days import DaySpec
from scheduler.schedule.fields import HOUR, MINUTE, MONTH, SECOND, YEAR, render_plain
from scheduler.schedule.zones import Zone

_FIRST_YEAR, _LAST_YEAR = YEAR.low, YEAR.high
# No zone is more than 15 h behind UTC: after this instant every local calendar
# has left 2099, and stopping here keeps datetime arithmetic far from year 9999.
_PAST_LAST_WALL = walltime.to_seconds(datetime(_LAST_YEAR + 1, 1, 2, tzinfo=UTC))


def _next_table(values: tuple[int, ...], size: int, low: int = 0) -> tuple[int, ...]:
    """table[i] = the smallest value >= low + i, or -1; sized to absorb carries.

    Built with slice assignments: parsing builds five of these per expression.
    """
    first, last = values[0] - low, values[-1] - low
    if last - first + 1 == len(values):
        # A contiguous run (`*`, `9-17`, every year): no per-value work.
        return (values[0],) * first + tuple(values) + (-1,) * (size - last - 1)
    table = [-1] * size
    filled = 0
    for value in values:
        index = value - low
        table[filled : index + 1] = [value] * (index + 1 - filled)
        filled = index + 1
    return tuple(table)


@dataclass(kw_only=True, frozen=True, slots=True)
class CronSchedule(Schedule):
    """A parsed cron expression; build it with `parse_frequency`."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: DaySpec
    months: tuple[int, ...]
    years: tuple[int, ...]
    zone: Zone | None = None
    # Whether the minute / hour token began with `*`; it makes the schedule
    # interval-like for DST and must survive the canonical form.
    minute_star: bool = False
    hour_star: bool = False
    _second_next: tuple[int, ...] = field(init=False, compare=False, repr=False)
    _minute_next: tuple[int, ...] = field(init=False, compare=False, repr=False)
    _hour_next: tuple[int, ...] = field(init=False, compare=False, repr=False)
    _month_next: tuple[int, ...] = field(init=False, compare=False, repr=False)
    _year_next: tuple[int, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Index 60 / 24 / 13 stay -1 so that a carry past the end reads "none".
        object.__setattr__(self, "_second_next", _next_table(self.seconds, 61))
        object.__setattr__(self, "_minute_next", _next_table(self.minutes, 61))
        object.__setattr__(self, "_hour_next", _next_table(self.hours, 25))
        object.__setattr__(self, "_month_next", _next_table(self.months, 14))
        object.__setattr__(self, "_year_next", _next_table(self.years, YEAR.span + 1, YEAR.low))

    @property
    def kind(self) -> str:
        return "cron"

    @property
    def own_zone(self) -> Zone | None:
        return self.zone

    @property
    def uses_instance_zone(self) -> bool:
        return self.zone is None

    @property
    def interval_like(self) -> bool:
        """True when the minute or hour field starts with `*` (DST: follow real time)."""
        return self.minute_star or self.hour_star

    def next_fire(self, after: datetime, *, zone: tzinfo | None = None) -> datetime | None:
        """The first fire strictly after `after`, in UTC; None when exhausted.

        The expression's own zone wins; otherwise `zone` (the instance's), else UTC.
        """
        tz = self.zone.tzinfo if self.zone is not None else (zone or UTC)
        start = walltime.to_seconds(after) + 1
        if start > _PAST_LAST_WALL:
            return None
        # Local 1970-01-01 00:00 is at most a day before the epoch in any zone.
        start = max(start, -86400)
        instant = walltime.next_fire(
            self.next_wall, start, tz, interval_like=self.minute_star or self.hour_star
        )
        return None if instant is None else walltime.to_datetime(instant)

    def next_wall(self, wall: int) -> int | None:
        """The first matching wall time at or after `wall` (see `walltime`), or None."""
        if wall < 0:
            wall = 0
        y, mo, d, h, mi, s = walltime.wall_fields(wall)
        year_next, month_next, hour_next = self._year_next, self._month_next, self._hour_next
        minute_next, second_next = self._minute_next, self._second_next
        next_day = self.days.next_day
        while True:
            found = year_next[y - _FIRST_YEAR] if y <= _LAST_YEAR else -1
            if found < 0:
                return None
            if found != y:
                y, mo, d, h, mi, s = found, 1, 1, 0, 0, 0
            found = month_next[mo]
            if found < 0:
                y, mo, d, h, mi, s = y + 1, 1, 1, 0, 0, 0
                continue
            if found != mo:
                mo, d, h, mi, s = found, 1, 0, 0, 0
            found = next_day(y, mo, d)
            if found < 0:
                mo, d, h, mi, s = mo + 1, 1, 0, 0, 0
                if mo > 12:
                    y, mo = y + 1, 1
                continue
            if found != d:
                d, h, mi, s = found, 0, 0, 0
            found = hour_next[h]
            if found < 0:
                d, h, mi, s = d + 1, 0, 0, 0
                continue
            if found != h:
                h, mi, s = found, 0, 0
            found = minute_next[mi]
            if found < 0:
                h, mi, s = h + 1, 0, 0
                continue
            if found != mi:
                mi, s = found, 0
            found = second_next[s]
            if found < 0:
                mi, s = mi + 1, 0
                continue
            return walltime.wall_of(y, mo, d, h, mi, found)

    def min_interval(self) -> timedelta | None:
        from scheduler.schedule.interval import min_interval

        return min_interval(self)

    def describe(self) -> str:
        from scheduler.schedule.describe import describe_cron

        return describe_cron(self)

    def __str__(self) -> str:
        day_of_month, day_of_week = self.days.render()
        tokens = [
            render_plain(SECOND, self.seconds),
            _render_starred(MINUTE.all_values, self.minutes, self.minute_star),
            _render_starred(HOUR.all_values, self.hours, self.hour_star),
            day_of_month,
            render_plain(MONTH, self.months),
            day_of_week,
        ]
        if self.years != YEAR.all_values:
            tokens.append(render_plain(YEAR, self.years))
        if self.zone is not None:
            tokens.append(self.zone.name)
        return " ".join(tokens)


def _render_starred(every: tuple[int, ...], values: tuple[int, ...], star: bool) -> str:
    """Minute / hour text that keeps whether the field began with `*`.

    A starred field holds every ``step``-th value from the first (``*`` or ``*/step``),
    maybe with other items after it (``*/20,7``): the step that leaves the fewest values
    over, then those values, so that the text is the same set of values again.
    """
    field = MINUTE if len(every) == 60 else HOUR
    if star:
        chosen = set(values)
        _, step, rest = min(
            (len(over), step, over)
            for step in range(1, len(every) + 1)
            if set(every[::step]) <= chosen
            for over in [sorted(chosen - set(every[::step]))]
        )
        head = "*" if step == 1 else f"*/{step}"
        return ",".join([head, *(str(value) for value in rest)])
    if values == every:
        return f"{every[0]}-{every[-1]}"
    return render_plain(field, values)
