"""Every cron example of the seed documents, with the meaning they state.

Source: ../shared/seeds/ecs-ops-and-monitoring.zh.txt, "Cron表达式取值示例" and
"Cron表达式特殊字符". Each case lists the first fires after a fixed instant,
derived by hand from the stated meaning (quoted, translated).
"""

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.schedule import ErrorCode, ScheduleError, parse_frequency

START = datetime(2026, 3, 1, tzinfo=UTC)  # a Sunday


def fires(text: str, count: int, after: datetime = START) -> list[str]:
    schedule = parse_frequency(text)
    return [f.strftime("%Y-%m-%d %H:%M:%S") for f in schedule.fires(after, limit=count)]


DAILY_1015 = ["2026-03-01 10:15:00", "2026-03-02 10:15:00", "2026-03-03 10:15:00"]


@pytest.mark.parametrize(
    ("text", "meaning", "expected"),
    [
        ("0 15 10 ? * *", "every day at 10:15", DAILY_1015),
        ("0 15 10 * * ?", "every day at 10:15", DAILY_1015),
        ("0 15 10 * * ? *", "every day at 10:15", DAILY_1015),
        (
            "0 0 12 * * ?",
            "every day at 12:00",
            ["2026-03-01 12:00:00", "2026-03-02 12:00:00"],
        ),
        (
            "0 0 10,14,16 * * ?",
            "every day at 10:00, 14:00 and 16:00",
            [
                "2026-03-01 10:00:00",
                "2026-03-01 14:00:00",
                "2026-03-01 16:00:00",
                "2026-03-02 10:00:00",
            ],
        ),
        (
            "0 0/30 9-17 * * ?",
            "every half hour from 09:00 to 17:00",
            ["2026-03-01 09:00:00", "2026-03-01 09:30:00"]
            + [f"2026-03-01 {h}:{m}:00" for h in range(10, 18) for m in ("00", "30")]
            + ["2026-03-02 09:00:00"],
        ),
        (
            "0 * 14 * * ?",
            "every minute from 14:00 to 14:59",
            [f"2026-03-01 14:{m:02d}:00" for m in range(60)] + ["2026-03-02 14:00:00"],
        ),
        (
            "0 0-5 14 * * ?",
            "every minute from 14:00 to 14:05",
            [f"2026-03-01 14:0{m}:00" for m in range(6)] + ["2026-03-02 14:00:00"],
        ),
        (
            "0 0/5 14 * * ?",
            "every 5 minutes from 14:00 to 14:55",
            [f"2026-03-01 14:{m:02d}:00" for m in range(0, 60, 5)] + ["2026-03-02 14:00:00"],
        ),
        (
            "0 0/5 14,18 * * ?",
            "every 5 minutes 14:00-14:55 and 18:00-18:55",
            [f"2026-03-01 {h}:{m:02d}:00" for h in (14, 18) for m in range(0, 60, 5)]
            + ["2026-03-02 14:00:00"],
        ),
        (
            "0 0 12 ? * WED",
            "every Wednesday at 12:00",
            ["2026-03-04 12:00:00", "2026-03-11 12:00:00"],
        ),
        (
            "0 15 10 ? * MON-FRI",
            "Monday to Friday at 10:15",
            [f"2026-03-{d:02d} 10:15:00" for d in (2, 3, 4, 5, 6, 9)],
        ),
        (
            "0 0 2 1 * ? *",
            "the 1st of every month at 02:00",
            ["2026-03-01 02:00:00", "2026-04-01 02:00:00", "2026-05-01 02:00:00"],
        ),
        (
            "0 15 10 15 * ?",
            "the 15th of every month at 10:15",
            ["2026-03-15 10:15:00", "2026-04-15 10:15:00"],
        ),
        (
            "0 15 10 L * ?",
            "the last day of every month at 10:15",
            ["2026-03-31 10:15:00", "2026-04-30 10:15:00", "2026-05-31 10:15:00"],
        ),
        (
            "0 15 10 ? * 6L",
            "the last Friday of every month at 10:15",
            ["2026-03-27 10:15:00", "2026-04-24 10:15:00", "2026-05-29 10:15:00"],
        ),
        (
            "0 15 10 ? * 6#3",
            "the third Friday of every month at 10:15",
            ["2026-03-20 10:15:00", "2026-04-17 10:15:00", "2026-05-15 10:15:00"],
        ),
        (
            "0 10,44 14 ? 3 WED",
            "every Wednesday in March at 14:10 and 14:44",
            [
                "2026-03-04 14:10:00",
                "2026-03-04 14:44:00",
                "2026-03-11 14:10:00",
                "2026-03-11 14:44:00",
                "2026-03-18 14:10:00",
                "2026-03-18 14:44:00",
                "2026-03-25 14:10:00",
                "2026-03-25 14:44:00",
                "2027-03-03 14:10:00",
            ],
        ),
        # "4#2 means the second Wednesday of the month" (special characters section).
        ("0 0 12 ? * 4#2", "the second Wednesday", ["2026-03-11 12:00:00", "2026-04-08 12:00:00"]),
    ],
)
def test_seed_example(text: str, meaning: str, expected: list[str]) -> None:
    assert fires(text, len(expected)) == expected, meaning


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("0 15 10 ? * 6L 2002-2005", (2002, 2005)),
        ("0 15 10 ? * 6L 2002-2006", (2002, 2006)),
    ],
)
def test_seed_last_friday_over_a_year_range(text: str, years: tuple[int, int]) -> None:
    all_fires = list(parse_frequency(text).fires(datetime(2000, 1, 1, tzinfo=UTC)))
    # One fire a month, every month of the range, each the month's last Friday at 10:15.
    assert len(all_fires) == 12 * (years[1] - years[0] + 1)
    assert all_fires[0] == datetime(2002, 1, 25, 10, 15, tzinfo=UTC)
    for fire in all_fires:
        assert fire.weekday() == 4 and (fire + timedelta(days=7)).month != fire.month
        assert (fire.hour, fire.minute) == (10, 15)
    assert all_fires[-1].year == years[1]


def test_seed_2005_every_day() -> None:
    all_fires = list(parse_frequency("0 15 10 * * ? 2005").fires(datetime(2004, 1, 1, tzinfo=UTC)))
    assert len(all_fires) == 365
    assert all_fires[0] == datetime(2005, 1, 1, 10, 15, tzinfo=UTC)
    assert all_fires[-1] == datetime(2005, 12, 31, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("month_start", "expected"),
    [
        # "5W: if the 5th is a Saturday, fire on Friday the 4th" (2026-09-05 is a Saturday).
        (datetime(2026, 9, 1, tzinfo=UTC), "2026-09-04 12:00:00"),
        # "if the 5th is a Sunday, fire on Monday the 6th" (2026-04-05 is a Sunday).
        (datetime(2026, 4, 1, tzinfo=UTC), "2026-04-06 12:00:00"),
        # "if the 5th is a weekday, fire on the 5th" (2026-03-05 is a Thursday).
        (datetime(2026, 3, 1, tzinfo=UTC), "2026-03-05 12:00:00"),
    ],
)
def test_seed_5w(month_start: datetime, expected: str) -> None:
    assert fires("0 0 12 5W * ?", 1, month_start) == [expected]


def test_seed_lw_is_the_last_weekday_of_the_month() -> None:
    # 2026-01-31 is a Saturday, 2026-05-31 a Sunday.
    assert fires("0 0 12 LW * ?", 5, datetime(2026, 1, 1, tzinfo=UTC)) == [
        "2026-01-30 12:00:00",
        "2026-02-27 12:00:00",
        "2026-03-31 12:00:00",
        "2026-04-30 12:00:00",
        "2026-05-29 12:00:00",
    ]


def test_seed_l_in_day_of_week_is_saturday() -> None:
    assert parse_frequency("0 0 12 ? * L") == parse_frequency("0 0 12 ? * SAT")


def test_seed_five_field_example_is_refused_naming_the_missing_seconds() -> None:
    # The API chapter shows "0 */20 * * *" for "every 20 minutes": a crontab
    # line without seconds, which SPEC §5 turns into a precise error.
    with pytest.raises(ScheduleError) as caught:
        parse_frequency("0 */20 * * *")
    assert caught.value.code == ErrorCode.INVALID_CRON
    assert "seconds field is missing" in str(caught.value)
    assert fires("0 0 */20 * * ?", 2) == ["2026-03-01 20:00:00", "2026-03-02 00:00:00"]
    assert fires("0 */20 * * * ?", 2) == ["2026-03-01 00:20:00", "2026-03-01 00:40:00"]
