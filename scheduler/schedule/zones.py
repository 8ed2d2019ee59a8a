"""Zone tokens: IANA names, UTC/GMT and fixed GMT±H:MM offsets.

The tz database is the only data the engine reads; lookups are cached so that
parsing stays cheap after the first use of a name.
"""

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, timedelta, timezone, tzinfo
from functools import cache

from scheduler.schedule.errors import ErrorCode, ScheduleError

_OFFSET = re.compile(r"(GMT|UTC)([+-])([0-9]{1,2})(?::([0-9]{2}))?", re.IGNORECASE)

# Offsets beyond these exist nowhere on Earth; SPEC §5 bounds them.
_MAX_EAST = 14 * 3600 + 59 * 60
_MAX_WEST = 12 * 3600 + 59 * 60


@dataclass(frozen=True, slots=True)
class Zone:
    """A parsed zone token: its canonical `name` and the `tzinfo` it stands for."""

    name: str
    tzinfo: tzinfo = field(compare=False, repr=False)

    def __str__(self) -> str:
        return self.name


UTC_ZONE = Zone("UTC", UTC)


def parse_zone(token: str) -> Zone:
    """Parse a zone token of SPEC §5, raising `ScheduleError(InvalidTimeZone)` if unknown."""
    upper = token.upper()
    if upper in ("UTC", "GMT"):
        return UTC_ZONE
    if upper.startswith(("GMT+", "GMT-", "UTC+", "UTC-")):
        return _parse_offset(token)
    if token[:1] in "+-":
        raise ScheduleError(
            ErrorCode.INVALID_TIME_ZONE,
            f"zone: bare offset '{token}' is not accepted; write it as GMT{token}",
        )
    if "/" not in token:
        # Bare tz database names are abbreviations (EST, CET) or legacy aliases
        # (PRC, Japan); several mean different things to different readers.
        raise ScheduleError(
            ErrorCode.INVALID_TIME_ZONE,
            f"zone: '{token}' is not an Area/Location name such as Asia/Shanghai; "
            "abbreviations and bare offsets are ambiguous (use e.g. GMT+8:00)",
        )
    name = _iana_names().get(token.lower())
    if name is None:
        raise ScheduleError(
            ErrorCode.INVALID_TIME_ZONE, f"zone: '{token}' is not a known IANA time zone"
        )
    return Zone(name, zoneinfo.ZoneInfo(name))


def _parse_offset(token: str) -> Zone:
    match = _OFFSET.fullmatch(token)
    if match is None:
        raise ScheduleError(
            ErrorCode.INVALID_TIME_ZONE,
            f"zone: '{token}' is not a valid offset; write GMT±H:MM, e.g. GMT+8:00 or GMT-3:30",
        )
    _, sign, hours_text, minutes_text = match.groups()
    hours = int(hours_text)
    minutes = int(minutes_text) if minutes_text is not None else 0
    if minutes > 59:
        raise ScheduleError(
            ErrorCode.INVALID_TIME_ZONE, f"zone: minutes in '{token}' must be 00-59"
        )
    seconds = hours * 3600 + minutes * 60
    if seconds > (_MAX_EAST if sign == "+" else _MAX_WEST):
        raise ScheduleError(
            ErrorCode.INVALID_TIME_ZONE,
            f"zone: offset '{token}' is out of range GMT-12:59 to GMT+14:59",
        )
    if seconds == 0:
        return UTC_ZONE
    name = f"GMT{sign}{hours}:{minutes:02d}"
    delta = timedelta(seconds=seconds if sign == "+" else -seconds)
    return Zone(name, timezone(delta, name))


@cache
def _iana_names() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones() if "/" in name}
