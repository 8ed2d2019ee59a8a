"""Wall times and the instants they fall on, with the DST rule of SPEC §5.

Inside the engine both are whole seconds: an *instant* counts from the Unix
epoch, a *wall time* counts the same way on a zone's local calendar (as if the
local clock were UTC). A zone maps a wall time to zero instants (in a
spring-forward gap), one, or two (in a fall-back overlap).

- Interval-like schedules fire at every instant whose wall time matches, so in
  an overlap they fire in both passes and gap walls never happen.
- Fixed-time schedules fire once per matching wall time: at the first
  occurrence in an overlap, and for gap walls once, at the first instant
  after the gap.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_SECOND = timedelta(seconds=1)

NextWall = Callable[[int], int | None]
"""Given a wall time, the first matching wall time at or after it (None: exhausted)."""


def to_seconds(moment: datetime) -> int:
    """The instant of an aware datetime, floored to whole seconds."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got {moment!r}")
    return (moment - EPOCH) // _SECOND


def to_datetime(instant: int) -> datetime:
    """An instant as an aware UTC datetime."""
    return EPOCH + timedelta(seconds=instant)


def wall_fields(wall: int) -> tuple[int, int, int, int, int, int]:
    """(year, month, day, hour, minute, second) of a wall time."""
    days, seconds = divmod(wall, 86400)
    day = date.fromordinal(_EPOCH_ORDINAL + days)
    hour, seconds = divmod(seconds, 3600)
    minute, second = divmod(seconds, 60)
    return day.year, day.month, day.day, hour, minute, second


def wall_of(year: int, month: int, day: int, hour: int, minute: int, second: int) -> int:
    """The wall time of calendar fields."""
    days = date(year, month, day).toordinal() - _EPOCH_ORDINAL
    return days * 86400 + hour * 3600 + minute * 60 + second


def fixed_offset(tz: tzinfo) -> int | None:
    """The constant offset in seconds of a zone without transitions, else None."""
    if isinstance(tz, timezone):
        offset = tz.utcoffset(None)
        return offset // _SECOND
    return None


def next_fire(next_wall: NextWall, start: int, tz: tzinfo, *, interval_like: bool) -> int | None:
    """The first fire instant at or after `start` for the walls that `next_wall` yields."""
    offset = fixed_offset(tz)
    if offset is not None:
        wall = next_wall(start + offset)
        return None if wall is None else wall - offset
    return _next_fire_dst(next_wall, start, tz, interval_like)


def first_instant(wall: int, tz: tzinfo) -> int:
    """Where a single wall time fires under the fixed-time rule."""
    offset = fixed_offset(tz)
    if offset is not None:
        return wall - offset
    early, late = _instants(wall, tz)
    if early <= late:
        return early
    return _transition(late, early, tz)


def _next_fire_dst(next_wall: NextWall, start: int, tz: tzinfo, interval_like: bool) -> int | None:
    local = datetime.fromtimestamp(start, tz)
    wall = _wall_of_datetime(local)
    offset = _offset(local)
    other = _offset(local.replace(fold=1 - local.fold))
    if other != offset:
        # `start` lies in a fall-back overlap: its wall time occurs twice.
        if local.fold == 1:
            if not interval_like:
                # Second pass: every overlap wall already fired in the first pass,
                # so resume at the first wall after the overlap.
                change = _transition(start - (other - offset), start, tz)
                wall = change + other
        else:
            # First pass: later first-pass walls come first, then the whole
            # second pass (interval-like only) before anything after the overlap.
            change = _transition(start, start + (offset - other), tz)
            candidate = next_wall(wall)
            if candidate is not None and candidate - offset < change:
                return candidate - offset
            if interval_like:
                start, wall = change, change + other
            else:
                wall = change + offset
    elif not interval_like:
        before = datetime.fromtimestamp(start - 1, tz)
        if _offset(before) < offset:
            # `start` is the first instant after a spring-forward gap: the gap's walls
            # fire at that very instant, so the search starts inside the gap.
            wall = _wall_of_datetime(before) + 1
    candidate = next_wall(wall)
    while candidate is not None:
        early, late = _instants(candidate, tz)
        if early == late or not interval_like:
            if early <= late and early >= start:
                return early
            if early > late:
                # A gap wall: fixed-time fires it at the first instant after the gap.
                change = _transition(late, early, tz)
                if change >= start:
                    return change
        elif early < late:
            if early >= start:
                return early
            if late >= start:
                return late
        candidate = next_wall(candidate + 1)
    return None


def _instants(wall: int, tz: tzinfo) -> tuple[int, int]:
    """The instants of a wall time read with fold=0 and fold=1.

    Equal: the wall occurs once. early < late: an overlap (both occur).
    early > late: a gap (neither occurs; the transition lies between them).
    """
    naive = datetime(*wall_fields(wall))
    early = wall - _offset(naive.replace(tzinfo=tz))
    late = wall - _offset(naive.replace(tzinfo=tz, fold=1))
    return early, late


def _transition(low: int, high: int, tz: tzinfo) -> int:
    """The first instant in (low, high] whose offset differs from the offset at `low`."""
    before = _offset(datetime.fromtimestamp(low, tz))
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(datetime.fromtimestamp(middle, tz)) == before:
            low = middle
        else:
            high = middle
    return high


def _offset(moment: datetime) -> int:
    offset = moment.utcoffset()
    assert offset is not None, "zones used by the engine always define an offset"
    return offset // _SECOND


def _wall_of_datetime(moment: datetime) -> int:
    return wall_of(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
