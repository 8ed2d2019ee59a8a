"""Which days of a month a cron expression allows.

Day-of-month and day-of-week combine into one `DaySpec` (SPEC §5 never lets
both restrict): every day, a list of month days, a list of weekdays, or one of
the special forms `L`, `L-n`, `nW`, `LW`, `L-nW`, `nL`, `n#k`. Weekdays count
as Quartz does: 1 = Sunday … 7 = Saturday.
"""

from dataclasses import dataclass, field
from datetime import date

from scheduler.schedule.fields import (
    DAY_OF_MONTH,
    DAY_OF_WEEK,
    fail,
    parse_number,
    parse_plain,
    parse_value,
    render_plain,
)

_MONTH_LENGTHS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
SUNDAY, MONDAY, FRIDAY, SATURDAY = 1, 2, 6, 7


def month_length(year: int, month: int) -> int:
    """Days in the month, leap years included."""
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_LENGTHS[month]


def weekday(year: int, month: int, day: int) -> int:
    """The Quartz weekday of a date: 1 = Sunday … 7 = Saturday."""
    return (date(year, month, day).weekday() + 1) % 7 + 1


class DaySpec:
    """The days a schedule fires on; subclasses are frozen dataclasses."""

    __slots__ = ()

    def next_day(self, year: int, month: int, day: int) -> int:
        """The first allowed day ≥ `day` in the month, or -1 when there is none."""
        raise NotImplementedError

    def days_in(self, year: int, month: int) -> list[int]:
        """All allowed days of the month, in order."""
        days: list[int] = []
        day = self.next_day(year, month, 1)
        while day > 0:
            days.append(day)
            day = self.next_day(year, month, day + 1)
        return days

    def render(self) -> tuple[str, str]:
        """The canonical (day-of-month, day-of-week) tokens."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class EveryDay(DaySpec):
    """`*` (or `?`) in both day fields."""

    def next_day(self, year: int, month: int, day: int) -> int:
        return day if day <= month_length(year, month) else -1

    def render(self) -> tuple[str, str]:
        return "*", "?"


@dataclass(frozen=True, slots=True)
class MonthDays(DaySpec):
    """A plain day-of-month list; days a month lacks (31 in April) are skipped."""

    days: tuple[int, ...]
    # _after[d] is the first listed day >= d (or 99), so a lookup replaces a scan.
    _after: tuple[int, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        after = [next((d for d in self.days if d >= day), 99) for day in range(34)]
        object.__setattr__(self, "_after", tuple(after))

    def next_day(self, year: int, month: int, day: int) -> int:
        candidate = self._after[day] if day < 34 else 99
        return candidate if candidate <= month_length(year, month) else -1

    def render(self) -> tuple[str, str]:
        return render_plain(DAY_OF_MONTH, self.days), "?"


@dataclass(frozen=True, slots=True)
class WeekDays(DaySpec):
    """A plain day-of-week list (1 = Sunday)."""

    weekdays: tuple[int, ...]
    # _ahead[w] is how many days from weekday w to the next listed weekday.
    _ahead: tuple[int, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        ahead = [0] + [min((wd - today) % 7 for wd in self.weekdays) for today in range(1, 8)]
        object.__setattr__(self, "_ahead", tuple(ahead))

    def next_day(self, year: int, month: int, day: int) -> int:
        length = month_length(year, month)
        if day > length:
            return -1
        target = day + self._ahead[weekday(year, month, day)]
        return target if target <= length else -1

    def render(self) -> tuple[str, str]:
        return "?", render_plain(DAY_OF_WEEK, self.weekdays)


class _SingleDay(DaySpec):
    """A form that picks at most one day per month."""

    __slots__ = ()

    def day_of(self, year: int, month: int) -> int:
        """The day this form picks in the month, or -1 when the month has none."""
        raise NotImplementedError

    def next_day(self, year: int, month: int, day: int) -> int:
        target = self.day_of(year, month)
        return target if target >= day else -1


@dataclass(frozen=True, slots=True)
class LastDay(_SingleDay):
    """`L` (offset 0) or `L-n`: n days before the last day of the month."""

    offset: int

    def day_of(self, year: int, month: int) -> int:
        target = month_length(year, month) - self.offset
        return target if target >= 1 else -1

    def render(self) -> tuple[str, str]:
        return ("L" if self.offset == 0 else f"L-{self.offset}"), "?"


@dataclass(frozen=True, slots=True)
class NearestWeekday(_SingleDay):
    """`nW`, or with `from_last` `LW` / `L-nW`: the Mon–Fri day nearest the base day.

    The search never leaves the month: a Saturday the 1st moves to Monday the
    3rd, a Sunday that ends the month moves back to Friday.
    """

    day: int
    from_last: bool = False

    def day_of(self, year: int, month: int) -> int:
        length = month_length(year, month)
        base = length - self.day if self.from_last else self.day
        if not 1 <= base <= length:
            return -1
        today = weekday(year, month, base)
        if today == SATURDAY:
            return base + 2 if base == 1 else base - 1
        if today == SUNDAY:
            return base - 2 if base == length else base + 1
        return base

    def render(self) -> tuple[str, str]:
        if not self.from_last:
            return f"{self.day}W", "?"
        return ("LW" if self.day == 0 else f"L-{self.day}W"), "?"


@dataclass(frozen=True, slots=True)
class LastWeekday(_SingleDay):
    """`nL` in day-of-week: the last weekday n of the month (`6L` = last Friday)."""

    weekday: int

    def day_of(self, year: int, month: int) -> int:
        length = month_length(year, month)
        return length - (weekday(year, month, length) - self.weekday) % 7

    def render(self) -> tuple[str, str]:
        return "?", f"{self.weekday}L"


@dataclass(frozen=True, slots=True)
class NthWeekday(_SingleDay):
    """`n#k` in day-of-week: the k-th weekday n of the month (`6#3` = third Friday)."""

    weekday: int
    nth: int

    def day_of(self, year: int, month: int) -> int:
        first = 1 + (self.weekday - weekday(year, month, 1)) % 7
        target = first + 7 * (self.nth - 1)
        return target if target <= month_length(year, month) else -1

    def render(self) -> tuple[str, str]:
        return "?", f"{self.weekday}#{self.nth}"


def parse_days(dom: str, dow: str) -> DaySpec:
    """Combine the (upper-cased) day-of-month and day-of-week tokens into one spec."""
    if dom == "?" and dow == "?":
        raise fail(DAY_OF_MONTH, "'?' in both day-of-month and day-of-week; one must name days")
    if dom in ("*", "?") and dow in ("*", "?"):
        return EveryDay()
    if dow in ("*", "?"):
        return _parse_day_of_month(dom)
    if dom in ("*", "?"):
        return _parse_day_of_week(dow)
    raise fail(
        DAY_OF_MONTH,
        f"'{dom}' and day-of-week '{dow}' are both restricted; put '?' in one of them",
    )


def _parse_day_of_month(token: str) -> DaySpec:
    field = DAY_OF_MONTH
    if "?" in token:
        raise fail(field, f"'?' must stand alone, not in '{token}'")
    if "#" in token:
        raise fail(field, f"'#' is only allowed in day-of-week ('{token}')")
    if token.startswith("L"):
        body = token[1:]
        nearest = body.endswith("W")
        if nearest:
            body = body[:-1]
        if body == "":
            offset = 0
        elif body.startswith("-"):
            offset = parse_number(field, body[1:], whole=token)
            if offset > 30:
                raise fail(field, f"offset {offset} in '{token}' is out of range 0-30")
        else:
            raise fail(field, f"'{token}' is not L, L-n, LW or L-nW")
        return NearestWeekday(offset, from_last=True) if nearest else LastDay(offset)
    if "L" in token:
        raise fail(field, f"'L' takes no list or range and must start the field ('{token}')")
    if token.endswith("W"):
        body = token[:-1]
        if any(mark in body for mark in ",-/*"):
            raise fail(field, f"'W' takes a single day, not a list or range ('{token}')")
        return NearestWeekday(parse_value(field, body, whole=token))
    if "W" in token:
        raise fail(field, f"'W' must follow a single day, as in 15W ('{token}')")
    days = parse_plain(field, token)
    # A list naming every day is every day; one canonical form keeps equality honest.
    return EveryDay() if days == field.all_values else MonthDays(days)


def _parse_day_of_week(token: str) -> DaySpec:
    field = DAY_OF_WEEK
    if "?" in token:
        raise fail(field, f"'?' must stand alone, not in '{token}'")
    if token == "L":
        # Quartz and the seed documents: `L` alone is the last day of the week.
        return WeekDays((SATURDAY,))
    if "#" in token:
        day_text, _, nth_text = token.partition("#")
        if any(mark in day_text for mark in ",-/*") or "," in nth_text:
            raise fail(field, f"'#' takes a single weekday, not a list or range ('{token}')")
        nth = parse_number(field, nth_text, whole=token)
        if not 1 <= nth <= 5:
            raise fail(field, f"'#{nth_text}' in '{token}' is out of range 1-5")
        return NthWeekday(parse_value(field, day_text, whole=token), nth)
    if token.endswith("L"):
        body = token[:-1]
        if any(mark in body for mark in ",-/*"):
            raise fail(field, f"'L' takes a single weekday, not a list or range ('{token}')")
        return LastWeekday(parse_value(field, body, whole=token))
    if token.endswith("W") and token[:-1].isdigit():
        raise fail(field, f"'W' is only allowed in day-of-month ('{token}')")
    weekdays = parse_plain(field, token)
    return EveryDay() if weekdays == field.all_values else WeekDays(weekdays)
