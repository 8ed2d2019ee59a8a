"""Plain cron fields: values, names, lists, wrap-around ranges and steps.

A plain field parses into a sorted tuple of the values it allows. The day
fields' special forms (`L`, `W`, `#`) live in `days.py`; this module only knows
the grammar they share with every other field.
"""

import itertools
from dataclasses import dataclass

from scheduler.schedule.errors import ErrorCode, ScheduleError

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(kw_only=True, frozen=True, slots=True)
class FieldDef:
    """One cron field: its name in messages, its range and the names it accepts."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    hint: str = ""

    @property
    def span(self) -> int:
        """How many values the field cycles through (used to wrap ranges)."""
        return self.high - self.low + 1

    @property
    def all_values(self) -> tuple[int, ...]:
        """Every value of the field, in order."""
        return tuple(range(self.low, self.high + 1))

    def range_text(self) -> str:
        """The range as shown in messages, e.g. `1-7 (1 = SUN)`."""
        text = f"{self.low}-{self.high}"
        return f"{text} ({self.hint})" if self.hint else text


SECOND = FieldDef(name="second", low=0, high=59)
MINUTE = FieldDef(name="minute", low=0, high=59)
HOUR = FieldDef(name="hour", low=0, high=23)
DAY_OF_MONTH = FieldDef(name="day-of-month", low=1, high=31)
MONTH = FieldDef(name="month", low=1, high=12, names=MONTH_NAMES, hint="or JAN-DEC")
DAY_OF_WEEK = FieldDef(name="day-of-week", low=1, high=7, names=DAY_NAMES, hint="1 = SUN")
YEAR = FieldDef(name="year", low=1970, high=2099)


def fail(field: FieldDef, message: str) -> ScheduleError:
    """The error for a malformed field, its message prefixed with the field's name."""
    return ScheduleError(ErrorCode.INVALID_CRON, f"{field.name}: {message}")


def parse_number(field: FieldDef, text: str, *, whole: str) -> int:
    """A bare decimal number: ASCII digits with at most one leading zero."""
    if not text or not (text.isascii() and text.isdigit()):
        where = "" if text == whole else f" in '{whole}'"
        raise fail(field, f"'{text}'{where} is not a number")
    # `08` is a common way to write 8; `008` is more likely a typo than a value.
    if len(text) > 2 and text.startswith("00"):
        raise fail(field, f"'{text}' has more than one leading zero")
    return int(text)


def parse_value(field: FieldDef, text: str, *, whole: str) -> int:
    """One value of the field: a number in range or, where allowed, a three-letter name."""
    if text[:1].isalpha():
        if text.upper() in field.names:
            return field.names.index(text.upper()) + field.low
        allowed = f"{field.names[0]}-{field.names[-1]}" if field.names else "numbers"
        raise fail(
            field,
            f"'{text}' is not a valid value (use {field.low}-{field.high}"
            + (f" or {allowed}" if field.names else "")
            + ")",
        )
    value = parse_number(field, text, whole=whole)
    if not field.low <= value <= field.high:
        raise fail(field, f"'{text}' is out of range {field.range_text()}")
    return value


def parse_plain(field: FieldDef, token: str) -> tuple[int, ...]:
    """Parse a list of values, ranges and steps into the sorted values it allows."""
    values: set[int] = set()
    for item in token.split(","):
        if not item:
            raise fail(field, f"empty item in list '{token}'")
        values.update(_parse_item(field, item))
    return tuple(sorted(values))


def _parse_item(field: FieldDef, item: str) -> list[int]:
    base, slash, step_text = item.partition("/")
    if slash:
        step = parse_number(field, step_text, whole=item)
        if not 1 <= step <= field.high:
            raise fail(field, f"step {step} in '{item}' is out of range 1-{field.high}")
    else:
        step = 1
    if base == "*":
        start, stop = field.low, field.high
    elif "-" in base:
        first, _, last = base.partition("-")
        if not first or not last:
            raise fail(field, f"range '{item}' needs a start and an end")
        start = parse_value(field, first, whole=item)
        stop = parse_value(field, last, whole=item)
        if stop < start and field is YEAR:
            raise fail(field, f"range '{base}' goes backwards; year ranges cannot wrap")
    else:
        start = parse_value(field, base, whole=item)
        # `n/step` runs from n to the end of the field; a bare `n` is just n.
        stop = field.high if slash else start
    return _walk(field, start, stop, step)


def _walk(field: FieldDef, start: int, stop: int, step: int) -> list[int]:
    """Values from start to stop by step, wrapping past the field's end (`22-2` hours)."""
    if stop >= start:
        return list(range(start, stop + 1, step))
    stop += field.span
    return [field.low + (value - field.low) % field.span for value in range(start, stop + 1, step)]


def render_plain(field: FieldDef, values: tuple[int, ...]) -> str:
    """The canonical text for a set of values: `*`, `a/s`, `a-b/s`, or a list of ranges."""
    if values == field.all_values:
        return "*"
    if len(values) >= 3:
        step = values[1] - values[0]
        if all(b - a == step for a, b in itertools.pairwise(values)):
            if step == 1:
                return f"{values[0]}-{values[-1]}"
            if values[-1] + step > field.high:
                return f"{values[0]}/{step}"
            return f"{values[0]}-{values[-1]}/{step}"
    parts: list[str] = []
    run_start = previous = values[0]
    for value in (*values[1:], None):
        if value is not None and value == previous + 1:
            previous = value
            continue
        if previous - run_start >= 2:
            parts.append(f"{run_start}-{previous}")
        else:
            parts.extend(str(v) for v in range(run_start, previous + 1))
        if value is not None:
            run_start = previous = value
    return ",".join(parts)
