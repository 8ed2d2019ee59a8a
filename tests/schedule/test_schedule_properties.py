"""Property tests: the engine against a brute-force reference, and parsing robustness."""

import contextlib
import itertools
import random
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scheduler.schedule import CronSchedule, ScheduleError, parse_frequency, parse_zone

from .brute import expected_fires, wall_matches
from .cron_gen import random_case

ZONES: list[tzinfo] = [
    UTC,
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/London"),
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("America/Santiago"),
    parse_zone("GMT+5:30").tzinfo,
]
# Local days of the 2026 DST transitions of the zones above.
TRANSITIONS: list[tuple[tzinfo, date]] = [
    (ZONES[1], date(2026, 3, 8)),
    (ZONES[1], date(2026, 11, 1)),
    (ZONES[2], date(2026, 3, 29)),
    (ZONES[2], date(2026, 10, 25)),
    (ZONES[3], date(2026, 4, 5)),
    (ZONES[3], date(2026, 10, 4)),
    (ZONES[4], date(2026, 4, 4)),
    (ZONES[4], date(2026, 9, 6)),
]


@st.composite
def cron_schedules(draw: st.DrawFn) -> CronSchedule:
    """A random valid cron schedule, without a zone token.

    Half of them fire in the small hours (and Santiago's 23:00), where DST happens.
    """
    rng = random.Random(draw(st.integers(0, 2**32)))
    night = draw(st.sampled_from(["", "0-3", "1", "2", "1,2", "23,0", "0", "2-4"]))
    while True:
        case = random_case(rng)
        fields = case.fields.split()
        if night:
            fields[2] = night
        try:
            schedule = parse_frequency(" ".join(fields))
        except ScheduleError:
            continue
        assert isinstance(schedule, CronSchedule)
        return schedule


@st.composite
def windows(draw: st.DrawFn) -> tuple[tzinfo, date]:
    if draw(st.integers(0, 3)) > 0:
        zone, day = draw(st.sampled_from(TRANSITIONS))
        return zone, day - timedelta(days=draw(st.integers(0, 1)))
    return draw(st.sampled_from(ZONES)), draw(st.dates(date(1971, 1, 1), date(2098, 12, 1)))


def _window_days(schedule: CronSchedule) -> int:
    per_day = len(schedule.hours) * len(schedule.minutes) * len(schedule.seconds)
    return max(1, min(45, 6000 // per_day))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cron_schedules(), windows())
def test_fires_equal_the_brute_force_reference(
    schedule: CronSchedule, window: tuple[tzinfo, date]
) -> None:
    zone, first = window
    last = first + timedelta(days=_window_days(schedule))
    start = int(datetime(first.year, first.month, first.day, tzinfo=zone).timestamp())
    end = int(datetime(last.year, last.month, last.day, 23, 59, 59, tzinfo=zone).timestamp())
    expected = [
        fire
        for fire in expected_fires(
            schedule, zone, first - timedelta(days=1), last + timedelta(days=1)
        )
        if start < fire <= end
    ]
    actual: list[int] = []
    for fire in schedule.fires(datetime.fromtimestamp(start, UTC), zone=zone):
        instant = int(fire.timestamp())
        if instant > end:
            break
        actual.append(instant)
    assert actual == expected


@settings(max_examples=150, deadline=None)
@given(cron_schedules(), windows())
def test_fires_strictly_increase_and_match_in_their_zone(
    schedule: CronSchedule, window: tuple[tzinfo, date]
) -> None:
    zone, first = window
    after = datetime(first.year, first.month, first.day, tzinfo=UTC)
    previous = after
    for fire in schedule.fires(after, zone=zone, limit=60):
        assert fire > previous
        assert fire.tzinfo == UTC and fire.microsecond == 0
        local = fire.astimezone(zone)
        if not wall_matches(schedule, local.replace(tzinfo=None)):
            # Only a fixed-time fire moved out of a DST gap may show another wall time.
            before = (fire - timedelta(seconds=1)).astimezone(zone).utcoffset()
            assert not schedule.interval_like and before != local.utcoffset()
        previous = fire


@settings(max_examples=200, deadline=None)
@given(cron_schedules())
def test_canonical_form_round_trips(schedule: CronSchedule) -> None:
    text = str(schedule)
    assert parse_frequency(text) == schedule
    assert str(parse_frequency(text)) == text
    assert schedule.describe()


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 59),
    st.lists(st.integers(0, 59), max_size=3),
    st.integers(1, 23),
    st.lists(st.integers(0, 23), max_size=3),
)
def test_a_starred_field_with_more_items_round_trips(
    minute_step: int, minutes: list[int], hour_step: int, hours: list[int]
) -> None:
    minute = ",".join([f"*/{minute_step}", *map(str, minutes)])
    hour = ",".join([f"*/{hour_step}", *map(str, hours)])
    schedule = parse_frequency(f"0 {minute} {hour} * * ?")
    text = str(schedule)
    assert parse_frequency(text) == schedule
    assert str(parse_frequency(text)) == text


@settings(max_examples=100, deadline=None)
@given(cron_schedules(), st.dates(date(1971, 1, 1), date(2098, 1, 1)))
def test_min_interval_bounds_every_gap(schedule: CronSchedule, day: date) -> None:
    smallest = schedule.min_interval()
    after = datetime(day.year, day.month, day.day, tzinfo=UTC)
    fires = list(schedule.fires(after, limit=200))
    assume(len(fires) >= 2)
    assert smallest is not None and smallest >= timedelta(seconds=10)
    gaps = [b - a for a, b in itertools.pairwise(fires)]
    assert min(gaps) >= smallest


_CRON_ALPHABET = st.sampled_from(
    [*list("0123456789 */,-?LW#lw"), "MON", "SUN", "JAN", "DEC", "FRI", "L-", "Asia/Tokyo", "GMT+"]
)


@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(max_size=40), st.lists(_CRON_ALPHABET, max_size=30).map("".join)))
def test_parsing_raises_only_schedule_errors(text: str) -> None:
    for candidate in (text, f"rate({text})", f"at({text})", f"0 0 {text}"):
        with contextlib.suppress(ScheduleError):
            parse_frequency(candidate)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["*", "?", "0", "5", "1-5", "*/15", "L", "LW", "15W", "6L", "6#3", "MON-FRI"]
        ),
        min_size=6,
        max_size=8,
    )
)
def test_token_soup_raises_only_schedule_errors(tokens: list[str]) -> None:
    try:
        schedule = parse_frequency(" ".join(tokens))
    except ScheduleError:
        return
    # Accepted means it fires: no year token here, so every year is allowed.
    assert schedule.next_fire(datetime(2026, 1, 1, tzinfo=UTC)) is not None
