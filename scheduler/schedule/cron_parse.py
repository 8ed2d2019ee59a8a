"""Strict parsing of Quartz-style cron text into a `CronSchedule`.

`sec min hour day-of-month month day-of-week [year] [zone]`: junk is an error,
never ignored, and an expression is only accepted if it fires at least once in
1970–2099 and never twice within 10 seconds.
"""

from scheduler.schedule.cron import CronSchedule
from scheduler.schedule.days import parse_days
from scheduler.schedule.errors import ErrorCode, ScheduleError
from scheduler.schedule.fields import (
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    YEAR,
    FieldDef,
    fail,
    parse_plain,
)
from scheduler.schedule.interval import check_min_interval
from scheduler.schedule.zones import Zone, parse_zone

_LAYOUT = "sec min hour day-of-month month day-of-week [year] [zone]"


def parse_cron(text: str) -> CronSchedule:
    """Parse a cron expression, raising `ScheduleError` with a message naming the field."""
    tokens = text.split()
    if len(tokens) == 5:
        raise ScheduleError(
            ErrorCode.INVALID_CRON,
            f"expected 6 to 8 fields ({_LAYOUT}), got 5: the seconds field is missing",
        )
    if not 6 <= len(tokens) <= 8:
        raise ScheduleError(
            ErrorCode.INVALID_CRON, f"expected 6 to 8 fields ({_LAYOUT}), got {len(tokens)}"
        )
    second, minute, hour, day_of_month, month, day_of_week = tokens[:6]
    year, zone = _year_and_zone(tokens[6:])
    schedule = CronSchedule(
        seconds=_plain(SECOND, second),
        minutes=_plain(MINUTE, minute),
        hours=_plain(HOUR, hour),
        days=parse_days(day_of_month.upper(), day_of_week.upper()),
        months=_plain(MONTH, month),
        years=YEAR.all_values if year is None else _plain(YEAR, year),
        zone=zone,
        minute_star=minute.startswith("*"),
        hour_star=hour.startswith("*"),
    )
    if schedule.next_wall(0) is None:
        raise ScheduleError(
            ErrorCode.NEVER_FIRES,
            f"'{' '.join(tokens)}' never fires: no date in 1970-2099 matches its "
            "day-of-month, month, day-of-week and year fields together",
        )
    check_min_interval(schedule)
    return schedule


def _year_and_zone(extra: list[str]) -> tuple[str | None, Zone | None]:
    """Split the optional tokens: a year (digits and `*,-/`) and a zone (starts with a letter)."""
    if not extra:
        return None, None
    if len(extra) == 1:
        token = extra[0]
        if token[:1].isalpha() or token[:1] == "+" or (token[:1] == "-" and ":" in token):
            return None, parse_zone(token)
        return token, None
    year, zone = extra
    if year[:1].isalpha():
        raise fail(YEAR, f"'{year}' is not a year; the year comes before the zone")
    if not (zone[:1].isalpha() or zone[:1] in "+-"):
        raise ScheduleError(
            ErrorCode.INVALID_CRON,
            f"expected 6 to 8 fields ({_LAYOUT}); '{zone}' after the year is not a zone",
        )
    return year, parse_zone(zone)


def _plain(field: FieldDef, token: str) -> tuple[int, ...]:
    if "?" in token:
        raise fail(field, f"'?' is only allowed in day-of-month or day-of-week ('{token}')")
    letters = {char.upper() for char in token if char.isalpha() or char == "#"}
    if letters and letters <= {"L", "W", "#"}:
        mark = min(letters)
        raise fail(field, f"'{mark}' is only allowed in the day fields ('{token}')")
    return parse_plain(field, token)
