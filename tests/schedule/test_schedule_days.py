"""Day forms (`L`, `L-n`, `W`, `LW`, `nL`, `#`), leap years, year ranges, exhaustion."""

from datetime import UTC, date, datetime

import pytest

from scheduler.schedule import parse_frequency


def days(text: str, start: str, count: int) -> list[str]:
    """The dates (yyyy-mm-dd) of the next `count` fires after `start` (UTC)."""
    after = datetime.fromisoformat(start).replace(tzinfo=UTC)
    return [f.date().isoformat() for f in parse_frequency(text).fires(after, limit=count)]


def test_last_day_of_month_including_leap_february() -> None:
    assert days("0 0 12 L * ?", "2024-01-01", 4) == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
    ]
    assert days("0 0 12 L 2 ?", "2099-01-01", 2) == ["2099-02-28"]
    # 2000 is a leap year (divisible by 400), 2100 is out of range anyway.
    assert days("0 0 12 L 2 ?", "1999-12-31", 2) == ["2000-02-29", "2001-02-28"]


def test_l_minus_n() -> None:
    assert days("0 0 12 L-3 * ?", "2023-01-01", 3) == ["2023-01-28", "2023-02-25", "2023-03-28"]
    assert days("0 0 12 L-3 * ?", "2024-02-01", 1) == ["2024-02-26"]
    # L-30 needs a 31-day month: a month shorter than n+1 days has no fire.
    assert days("0 0 12 L-30 * ?", "2026-02-01", 3) == ["2026-03-01", "2026-05-01", "2026-07-01"]
    assert days("0 0 12 L-28 2 ?", "2023-01-01", 2) == ["2024-02-01", "2028-02-01"]


def test_nearest_weekday() -> None:
    # 2026-08-15 is a Saturday -> Friday 14th; 2026-11-15 a Sunday -> Monday 16th.
    assert days("0 0 12 15W * ?", "2026-08-01", 4) == [
        "2026-08-14",
        "2026-09-15",
        "2026-10-15",
        "2026-11-16",
    ]


def test_1w_on_a_saturday_moves_forward_to_monday_the_3rd() -> None:
    # 2026-08-01 is a Saturday: Friday would be July, so W never leaves the month.
    assert date(2026, 8, 1).weekday() == 5
    assert days("0 0 12 1W * ?", "2026-07-31", 2) == ["2026-08-03", "2026-09-01"]


def test_last_day_sunday_moves_back_to_friday() -> None:
    # 2026-05-31 is a Sunday: 31W is Friday the 29th, never June 1st.
    assert days("0 0 12 31W * ?", "2026-05-01", 1) == ["2026-05-29"]


def test_31w_skips_months_without_a_31st() -> None:
    assert days("0 0 12 31W * ?", "2026-04-01", 3) == ["2026-05-29", "2026-07-31", "2026-08-31"]


def test_last_weekday_and_l_minus_n_weekday() -> None:
    # 2026-05-31 Sunday -> LW Friday 29th; 2026-10-31 Saturday -> Friday 30th.
    assert days("0 0 12 LW * ?", "2026-05-01", 6) == [
        "2026-05-29",
        "2026-06-30",
        "2026-07-31",
        "2026-08-31",
        "2026-09-30",
        "2026-10-30",
    ]
    # L-2W in January 2026: base day 29 (Thursday).
    assert days("0 0 12 L-2W * ?", "2026-01-01", 1) == ["2026-01-29"]
    # L-3W in February 2026: base day 25 (Wednesday); March base 28 is a Saturday -> 27th.
    assert days("0 0 12 L-3W * ?", "2026-02-01", 2) == ["2026-02-25", "2026-03-27"]


def test_last_friday() -> None:
    assert days("0 15 10 ? * 6L", "2026-01-01", 3) == ["2026-01-30", "2026-02-27", "2026-03-27"]


def test_third_friday() -> None:
    assert days("0 15 10 ? * 6#3", "2026-01-01", 3) == ["2026-01-16", "2026-02-20", "2026-03-20"]


def test_fifth_monday_only_in_months_that_have_one() -> None:
    # 2026: March, June, August and November have five Mondays.
    assert days("0 0 12 ? * 2#5", "2026-01-01", 4) == [
        "2026-03-30",
        "2026-06-29",
        "2026-08-31",
        "2026-11-30",
    ]
    # February has a fifth Monday only in a leap year whose Feb 1st is a Monday.
    assert days("0 0 12 ? 2 2#5", "2000-01-01", 2) == ["2016-02-29", "2044-02-29"]


def test_l_alone_in_day_of_week_is_saturday() -> None:
    assert days("0 0 12 ? * L", "2026-01-01", 2) == ["2026-01-03", "2026-01-10"]


def test_day_of_week_numbers_start_on_sunday() -> None:
    assert days("0 0 12 ? * 1", "2026-01-01", 1) == ["2026-01-04"]  # a Sunday
    assert days("0 0 12 ? * 7", "2026-01-01", 1) == ["2026-01-03"]  # a Saturday
    assert days("0 0 12 ? * 2-6", "2026-01-02", 3) == ["2026-01-02", "2026-01-05", "2026-01-06"]


def test_wrap_around_weekdays_and_months() -> None:
    assert days("0 0 12 ? * FRI-MON", "2026-01-01", 5) == [
        "2026-01-02",
        "2026-01-03",
        "2026-01-04",
        "2026-01-05",
        "2026-01-09",
    ]
    assert days("0 0 12 1 NOV-FEB ?", "2026-03-01", 4) == [
        "2026-11-01",
        "2026-12-01",
        "2027-01-01",
        "2027-02-01",
    ]


def test_day_31_skips_short_months() -> None:
    assert days("0 0 12 31 * ?", "2026-01-31T12:00:00", 2) == ["2026-03-31", "2026-05-31"]


def test_february_29_only_in_leap_years() -> None:
    assert days("0 0 0 29 2 ?", "2025-01-01", 3) == ["2028-02-29", "2032-02-29", "2036-02-29"]


def test_year_range_ends_and_the_schedule_is_exhausted() -> None:
    assert days("0 15 10 ? * 6L 2002-2005", "2005-10-01", 5) == [
        "2005-10-28",
        "2005-11-25",
        "2005-12-30",
    ]
    schedule = parse_frequency("0 15 10 * * ? 2005")
    assert schedule.next_fire(datetime(2005, 12, 31, 10, 15, tzinfo=UTC)) is None
    assert schedule.next_fire(datetime(2004, 6, 1, tzinfo=UTC)) == datetime(
        2005, 1, 1, 10, 15, tzinfo=UTC
    )


def test_year_lists_and_steps() -> None:
    assert days("0 0 0 1 1 ? 2030,2040/20", "2020-01-01", 5) == [
        "2030-01-01",
        "2040-01-01",
        "2060-01-01",
        "2080-01-01",
    ]


def test_after_2099_nothing_fires() -> None:
    schedule = parse_frequency("0 0 0 * * ?")
    assert schedule.next_fire(datetime(2099, 12, 31, tzinfo=UTC)) is None
    assert schedule.next_fire(datetime(2150, 1, 1, tzinfo=UTC)) is None
    assert schedule.next_fire(datetime.max.replace(tzinfo=UTC)) is None
    # And before 1970 the first fire is 1970's first matching time, in local time.
    assert schedule.next_fire(datetime(1960, 1, 1, tzinfo=UTC)) == datetime(1970, 1, 1, tzinfo=UTC)
    tokyo = parse_frequency("0 0 0 * * ? Asia/Tokyo")
    assert tokyo.next_fire(datetime.min.replace(tzinfo=UTC)) == datetime(
        1969, 12, 31, 15, tzinfo=UTC
    )


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "GMT+14:00"])
def test_local_year_2100_is_out_of_range_even_if_utc_is_still_2099(zone: str) -> None:
    schedule = parse_frequency(f"0 0 12 * * ? {zone}")
    # 2099-12-31 12:00 in UTC+14 is 2099-12-30 22:00 UTC: the last fire.
    last = datetime(2099, 12, 30, 22, tzinfo=UTC)
    assert schedule.next_fire(datetime(2099, 12, 30, tzinfo=UTC)) == last
    assert schedule.next_fire(last) is None


def test_after_with_microseconds_and_other_zones() -> None:
    schedule = parse_frequency("0 0 12 * * ?")
    fire = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert schedule.next_fire(datetime(2026, 1, 1, 11, 59, 59, 999999, tzinfo=UTC)) == fire
    assert schedule.next_fire(fire) == datetime(2026, 1, 2, 12, tzinfo=UTC)
    # `after` may be given in any zone; the result is always UTC.
    from zoneinfo import ZoneInfo

    tokyo = datetime(2026, 1, 1, 20, 59, tzinfo=ZoneInfo("Asia/Tokyo"))
    result = schedule.next_fire(tokyo)
    assert result == fire and result is not None and result.tzinfo == UTC


def test_naive_after_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_frequency("0 0 12 * * ?").next_fire(datetime(2026, 1, 1))
