"""The exact 10-second minimum interval, `min_interval()`, rate grids and descriptions."""

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.schedule import ErrorCode, ScheduleError, parse_frequency


def too_short(text: str) -> str:
    with pytest.raises(ScheduleError) as caught:
        parse_frequency(text)
    assert caught.value.code == ErrorCode.INTERVAL_TOO_SHORT
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0,5 * * * * ?", "5s apart (00:00:00 and 00:00:05)"),
        ("0,59 * * * * ?", "1s apart (00:00:59 and 00:01:00)"),
        ("* * * * * ?", "1s apart"),
        ("*/9 * * * * ?", "9s apart"),
        ("0/5 0 12 * * ?", "5s apart"),
        ("0,55 0-1 12 * * ?", "5s apart (12:00:55 and 12:01:00)"),
        ("0,55 0,59 12-13 * * ?", "5s apart (12:59:55 and 13:00:00)"),
    ],
)
def test_refused_when_two_fires_can_be_under_10s_apart(text: str, message: str) -> None:
    assert message.split(" (")[0] in too_short(text)
    assert "the minimum interval is 10s" in too_short(text)


def test_the_day_boundary_is_checked_exactly() -> None:
    # 23:59:55 and 00:00:00 are 5 s apart, but only on consecutive matching days.
    assert "23:59:55 and 00:00:00 the next day" in too_short("0,55 0,59 0,23 * * ?")
    assert "5s apart" in too_short("0,55 0,59 0,23 ? * MON,TUE")
    # Mondays and Wednesdays are never consecutive: accepted (closest: :00 and :55).
    assert parse_frequency("0,55 0,59 0,23 ? * MON,WED").min_interval() == timedelta(seconds=55)
    assert parse_frequency("0 0,59 0,23 ? * MON,WED").min_interval() == timedelta(minutes=59)
    # The 31st and the 1st of the next month are consecutive days; last days are not.
    too_short("0,55 0,59 0,23 1,31 * ?")
    assert parse_frequency("0,55 0,59 0,23 L * ?").min_interval() == timedelta(seconds=55)


@pytest.mark.parametrize(
    ("text", "smallest"),
    [
        ("0/10 * * * * ?", timedelta(seconds=10)),
        ("0,10 * * * * ?", timedelta(seconds=10)),
        ("0,50 * * * * ?", timedelta(seconds=10)),
        ("0 * * * * ?", timedelta(minutes=1)),
        ("0 */20 * * * ?", timedelta(minutes=20)),
        ("0 0 10,14,16 * * ?", timedelta(hours=2)),
        ("0 0 0,23 * * ?", timedelta(hours=1)),
        ("0 15 10 * * ?", timedelta(days=1)),
        ("0 0 12 ? * MON-FRI", timedelta(days=1)),
        ("0 0 12 ? * MON,THU", timedelta(days=3)),
        ("0 0 12 ? * WED", timedelta(days=7)),
        ("0 15 10 ? * 6L", timedelta(days=28)),
        ("0 15 10 L * ?", timedelta(days=28)),
        ("0 0 0 29 2 ?", timedelta(days=4 * 365 + 1)),
        ("0 0 0 1 1 ? 2030,2040", timedelta(days=3652)),
        ("0 10,44 14 ? 3 WED", timedelta(minutes=34)),
    ],
)
def test_min_interval_is_exact(text: str, smallest: timedelta) -> None:
    assert parse_frequency(text).min_interval() == smallest


def test_single_fire_has_no_interval() -> None:
    assert parse_frequency("0 0 0 1 1 ? 2030").min_interval() is None
    assert parse_frequency("at(2030-01-01 00:00:00)").min_interval() is None


def test_rate_grid_is_anchored_at_creation() -> None:
    anchor = datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC)
    schedule = parse_frequency("rate(5m)", anchor=anchor)
    assert schedule.min_interval() == timedelta(minutes=5)
    # First fire is anchor + interval, whatever `after` before it.
    assert schedule.next_fire(anchor) == anchor + timedelta(minutes=5)
    assert schedule.next_fire(anchor - timedelta(days=3)) == anchor + timedelta(minutes=5)
    # On the grid: strictly after, so a fire time gives the following one.
    fire = anchor + timedelta(minutes=15)
    assert schedule.next_fire(fire) == anchor + timedelta(minutes=20)
    assert schedule.next_fire(fire - timedelta(microseconds=1)) == fire
    assert list(schedule.fires(anchor, limit=3)) == [
        anchor + timedelta(minutes=m) for m in (5, 10, 15)
    ]


def test_rate_without_anchor_starts_at_after() -> None:
    schedule = parse_frequency("rate(90s)")
    after = datetime(2026, 5, 5, 12, 0, 0, 500, tzinfo=UTC)
    assert schedule.next_fire(after) == after + timedelta(seconds=90)
    assert list(schedule.fires(after, limit=2))[1] == after + timedelta(seconds=180)


def test_rate_ignores_dst() -> None:
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    anchor = datetime(2026, 3, 7, 12, tzinfo=ny)
    fires = list(parse_frequency("rate(1d)", anchor=anchor).fires(anchor, zone=ny, limit=2))
    # 24 h of real time: across the spring-forward night the wall clock says 13:00.
    assert fires[1] - fires[0] == timedelta(days=1)
    assert fires[1].astimezone(ny).hour == 13
    assert all(f.tzinfo == UTC for f in fires)


def test_rate_anchor_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_frequency("rate(5m)", anchor=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("text", "description"),
    [
        (
            "0 15 10 ? * 6L 2002-2005 Asia/Shanghai",
            "at 10:15:00 on the last Friday of every month, 2002–2005, Asia/Shanghai",
        ),
        ("0 15 10 * * ?", "at 10:15:00 every day"),
        ("0 0 10,14,16 * * ?", "at 10:00:00, 14:00:00 and 16:00:00 every day"),
        ("0 0/30 9-17 * * ?", "every 30 minutes of hours 9 through 17"),
        ("0 * 14 * * ?", "every minute of hour 14"),
        ("0 0-5 14 * * ?", "at minutes 0 through 5 of hour 14 every day"),
        ("0 10,44 14 ? 3 WED", "at 14:10:00 and 14:44:00 on Wednesday in March"),
        ("0 15 10 ? * MON-FRI", "at 10:15:00 on Monday through Friday"),
        ("0 15 10 L * ?", "at 10:15:00 on the last day of every month"),
        ("0 15 10 L-3 * ?", "at 10:15:00 on the day 3 days before the last day of every month"),
        ("0 15 10 15W * ?", "at 10:15:00 on the weekday nearest day 15 of every month"),
        ("0 15 10 LW * ?", "at 10:15:00 on the last weekday of every month"),
        ("0 15 10 ? * 6#3", "at 10:15:00 on the third Friday of every month"),
        ("0 0 2 1 * ? *", "at 02:00:00 on day 1 of every month"),
        ("0 15 10 * * ? 2005", "at 10:15:00 every day, in 2005"),
        ("*/10 * * * * ?", "every 10 seconds"),
        ("0 */5 * * * ?", "every 5 minutes"),
        ("0 0 * * * ? GMT+8:00", "every hour, GMT+8:00"),
        (
            "30 0 */2 ? JAN,JUL *",
            "at second 30 of minute 0 of every 2 hours every day in January and July",
        ),
        ("rate(5m)", "every 5 minutes"),
        ("rate(1d)", "every day"),
        (
            "at(2026-05-01 09:30:00 Asia/Shanghai)",
            "once at 2026-05-01 09:30:00 Asia/Shanghai (2026-05-01T01:30:00Z)",
        ),
        ("at(2026-05-01 09:30:00)", "once at 2026-05-01 09:30:00 UTC"),
    ],
)
def test_descriptions(text: str, description: str) -> None:
    assert parse_frequency(text).describe() == description
