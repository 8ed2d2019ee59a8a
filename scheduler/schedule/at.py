"""`at(yyyy-MM-dd HH:mm:ss [zone])`: one fire at a wall time, UTC when no zone is given."""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from scheduler.schedule import walltime
from scheduler.schedule.base import Schedule
from scheduler.schedule.errors import ErrorCode, ScheduleError
from scheduler.schedule.zones import UTC_ZONE, Zone, parse_zone

_AT = re.compile(
    r"\s*at\s*\(\s*([0-9]{4})-([0-9]{2})-([0-9]{2})\s+([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\s+(\S+))?\s*\)\s*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class AtSchedule(Schedule):
    """One fire at `wall` in `zone`; a gap or overlap wall follows the fixed-time rule."""

    wall: datetime
    zone: Zone = UTC_ZONE
    instant: datetime = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        wall = walltime.wall_of(
            self.wall.year,
            self.wall.month,
            self.wall.day,
            self.wall.hour,
            self.wall.minute,
            self.wall.second,
        )
        instant = walltime.to_datetime(walltime.first_instant(wall, self.zone.tzinfo))
        object.__setattr__(self, "instant", instant)

    @property
    def kind(self) -> str:
        return "at"

    @property
    def is_one_shot(self) -> bool:
        return True

    @property
    def own_zone(self) -> Zone:
        return self.zone

    def next_fire(self, after: datetime, *, zone: tzinfo | None = None) -> datetime | None:
        """The one instant if it is after `after`, else None (`zone` is ignored)."""
        if after.utcoffset() is None:
            raise ValueError(f"expected a timezone-aware datetime, got {after!r}")
        return self.instant if self.instant > after else None

    def min_interval(self) -> timedelta | None:
        return None

    def describe(self) -> str:
        utc = self.instant.strftime("%Y-%m-%dT%H:%M:%SZ")
        local = f"once at {self.wall:%Y-%m-%d %H:%M:%S} {self.zone.name}"
        return local if self.zone == UTC_ZONE else f"{local} ({utc})"

    def __str__(self) -> str:
        zone = "" if self.zone == UTC_ZONE else f" {self.zone.name}"
        return f"at({self.wall:%Y-%m-%d %H:%M:%S}{zone})"


def parse_at(text: str) -> AtSchedule:
    """Parse `at(...)`; any valid date is accepted, passed or not."""
    match = _AT.fullmatch(text)
    if match is None:
        raise ScheduleError(
            ErrorCode.INVALID_AT,
            f"at: '{text.strip()}' is not at(yyyy-MM-dd HH:mm:ss [zone]), "
            "e.g. at(2026-05-01 09:30:00 Asia/Shanghai)",
        )
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    zone = UTC_ZONE if match.group(7) is None else parse_zone(match.group(7))
    try:
        wall = datetime(year, month, day, hour, minute, second)
    except ValueError as error:
        raise ScheduleError(
            ErrorCode.INVALID_AT,
            f"at: '{match.group(1)}-{match.group(2)}-{match.group(3)} "
            f"{match.group(4)}:{match.group(5)}:{match.group(6)}' is not a valid time ({error})",
        ) from None
    try:
        return AtSchedule(wall, zone)
    except (OverflowError, ValueError):
        raise ScheduleError(
            ErrorCode.INVALID_AT, f"at: {wall} in {zone.name} is outside the supported range"
        ) from None
