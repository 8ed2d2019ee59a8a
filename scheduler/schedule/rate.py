"""`rate(<n><s|m|h|d>)`: a fixed interval of real time on a grid anchored at creation."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from scheduler.schedule.base import Schedule
from scheduler.schedule.errors import ErrorCode, ScheduleError

_RATE = re.compile(r"\s*rate\s*\(\s*([0-9]+)\s*([a-z]*)\s*\)\s*", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_WORDS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
MIN_RATE = timedelta(seconds=10)
MAX_RATE = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class RateSchedule(Schedule):
    """Fires at `anchor + k·interval` for k ≥ 1; DST does not apply (real time)."""

    interval: timedelta
    anchor: datetime | None = None

    @property
    def kind(self) -> str:
        return "rate"

    def next_fire(self, after: datetime, *, zone: tzinfo | None = None) -> datetime | None:
        """The next grid point strictly after `after` (the grid starts at `after` if unanchored)."""
        if after.utcoffset() is None:
            raise ValueError(f"expected a timezone-aware datetime, got {after!r}")
        # In UTC: aware arithmetic within one IANA zone would add wall-clock time.
        after = after.astimezone(UTC)
        anchor = after if self.anchor is None else self.anchor.astimezone(UTC)
        steps = max(1, (after - anchor) // self.interval + 1)
        try:
            return anchor + steps * self.interval
        except OverflowError:
            return None

    def min_interval(self) -> timedelta:
        return self.interval

    def describe(self) -> str:
        amount, unit = _largest_unit(self.interval)
        word = _UNIT_WORDS[unit]
        text = f"every {word}" if amount == 1 else f"every {amount} {word}s"
        if self.anchor is not None:
            anchor = self.anchor.astimezone(UTC).isoformat().replace("+00:00", "Z")
            text += f", counted from {anchor}"
        return text

    def __str__(self) -> str:
        amount, unit = _largest_unit(self.interval)
        return f"rate({amount}{unit})"


def parse_rate(text: str, anchor: datetime | None) -> RateSchedule:
    """Parse `rate(...)`; the interval must be 10 s to 7 d."""
    match = _RATE.fullmatch(text)
    if match is None:
        raise ScheduleError(
            ErrorCode.INVALID_RATE,
            f"rate: '{text.strip()}' is not rate(<n><s|m|h|d>), e.g. rate(5m)",
        )
    number, unit = match.group(1), match.group(2).lower()
    if unit not in _UNITS:
        raise ScheduleError(
            ErrorCode.INVALID_RATE,
            f"rate: unit '{match.group(2)}' is not one of s, m, h, d (e.g. rate(5m))",
        )
    if len(number) > 2 and number.startswith("00"):
        raise ScheduleError(
            ErrorCode.INVALID_RATE, f"rate: '{number}' has more than one leading zero"
        )
    # Compare before building a timedelta: a huge n would overflow it.
    seconds = int(number) * _UNITS[unit] if len(number) <= 9 else MAX_RATE.days * 86400 + 1
    if seconds < MIN_RATE.total_seconds():
        raise ScheduleError(
            ErrorCode.INTERVAL_TOO_SHORT,
            f"rate: interval {number}{unit} is shorter than the minimum of 10s",
        )
    if seconds > MAX_RATE.total_seconds():
        raise ScheduleError(
            ErrorCode.INVALID_RATE, f"rate: interval {number}{unit} is longer than the maximum 7d"
        )
    if anchor is not None and anchor.utcoffset() is None:
        raise ValueError(f"anchor must be timezone-aware, got {anchor!r}")
    return RateSchedule(timedelta(seconds=seconds), anchor)


def _largest_unit(interval: timedelta) -> tuple[int, str]:
    seconds = int(interval.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds % _UNITS[unit] == 0:
            return seconds // _UNITS[unit], unit
    return seconds, "s"
