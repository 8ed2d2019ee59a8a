"""Parsing: every valid form of SPEC §5 accepted, every invalid one refused precisely."""

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.schedule import (
    AtSchedule,
    CronSchedule,
    ErrorCode,
    RateSchedule,
    ScheduleError,
    parse_frequency,
)


def cron(text: str) -> CronSchedule:
    schedule = parse_frequency(text)
    assert isinstance(schedule, CronSchedule)
    return schedule


def refused(text: str) -> ScheduleError:
    with pytest.raises(ScheduleError) as caught:
        parse_frequency(text)
    return caught.value


# --- field grammar ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "values"),
    [
        ("*", tuple(range(60))),
        ("5", (5,)),
        ("05", (5,)),
        ("00", (0,)),
        ("5,20", (5, 20)),
        ("5-8", (5, 6, 7, 8)),
        ("0/15", (0, 15, 30, 45)),
        ("3/20", (3, 23, 43)),
        ("10-50/7", (10, 17, 24, 31, 38, 45)),
        ("*/20", (0, 20, 40)),
        ("50-5", (0, 1, 2, 3, 4, 5, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59)),
        ("50-5/4", (2, 50, 54, 58)),
        ("5,0-2/2,40", (0, 2, 5, 40)),
    ],
)
def test_minute_field_values(token: str, values: tuple[int, ...]) -> None:
    assert cron(f"0 {token} 12 * * ?").minutes == values


def test_wrap_around_ranges_in_every_field() -> None:
    assert cron("0 0 22-2 * * ?").hours == (0, 1, 2, 22, 23)
    assert cron("0 0 20-4/3 * * ?").hours == (2, 20, 23)
    assert cron("0 0 12 ? * FRI-MON").days == cron("0 0 12 ? * 1,2,6,7").days
    assert cron("0 0 12 ? NOV-FEB *").months == (1, 2, 11, 12)
    assert cron("0 0 12 28-2 * ?").days == cron("0 0 12 1,2,28,29,30,31 * ?").days


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("0 0 12 ? jan,Mar * ", "0 0 12 ? 1,3 *"),
        ("0 0 12 ? * sun", "0 0 12 ? * 1"),
        ("0 0 12 ? * MON-FRI", "0 0 12 ? * 2-6"),
        ("0 0 12 ? * l", "0 0 12 ? * 7"),
        ("0 0 12 ? * L", "0 0 12 ? * SAT"),
        ("0 0 12 ? * 6l", "0 0 12 ? * FRIL"),
        ("0 0 12 ? * FRI#3", "0 0 12 ? * 6#3"),
        ("0 0 12 lw * ?", "0 0 12 LW * ?"),
        ("0 0 12 15w * ?", "0 0 12 15W * ?"),
        ("0 0 12 * * ?", "0 0 12 ? * *"),
        ("0 0 12 * * *", "0 0 12 ? * ?".replace("? * ?", "* * ?")),
        ("0 0 12 L-0 * ?", "0 0 12 L * ?"),
    ],
)
def test_equivalent_spellings(text: str, same_as: str) -> None:
    assert parse_frequency(text) == parse_frequency(same_as)


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("0 */20 * * *", ErrorCode.INVALID_CRON, "got 5: the seconds field is missing"),
        ("0 0 12 * *", ErrorCode.INVALID_CRON, "seconds field is missing"),
        ("0 0 12 * * ? 2026 UTC extra", ErrorCode.INVALID_CRON, "expected 6 to 8 fields"),
        ("0 0 12", ErrorCode.INVALID_CRON, "got 3"),
        ("", ErrorCode.INVALID_CRON, "empty"),
        ("every 5 minutes", ErrorCode.INVALID_CRON, "is not rate(<n><s|m|h|d>), at("),
        ("0 0 12 ? * 8", ErrorCode.INVALID_CRON, "day-of-week: '8' is out of range 1-7 (1 = SUN)"),
        ("0 0 12 ? * 0", ErrorCode.INVALID_CRON, "day-of-week: '0' is out of range 1-7"),
        ("60 0 12 * * ?", ErrorCode.INVALID_CRON, "second: '60' is out of range 0-59"),
        ("0 60 12 * * ?", ErrorCode.INVALID_CRON, "minute: '60' is out of range 0-59"),
        ("0 0 24 * * ?", ErrorCode.INVALID_CRON, "hour: '24' is out of range 0-23"),
        ("0 0 12 32 * ?", ErrorCode.INVALID_CRON, "day-of-month: '32' is out of range 1-31"),
        ("0 0 12 0 * ?", ErrorCode.INVALID_CRON, "day-of-month: '0' is out of range 1-31"),
        ("0 0 12 * 13 ?", ErrorCode.INVALID_CRON, "month: '13' is out of range 1-12"),
        ("0 0 12 * * ? 1969", ErrorCode.INVALID_CRON, "year: '1969' is out of range 1970-2099"),
        ("0 0 12 * * ? 2100", ErrorCode.INVALID_CRON, "year: '2100' is out of range"),
        ("5x 0 12 * * ?", ErrorCode.INVALID_CRON, "second: '5x' is not a number"),
        ("1.5 0 12 * * ?", ErrorCode.INVALID_CRON, "second: '1.5' is not a number"),
        ("0 1,,2 12 * * ?", ErrorCode.INVALID_CRON, "minute: empty item in list '1,,2'"),
        ("0 1, 12 * * ?", ErrorCode.INVALID_CRON, "minute: empty item"),
        ("0 0 12 ? * MONDAY", ErrorCode.INVALID_CRON, "day-of-week: 'MONDAY' is not a valid"),
        ("0 0 12 ? JANUARY *", ErrorCode.INVALID_CRON, "month: 'JANUARY' is not a valid"),
        ("0 0 12 ? * MON-FRIDAY", ErrorCode.INVALID_CRON, "'FRIDAY' is not a valid"),
        ("0 008 12 * * ?", ErrorCode.INVALID_CRON, "minute: '008' has more than one leading zero"),
        ("*/0 * * * * ?", ErrorCode.INVALID_CRON, "second: step 0 in '*/0' is out of range 1-59"),
        ("*/60 * * * * ?", ErrorCode.INVALID_CRON, "second: step 60 in '*/60' is out of range"),
        ("0 0 */24 * * ?", ErrorCode.INVALID_CRON, "hour: step 24 in '*/24' is out of range 1-23"),
        ("0 0 0 */32 * ?", ErrorCode.INVALID_CRON, "day-of-month: step 32"),
        ("0 0 0 ? */13 *", ErrorCode.INVALID_CRON, "month: step 13"),
        ("0 0 0 ? * */8", ErrorCode.INVALID_CRON, "day-of-week: step 8"),
        ("0 0 12 * * ? 2005-2002", ErrorCode.INVALID_CRON, "year: range '2005-2002' goes back"),
        ("0 0 -5 * * ?", ErrorCode.INVALID_CRON, "hour: range '-5' needs a start and an end"),
        ("0 0 1-2-3 * * ?", ErrorCode.INVALID_CRON, "hour: '2-3' in '1-2-3' is not a number"),
        ("? 0 12 * * ?", ErrorCode.INVALID_CRON, "second: '?' is only allowed in day-of-month"),
        ("0 0 12 ? ? *", ErrorCode.INVALID_CRON, "month: '?' is only allowed"),
        ("0 0 12 ? * ?", ErrorCode.INVALID_CRON, "'?' in both day-of-month and day-of-week"),
        ("0 0 12 5 * MON", ErrorCode.INVALID_CRON, "both restricted; put '?' in one of them"),
        ("0 0 12 L * 6L", ErrorCode.INVALID_CRON, "both restricted"),
        ("0 0 12 1-5W * ?", ErrorCode.INVALID_CRON, "'W' takes a single day"),
        ("0 0 12 1,15W * ?", ErrorCode.INVALID_CRON, "'W' takes a single day"),
        ("0 0 12 W * ?", ErrorCode.INVALID_CRON, "day-of-month: '' in 'W' is not a number"),
        ("0 0 12 32W * ?", ErrorCode.INVALID_CRON, "day-of-month: '32' is out of range"),
        ("0 0 12 1,L * ?", ErrorCode.INVALID_CRON, "'L' takes no list or range"),
        ("0 0 12 L-31 * ?", ErrorCode.INVALID_CRON, "offset 31 in 'L-31' is out of range 0-30"),
        ("0 0 12 LX * ?", ErrorCode.INVALID_CRON, "'LX' is not L, L-n, LW or L-nW"),
        ("0 0 12 5# * ?", ErrorCode.INVALID_CRON, "'#' is only allowed in day-of-week"),
        ("0 0 12 ? * 1-5L", ErrorCode.INVALID_CRON, "'L' takes a single weekday"),
        ("0 0 12 ? * 2,6L", ErrorCode.INVALID_CRON, "'L' takes a single weekday"),
        ("0 0 12 ? * 2-3#2", ErrorCode.INVALID_CRON, "'#' takes a single weekday"),
        ("0 0 12 ? * 6#6", ErrorCode.INVALID_CRON, "'#6' in '6#6' is out of range 1-5"),
        ("0 0 12 ? * 6#0", ErrorCode.INVALID_CRON, "out of range 1-5"),
        ("0 0 12 ? * 8#1", ErrorCode.INVALID_CRON, "day-of-week: '8' is out of range"),
        ("0 0 12 ? * 5W", ErrorCode.INVALID_CRON, "'W' is only allowed in day-of-month"),
        ("0 5L 12 * * ?", ErrorCode.INVALID_CRON, "minute: 'L' is only allowed in the day fields"),
        ("0 0 12# * * ?", ErrorCode.INVALID_CRON, "hour: '#' is only allowed in the day fields"),
        ("0 0 12 * * ? Asia/Shanghai 2026", ErrorCode.INVALID_CRON, "year comes before the zone"),
        ("0 0 12 * * ? 2026 2027", ErrorCode.INVALID_CRON, "'2027' after the year is not a zone"),
        ("0 0 12 * * ? ２０２６", ErrorCode.INVALID_CRON, "is not a number"),
    ],
)
def test_invalid_cron_is_refused_with_a_precise_message(
    text: str, code: ErrorCode, message: str
) -> None:
    error = refused(text)
    assert error.code == code
    assert message in str(error)
    assert isinstance(error, ValueError)


def test_never_firing_expressions_are_syntax_errors() -> None:
    for text in ("0 0 0 30 2 ?", "0 0 12 ? 2 2#5 2027", "0 0 0 31 4,6,9,11 ?", "0 0 0 L-29 2 ?"):
        error = refused(text)
        assert error.code == ErrorCode.NEVER_FIRES, text
        assert "never fires" in str(error)


def test_expression_with_no_future_fire_still_parses() -> None:
    schedule = parse_frequency("0 15 10 ? * 6L 2002-2005")
    assert schedule.next_fire(datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert schedule.next_fire(datetime(2005, 12, 1, tzinfo=UTC)) == datetime(
        2005, 12, 30, 10, 15, tzinfo=UTC
    )


# --- zone tokens -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "name", "offset_hours"),
    [
        ("Asia/Shanghai", "Asia/Shanghai", 8),
        ("asia/shanghai", "Asia/Shanghai", 8),
        ("AMERICA/ARGENTINA/BUENOS_AIRES", "America/Argentina/Buenos_Aires", -3),
        ("UTC", "UTC", 0),
        ("utc", "UTC", 0),
        ("GMT", "UTC", 0),
        ("GMT+8:00", "GMT+8:00", 8),
        ("GMT+08:00", "GMT+8:00", 8),
        ("GMT+8", "GMT+8:00", 8),
        ("UTC+8", "GMT+8:00", 8),
        ("utc-5:30", "GMT-5:30", -5.5),
        ("GMT-12:59", "GMT-12:59", -(12 + 59 / 60)),
        ("GMT+14:59", "GMT+14:59", 14 + 59 / 60),
        ("GMT+0", "UTC", 0),
    ],
)
def test_zone_token_forms(token: str, name: str, offset_hours: float) -> None:
    schedule = cron(f"0 0 12 * * ? {token}")
    assert schedule.zone is not None
    assert schedule.zone.name == name
    after = datetime(2026, 1, 10, tzinfo=UTC)
    noons = (datetime(2026, 1, day, 12, tzinfo=UTC) for day in (9, 10, 11))
    expected = min(
        n - timedelta(hours=offset_hours)
        for n in noons
        if n - timedelta(hours=offset_hours) > after
    )
    assert schedule.next_fire(after) == expected
    # A zone token after a year works the same way.
    assert cron(f"0 0 12 * * ? 2026 {token}").zone == schedule.zone


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("CST", "'CST' is not an Area/Location name"),
        ("EST", "abbreviations and bare offsets are ambiguous"),
        ("PRC", "is not an Area/Location name"),
        ("+08:00", "bare offset '+08:00' is not accepted; write it as GMT+08:00"),
        ("-05:00", "bare offset '-05:00'"),
        ("GMT+15", "out of range GMT-12:59 to GMT+14:59"),
        ("GMT-13:00", "out of range"),
        ("GMT+8:60", "minutes in 'GMT+8:60' must be 00-59"),
        ("GMT+8:5", "is not a valid offset"),
        ("GMT+123", "is not a valid offset"),
        ("Mars/Olympus_Mons", "'Mars/Olympus_Mons' is not a known IANA time zone"),
    ],
)
def test_bad_zone_tokens(token: str, message: str) -> None:
    error = refused(f"0 0 12 * * ? {token}")
    assert message in str(error)
    assert error.code == ErrorCode.INVALID_TIME_ZONE
    assert refused(f"0 0 12 * * ? 2026 {token}").code == ErrorCode.INVALID_TIME_ZONE


# --- canonical form -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("0 15 10 ? * 6L 2002-2005", "0 15 10 ? * 6L 2002-2005"),
        ("0 15 10 * * ? *", "0 15 10 * * ?"),
        ("0 15 10 ? * *", "0 15 10 * * ?"),
        ("0 0/30 9-17 * * ?", "0 0,30 9-17 * * ?"),
        ("0 */20 * * * ?", "0 */20 * * * ?"),
        # A starred field with more items keeps them all (before: "0 */7 * * * ?").
        ("0 */20,7 * * * ?", "0 */20,7 * * * ?"),
        ("0 */5,7 */12,5 * * ?", "0 */5,7 */12,5 * * ?"),
        ("0 7,*/20 * * * ?", "0 0,7,20,40 * * * ?"),  # starred only when it begins with *
        ("0 0-59 3 * * ?", "0 0-59 3 * * ?"),
        ("0/15 0 0 ? * MON-FRI", "0/15 0 0 ? * 2-6"),
        ("0 0 12 ? JAN,FEB,MAR * asia/tokyo", "0 0 12 * 1-3 ? Asia/Tokyo"),
        ("0 0 12 l-3w * ? 2030 utc+5:30", "0 0 12 L-3W * ? 2030 GMT+5:30"),
        ("0 0 12 ? * 4#2", "0 0 12 ? * 4#2"),
        ("0 0 0 1,5,9,13 * ?", "0 0 0 1-13/4 * ?"),
    ],
)
def test_canonical_form(text: str, canonical: str) -> None:
    schedule = parse_frequency(text)
    assert str(schedule) == canonical
    assert parse_frequency(canonical) == schedule


def test_canonical_form_keeps_interval_like_fields() -> None:
    # `0-59` and `*` allow the same minutes but differ under DST (SPEC §5).
    fixed, interval = cron("0 0-59 3 * * ?"), cron("0 * 3 * * ?")
    assert not fixed.interval_like and interval.interval_like
    assert fixed != interval
    assert cron(str(fixed)) == fixed and cron(str(interval)) == interval


# --- rate and at --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [
        ("rate(10s)", 10, "rate(10s)"),
        ("RATE(5M)", 300, "rate(5m)"),
        (" rate ( 2 h ) ", 7200, "rate(2h)"),
        ("rate(7d)", 7 * 86400, "rate(7d)"),
        ("rate(90s)", 90, "rate(90s)"),
        ("rate(60s)", 60, "rate(1m)"),
        ("rate(24h)", 86400, "rate(1d)"),
    ],
)
def test_rate_forms(text: str, seconds: int, canonical: str) -> None:
    schedule = parse_frequency(text)
    assert isinstance(schedule, RateSchedule)
    assert schedule.interval == timedelta(seconds=seconds)
    assert str(schedule) == canonical


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("rate(9s)", ErrorCode.INTERVAL_TOO_SHORT, "shorter than the minimum of 10s"),
        ("rate(0m)", ErrorCode.INTERVAL_TOO_SHORT, "shorter than the minimum"),
        ("rate(8d)", ErrorCode.INVALID_RATE, "longer than the maximum 7d"),
        ("rate(169h)", ErrorCode.INVALID_RATE, "longer than the maximum 7d"),
        ("rate(99999999999999999999d)", ErrorCode.INVALID_RATE, "longer than the maximum"),
        ("rate(5w)", ErrorCode.INVALID_RATE, "unit 'w' is not one of s, m, h, d"),
        ("rate(5)", ErrorCode.INVALID_RATE, "unit '' is not one of"),
        ("rate(5 minutes)", ErrorCode.INVALID_RATE, "unit 'minutes'"),
        ("rate(-5m)", ErrorCode.INVALID_RATE, "is not rate(<n><s|m|h|d>)"),
        ("rate(1.5h)", ErrorCode.INVALID_RATE, "is not rate("),
        ("rate(5m", ErrorCode.INVALID_RATE, "is not rate("),
        ("rate(5m) x", ErrorCode.INVALID_RATE, "is not rate("),
        ("rate(005m)", ErrorCode.INVALID_RATE, "more than one leading zero"),
        ("rate 5m", ErrorCode.INVALID_RATE, "is not rate("),
        ("rate5m", ErrorCode.INVALID_RATE, "is not rate("),
    ],
)
def test_invalid_rates(text: str, code: ErrorCode, message: str) -> None:
    error = refused(text)
    assert error.code == code
    assert message in str(error)


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("at(2026-05-01 09:30:00)", datetime(2026, 5, 1, 9, 30, tzinfo=UTC)),
        ("AT( 2026-05-01 09:30:00 Asia/Shanghai )", datetime(2026, 5, 1, 1, 30, tzinfo=UTC)),
        ("at(2026-05-01 09:30:00 GMT-3)", datetime(2026, 5, 1, 12, 30, tzinfo=UTC)),
        ("at(1999-12-31 23:59:59 UTC)", datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        ("at(2150-01-01 00:00:00)", datetime(2150, 1, 1, tzinfo=UTC)),
        ("at(2028-02-29 00:00:00)", datetime(2028, 2, 29, tzinfo=UTC)),
    ],
)
def test_at_forms(text: str, instant: datetime) -> None:
    schedule = parse_frequency(text)
    assert isinstance(schedule, AtSchedule)
    assert schedule.is_one_shot
    assert schedule.next_fire(instant - timedelta(microseconds=1)) == instant
    assert schedule.next_fire(instant) is None
    assert schedule.min_interval() is None
    assert parse_frequency(str(schedule)) == schedule


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        ("at(2026-02-29 10:00:00)", ErrorCode.INVALID_AT, "is not a valid time"),
        ("at(2026-13-01 10:00:00)", ErrorCode.INVALID_AT, "is not a valid time"),
        ("at(2026-01-01 24:00:00)", ErrorCode.INVALID_AT, "is not a valid time"),
        ("at(2026-01-01 10:00)", ErrorCode.INVALID_AT, "is not at(yyyy-MM-dd HH:mm:ss [zone])"),
        ("at(2026-1-1 10:00:00)", ErrorCode.INVALID_AT, "is not at("),
        ("at(2026-01-01T10:00:00)", ErrorCode.INVALID_AT, "is not at("),
        ("at(2026-01-01 10:00:00 CST)", ErrorCode.INVALID_TIME_ZONE, "'CST'"),
        ("at(2026-01-01 10:00:00 +08:00)", ErrorCode.INVALID_TIME_ZONE, "'+08:00'"),
        ("at(2026-01-01 10:00:00 UTC x)", ErrorCode.INVALID_AT, "is not at("),
        ("at 2026-01-01 10:00:00", ErrorCode.INVALID_AT, "is not at("),
    ],
)
def test_invalid_ats(text: str, code: ErrorCode, message: str) -> None:
    error = refused(text)
    assert error.code == code
    assert message in str(error)


def test_schedule_kinds_and_zone_flags() -> None:
    zoneless, zoned = cron("0 0 12 * * ?"), cron("0 0 12 * * ? Asia/Tokyo")
    assert zoneless.uses_instance_zone and zoneless.own_zone is None
    assert not zoned.uses_instance_zone and zoned.own_zone is not None
    assert not zoned.is_one_shot and zoned.kind == "cron"
    assert parse_frequency("rate(1m)").kind == "rate"
    assert not parse_frequency("rate(1m)").uses_instance_zone
    at = parse_frequency("at(2026-01-01 00:00:00)")
    assert at.kind == "at" and at.is_one_shot and not at.uses_instance_zone
