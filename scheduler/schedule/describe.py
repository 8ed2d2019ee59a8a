"""English descriptions of cron schedules, for operators checking an expression."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

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
from scheduler.schedule.fields import (
    DAY_OF_WEEK,
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    YEAR,
    FieldDef,
)

if TYPE_CHECKING:
    # Only for annotations: at run time the cron module calls into this one.
    from scheduler.schedule.cron import CronSchedule

_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
_ORDINALS = ("first", "second", "third", "fourth", "fifth")


def describe_cron(schedule: CronSchedule) -> str:
    """E.g. "at 10:15:00 on the last Friday of every month, 2002–2005, Asia/Shanghai"."""
    time, days = _time_phrase(schedule), _day_phrase(schedule.days, schedule.months)
    if not time.startswith("every"):
        text = f"{time} {days}"
    else:
        text = time if days == "every day" else f"{time}, {days}"
    years = schedule.years
    if years != YEAR.all_values:
        if len(years) == 1:
            text += f", in {years[0]}"
        elif years == tuple(range(years[0], years[-1] + 1)):
            text += f", {years[0]}–{years[-1]}"
        else:
            text += f", in {_join([str(y) for y in years])}"
    if schedule.zone is not None:
        text += f", {schedule.zone.name}"
    return text


def _time_phrase(schedule: CronSchedule) -> str:
    seconds, minutes, hours = schedule.seconds, schedule.minutes, schedule.hours
    if len(seconds) == 1 and len(minutes) * len(hours) <= 5 and not schedule.interval_like:
        times = [f"{h:02d}:{m:02d}:{seconds[0]:02d}" for h in hours for m in minutes]
        return f"at {_join(times)}"
    phrases = [
        _values(SECOND, seconds, "second"),
        _values(MINUTE, minutes, "minute"),
        _values(HOUR, hours, "hour"),
    ]
    # Second 0 (and minute 0 under it) is what people assume; saying it is noise.
    if seconds == (0,):
        phrases.pop(0)
        if minutes == (0,):
            phrases.pop(0)
    # "every 10 seconds of every minute of every hour" reads as "every 10 seconds".
    while len(phrases) > 1 and phrases[-1] in ("every minute", "every hour"):
        phrases.pop()
    text = " of ".join(phrases)
    return text if text.startswith("every") else f"at {text}"


def _values(field: FieldDef, values: tuple[int, ...], unit: str) -> str:
    if values == field.all_values:
        return f"every {unit}"
    if len(values) == 1:
        return f"{unit} {values[0]}"
    step = values[1] - values[0]
    progression = all(b - a == step for a, b in itertools.pairwise(values))
    if progression and step == 1:
        return f"{unit}s {values[0]} through {values[-1]}"
    if progression and values[0] == field.low and values[-1] + step > field.high:
        return f"every {step} {unit}s"
    return f"{unit}s {_join([str(v) for v in values])}"


def _day_phrase(days: DaySpec, months: tuple[int, ...]) -> str:
    every_month = months == MONTH.all_values
    month_names = _month_names(months)
    if isinstance(days, EveryDay | WeekDays):
        if isinstance(days, WeekDays) and days.weekdays != DAY_OF_WEEK.all_values:
            text = f"on {_weekday_names(days.weekdays)}"
        else:
            text = "every day"
        return text if every_month else f"{text} in {month_names}"
    return f"on {_special_day(days)} of {'every month' if every_month else month_names}"


def _special_day(days: DaySpec) -> str:
    if isinstance(days, MonthDays):
        values = days.days
        if len(values) == 1:
            return f"day {values[0]}"
        if values == tuple(range(values[0], values[-1] + 1)):
            return f"days {values[0]} through {values[-1]}"
        return f"days {_join([str(d) for d in values])}"
    if isinstance(days, LastDay):
        if days.offset == 0:
            return "the last day"
        return f"the day {days.offset} {_plural(days.offset, 'day')} before the last day"
    if isinstance(days, NearestWeekday):
        if not days.from_last:
            return f"the weekday nearest day {days.day}"
        if days.day == 0:
            return "the last weekday"
        return f"the weekday nearest {days.day} {_plural(days.day, 'day')} before the last day"
    if isinstance(days, LastWeekday):
        return f"the last {_WEEKDAYS[days.weekday - 1]}"
    if isinstance(days, NthWeekday):
        return f"the {_ORDINALS[days.nth - 1]} {_WEEKDAYS[days.weekday - 1]}"
    raise AssertionError(f"unknown day spec {days!r}")


def _weekday_names(weekdays: tuple[int, ...]) -> str:
    if len(weekdays) >= 3 and weekdays == tuple(range(weekdays[0], weekdays[-1] + 1)):
        return f"{_WEEKDAYS[weekdays[0] - 1]} through {_WEEKDAYS[weekdays[-1] - 1]}"
    return _join([_WEEKDAYS[w - 1] for w in weekdays])


def _month_names(months: tuple[int, ...]) -> str:
    if len(months) >= 3 and months == tuple(range(months[0], months[-1] + 1)):
        return f"{_MONTHS[months[0] - 1]} through {_MONTHS[months[-1] - 1]}"
    return _join([_MONTHS[m - 1] for m in months])


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} and {items[-1]}"
