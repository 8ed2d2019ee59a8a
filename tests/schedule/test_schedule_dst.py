"""Golden DST tests: exact fire sequences around real 2026 transitions.

Transitions used (instant in UTC: last wall time before -> first wall time after):

America/New_York
    2026-03-08T07:00:00Z  01:59:59-05:00 -> 03:00:00-04:00   (gap 02:00-03:00)
    2026-11-01T06:00:00Z  01:59:59-04:00 -> 01:00:00-05:00   (overlap 01:00-02:00)
Europe/London
    2026-03-29T01:00:00Z  00:59:59+00:00 -> 02:00:00+01:00   (gap 01:00-02:00)
    2026-10-25T01:00:00Z  01:59:59+01:00 -> 01:00:00+00:00   (overlap 01:00-02:00)
Australia/Lord_Howe (a 30-minute shift)
    2026-04-04T15:00:00Z  04-05 01:59:59+11:00 -> 01:30:00+10:30   (overlap 01:30-02:00)
    2026-10-03T15:30:00Z  10-04 01:59:59+10:30 -> 02:30:00+11:00   (gap 02:00-02:30)
America/Santiago (transitions at midnight)
    2026-04-05T03:00:00Z  04-04 23:59:59-03:00 -> 04-04 23:00:00-04:00  (overlap 23:00-24:00)
    2026-09-06T04:00:00Z  09-05 23:59:59-04:00 -> 09-06 01:00:00-03:00  (gap 00:00-01:00)

Fixed-time schedules fire once per wall time (first pass of an overlap; gap
walls at the first instant after the gap). Interval-like ones (minute or hour
field starting with `*`) follow real time: both passes, no gap walls.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from scheduler.schedule import parse_frequency

NEW_YORK = "America/New_York"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"
SANTIAGO = "America/Santiago"


def local_fires(text: str, zone: str, start: str, count: int) -> list[str]:
    """Fires after `start` (an ISO instant) shown as local ISO strings in `zone`."""
    tz = ZoneInfo(zone)
    after = datetime.fromisoformat(start)
    schedule = parse_frequency(text)
    return [f.astimezone(tz).isoformat() for f in schedule.fires(after, zone=tz, limit=count)]


# --- New York -----------------------------------------------------------------------


def test_new_york_daily_fixed_time_in_the_gap_fires_at_3am() -> None:
    assert local_fires("0 30 2 * * ?", NEW_YORK, "2026-03-07T00:00:00Z", 3) == [
        "2026-03-07T02:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_new_york_several_gap_walls_collapse_into_one_fire() -> None:
    assert local_fires("0 0/15 2 * * ?", NEW_YORK, "2026-03-07T12:00:00Z", 3) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:00:00-04:00",
        "2026-03-09T02:15:00-04:00",
    ]
    # A gap wall and the wall right after the gap land on the same instant: one fire.
    assert local_fires("0 0 2,3 * * ?", NEW_YORK, "2026-03-07T12:00:00Z", 3) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:00:00-04:00",
        "2026-03-09T03:00:00-04:00",
    ]


def test_new_york_gap_walls_fire_when_the_search_starts_at_the_gap_end() -> None:
    # The first instant searched is the gap's end itself (a start bound at 07:00Z is
    # searched from a microsecond before it): the gap walls fire right there.
    for start in ("2026-03-08T06:59:59.999999Z", "2026-03-08T06:59:59Z"):
        assert local_fires("0 30 2 * * ?", NEW_YORK, start, 2) == [
            "2026-03-08T03:00:00-04:00",
            "2026-03-09T02:30:00-04:00",
        ]
    assert local_fires("0 30 2 * * ?", NEW_YORK, "2026-03-08T07:00:00Z", 1) == [
        "2026-03-09T02:30:00-04:00",
    ]
    # Interval-like schedules have no gap walls, from there either.
    assert local_fires("0 * 2-3 * * ?", NEW_YORK, "2026-03-08T06:59:59Z", 1) == [
        "2026-03-08T03:00:00-04:00",
    ]


def test_new_york_fixed_time_in_the_overlap_fires_once() -> None:
    assert local_fires("0 30 1 * * ?", NEW_YORK, "2026-10-31T12:00:00Z", 2) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_new_york_fixed_time_started_in_the_first_pass() -> None:
    # 05:10Z is 01:10 EDT, the first pass.
    assert local_fires("0 0/20 1 * * ?", NEW_YORK, "2026-11-01T05:10:00Z", 3) == [
        "2026-11-01T01:20:00-04:00",
        "2026-11-01T01:40:00-04:00",
        "2026-11-02T01:00:00-05:00",
    ]


def test_new_york_fixed_time_started_in_the_second_pass() -> None:
    # 06:10Z is 01:10 EST, the second pass: 01:20 and 01:40 already fired.
    assert local_fires("0 0/20 1 * * ?", NEW_YORK, "2026-11-01T06:10:00Z", 2) == [
        "2026-11-02T01:00:00-05:00",
        "2026-11-02T01:20:00-05:00",
    ]


def test_new_york_interval_like_fires_in_both_passes() -> None:
    assert local_fires("0 */30 * * * ?", NEW_YORK, "2026-11-01T04:45:00Z", 5) == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_new_york_interval_like_started_in_the_first_pass() -> None:
    assert local_fires("0 */30 * * * ?", NEW_YORK, "2026-11-01T05:15:00Z", 4) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]
    # At the very end of the first pass, the second pass comes next.
    assert local_fires("0 */30 * * * ?", NEW_YORK, "2026-11-01T05:45:00Z", 2) == [
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T01:30:00-05:00",
    ]


def test_new_york_interval_like_started_in_the_second_pass() -> None:
    assert local_fires("0 */30 * * * ?", NEW_YORK, "2026-11-01T06:15:00Z", 2) == [
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


def test_new_york_interval_like_skips_the_gap() -> None:
    assert local_fires("0 */30 * * * ?", NEW_YORK, "2026-03-08T06:15:00Z", 3) == [
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:30:00-04:00",
    ]


def test_new_york_hour_star_is_interval_like_too() -> None:
    assert local_fires("0 30 * * * ?", NEW_YORK, "2026-11-01T04:00:00Z", 4) == [
        "2026-11-01T00:30:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:30:00-05:00",
        "2026-11-01T02:30:00-05:00",
    ]
    assert local_fires("0 30 * * * ?", NEW_YORK, "2026-03-08T06:00:00Z", 2) == [
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:30:00-04:00",
    ]


# --- London -------------------------------------------------------------------------


def test_london_spring_forward() -> None:
    assert local_fires("0 30 1 * * ?", LONDON, "2026-03-28T00:00:00Z", 3) == [
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T02:00:00+01:00",
        "2026-03-30T01:30:00+01:00",
    ]
    assert local_fires("0 */30 * * * ?", LONDON, "2026-03-29T00:15:00Z", 3) == [
        "2026-03-29T00:30:00+00:00",
        "2026-03-29T02:00:00+01:00",
        "2026-03-29T02:30:00+01:00",
    ]


def test_london_fall_back() -> None:
    assert local_fires("0 30 1 * * ?", LONDON, "2026-10-24T12:00:00Z", 2) == [
        "2026-10-25T01:30:00+01:00",
        "2026-10-26T01:30:00+00:00",
    ]
    assert local_fires("0 */30 * * * ?", LONDON, "2026-10-24T23:45:00Z", 5) == [
        "2026-10-25T01:00:00+01:00",
        "2026-10-25T01:30:00+01:00",
        "2026-10-25T01:00:00+00:00",
        "2026-10-25T01:30:00+00:00",
        "2026-10-25T02:00:00+00:00",
    ]


# --- Lord Howe: half-hour transitions ---------------------------------------------


def test_lord_howe_overlap_of_thirty_minutes() -> None:
    assert local_fires("0 45 1 * * ?", LORD_HOWE, "2026-04-04T00:00:00Z", 2) == [
        "2026-04-05T01:45:00+11:00",
        "2026-04-06T01:45:00+10:30",
    ]
    assert local_fires("0 */15 * * * ?", LORD_HOWE, "2026-04-04T14:20:00Z", 5) == [
        "2026-04-05T01:30:00+11:00",
        "2026-04-05T01:45:00+11:00",
        "2026-04-05T01:30:00+10:30",
        "2026-04-05T01:45:00+10:30",
        "2026-04-05T02:00:00+10:30",
    ]
    # Started in the second pass, a fixed-time schedule waits for the next day.
    assert local_fires("0 45 1 * * ?", LORD_HOWE, "2026-04-04T15:10:00Z", 1) == [
        "2026-04-06T01:45:00+10:30",
    ]


def test_lord_howe_gap_of_thirty_minutes() -> None:
    assert local_fires("0 15 2 * * ?", LORD_HOWE, "2026-10-02T12:00:00Z", 3) == [
        "2026-10-03T02:15:00+10:30",
        "2026-10-04T02:30:00+11:00",
        "2026-10-05T02:15:00+11:00",
    ]
    assert local_fires("0 */15 * * * ?", LORD_HOWE, "2026-10-03T15:10:00Z", 3) == [
        "2026-10-04T01:45:00+10:30",
        "2026-10-04T02:30:00+11:00",
        "2026-10-04T02:45:00+11:00",
    ]


# --- Santiago: transitions at midnight --------------------------------------------


def test_santiago_fall_back_at_midnight() -> None:
    assert local_fires("0 30 23 * * ?", SANTIAGO, "2026-04-04T12:00:00Z", 2) == [
        "2026-04-04T23:30:00-03:00",
        "2026-04-05T23:30:00-04:00",
    ]
    assert local_fires("0 0 0 * * ?", SANTIAGO, "2026-04-03T12:00:00Z", 2) == [
        "2026-04-04T00:00:00-03:00",
        "2026-04-05T00:00:00-04:00",
    ]
    assert local_fires("0 30 * * * ?", SANTIAGO, "2026-04-05T02:00:00Z", 4) == [
        "2026-04-04T23:30:00-03:00",
        "2026-04-04T23:30:00-04:00",
        "2026-04-05T00:30:00-04:00",
        "2026-04-05T01:30:00-04:00",
    ]


def test_santiago_spring_forward_skips_midnight() -> None:
    # Midnight of 2026-09-06 does not exist: the daily fire moves to 01:00.
    assert local_fires("0 0 0 * * ?", SANTIAGO, "2026-09-04T12:00:00Z", 3) == [
        "2026-09-05T00:00:00-04:00",
        "2026-09-06T01:00:00-03:00",
        "2026-09-07T00:00:00-03:00",
    ]
    assert local_fires("0 0 * * * ?", SANTIAGO, "2026-09-06T02:30:00Z", 3) == [
        "2026-09-05T23:00:00-04:00",
        "2026-09-06T01:00:00-03:00",
        "2026-09-06T02:00:00-03:00",
    ]


# --- zones without DST and the zone precedence ------------------------------------


@pytest.mark.parametrize("token", ["GMT-5:00", "UTC-5", "GMT-05:00"])
def test_fixed_offsets_have_no_dst(token: str) -> None:
    assert local_fires(f"0 30 2 * * ? {token}", NEW_YORK, "2026-03-07T12:00:00Z", 2) == [
        "2026-03-08T03:30:00-04:00",  # 02:30 at UTC-5 is 07:30Z whatever New York does
        "2026-03-09T03:30:00-04:00",
    ]


def test_own_zone_wins_over_the_instance_zone() -> None:
    # The instance is in New York, but the expression says Asia/Shanghai.
    assert local_fires("0 0 9 * * ? Asia/Shanghai", NEW_YORK, "2026-01-01T00:00:00Z", 1) == [
        "2025-12-31T20:00:00-05:00"  # 09:00 in Shanghai is 01:00Z
    ]
    # Zone-less cron without an instance zone is UTC.
    schedule = parse_frequency("0 0 9 * * ?")
    fire = schedule.next_fire(datetime.fromisoformat("2026-01-01T00:00:00Z"))
    assert fire is not None and fire.isoformat() == "2026-01-01T09:00:00+00:00"


def test_at_in_a_gap_and_an_overlap_follows_the_fixed_time_rule() -> None:
    gap = parse_frequency("at(2026-03-08 02:30:00 America/New_York)")
    overlap = parse_frequency("at(2026-11-01 01:30:00 America/New_York)")
    after = datetime.fromisoformat("2026-01-01T00:00:00Z")
    assert [f.isoformat() for f in gap.fires(after)] == ["2026-03-08T07:00:00+00:00"]
    assert [f.isoformat() for f in overlap.fires(after)] == ["2026-11-01T05:30:00+00:00"]
