"""The misfire rule and first fires of timed targets (SPEC §5, §6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.enums import RepeatMode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.firing import FirePlan, agent_zone, instance_zone, plan_fire
from scheduler.domain.invocation import plan_targets
from scheduler.domain.models import InvocationSettings
from scheduler.schedule import parse_frequency
from tests.factories import invocation_settings
from tests.unit.test_invocation_rules import instance

T0 = datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)
GRACE = timedelta(seconds=60)
S = timedelta(seconds=1)


def unjittered(fire_at: datetime | None, next_fire_at: datetime | None, skips: int) -> FirePlan:
    """The plan of a target without jitter: it starts at its nominal instant."""
    return FirePlan(
        fire_at=fire_at, starts_at=fire_at, next_fire_at=next_fire_at, misfire_skips=skips
    )


def test_a_fire_claimed_ahead_fires_at_its_instant() -> None:
    schedule = parse_frequency("rate(10s)", anchor=T0)
    plan = plan_fire(schedule, T0 + 10 * S, T0 + 9.5 * S, grace=GRACE, zone=UTC)
    assert plan == unjittered(T0 + 10 * S, T0 + 20 * S, 0)


def test_an_on_time_fire_fires_and_moves_to_the_next() -> None:
    schedule = parse_frequency("rate(10s)", anchor=T0)
    plan = plan_fire(schedule, T0 + 10 * S, T0 + 10.2 * S, grace=GRACE, zone=UTC)
    assert plan == unjittered(T0 + 10 * S, T0 + 20 * S, 0)


def test_downtime_within_grace_fires_once_for_the_latest_missed() -> None:
    schedule = parse_frequency("rate(10s)", anchor=T0)
    # Due at 10 s, back at 55 s: 10, 20, 30, 40, 50 were missed; 50 is 5 s ago.
    plan = plan_fire(schedule, T0 + 10 * S, T0 + 55 * S, grace=GRACE, zone=UTC)
    assert plan == unjittered(T0 + 50 * S, T0 + 60 * S, 4)


def test_downtime_beyond_grace_skips_everything_and_keeps_the_grid() -> None:
    schedule = parse_frequency("0 0 * * * ?", anchor=None)
    due = T0 + timedelta(hours=1)
    now = T0 + timedelta(hours=3, minutes=5)
    plan = plan_fire(schedule, due, now, grace=GRACE, zone=UTC)
    assert plan == unjittered(None, T0 + timedelta(hours=4), 3)


def test_grace_boundary_is_inclusive() -> None:
    schedule = parse_frequency("rate(10s)", anchor=T0)
    assert plan_fire(schedule, T0 + 10 * S, T0 + 70 * S, grace=GRACE, zone=UTC).fire_at == (
        T0 + 70 * S
    )
    plan = plan_fire(schedule, T0 + 10 * S, T0 + 10 * S + GRACE + 0.5 * S, grace=GRACE, zone=UTC)
    assert plan.fire_at == T0 + 70 * S  # 70 s is the latest missed, 0.5 s ago


def test_a_one_shot_is_exhausted_after_its_fire() -> None:
    schedule = parse_frequency("at(2027-01-01 00:00:30)")
    plan = plan_fire(schedule, T0 + 30 * S, T0 + 30.1 * S, grace=GRACE, zone=UTC)
    assert plan == unjittered(T0 + 30 * S, None, 0)
    late = plan_fire(schedule, T0 + 30 * S, T0 + 30 * S + 2 * GRACE, grace=GRACE, zone=UTC)
    assert late == unjittered(None, None, 1)


def test_zone_less_cron_fires_in_the_instance_zone() -> None:
    schedule = parse_frequency("0 0 9 * * ?")
    tokyo = ZoneInfo("Asia/Tokyo")
    due = datetime(2027, 1, 2, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    plan = plan_fire(schedule, due, due, grace=GRACE, zone=tokyo)
    assert plan.next_fire_at == datetime(2027, 1, 3, 0, 0, tzinfo=UTC)


def test_unknown_zones_fall_back_to_utc() -> None:
    assert instance_zone("Asia/Tokyo") == ZoneInfo("Asia/Tokyo")
    assert instance_zone("Not/AZone") == UTC
    assert instance_zone("") == UTC


@pytest.mark.parametrize(
    "name", ["Etc", "America", "posixrules/..", "../../etc/passwd", "Asia/Tokyo\x00", "x" * 300]
)
def test_a_stored_zone_that_cannot_be_loaded_is_utc(name: str) -> None:
    # ZoneInfo("Etc") raises IsADirectoryError: a row written before Hello was checked.
    assert instance_zone(name) == UTC


def test_instance_zones_are_those_a_frequency_may_name() -> None:
    assert instance_zone("GMT+8:00").utcoffset(T0) == timedelta(hours=8)
    assert instance_zone("utc") == UTC
    # A bare tz database name stored before zones were checked keeps its meaning.
    assert instance_zone("Japan") == ZoneInfo("Japan")


ANY_ZONE = st.one_of(
    st.text(), st.sampled_from(["Etc", "America", "Europe/", "Etc/..", "posix", "right/Etc"])
)


@given(ANY_ZONE)
def test_instance_zone_never_raises(name: str) -> None:
    assert instance_zone(name).utcoffset(T0) is not None


@pytest.mark.parametrize(
    ("reported", "stored"),
    [
        ("Asia/Shanghai", "Asia/Shanghai"),
        ("asia/shanghai", "Asia/Shanghai"),
        ("Etc/UTC", "Etc/UTC"),
        ("UTC", "UTC"),
        ("gmt", "UTC"),
        ("GMT+8:00", "GMT+8:00"),
        ("GMT-3:30", "GMT-3:30"),
    ],
)
def test_valid_agent_zones_are_kept_in_their_canonical_spelling(reported: str, stored: str) -> None:
    assert agent_zone(reported) == stored


@pytest.mark.parametrize(
    "reported",
    ["Etc", "Europe", "", "Japan", "EST", "+08:00", "GMT+15:00", "Mars/Olympus", "Asia/Tokyo\x00"],
)
def test_invalid_agent_zones_are_refused(reported: str) -> None:
    assert agent_zone(reported) is None


@given(ANY_ZONE)
def test_agent_zone_never_raises_and_keeps_only_loadable_zones(name: str) -> None:
    zone = agent_zone(name)
    if zone is not None:
        assert agent_zone(zone) == zone
        assert instance_zone(zone).utcoffset(T0) is not None


def settings(mode: RepeatMode, frequency: str = "") -> InvocationSettings:
    return invocation_settings(repeat_mode=mode, frequency=frequency)


def test_periodic_targets_start_on_their_own_first_fire() -> None:
    tokyo = replace(instance("i-tokyo"), time_zone="Asia/Tokyo")
    london = replace(instance("i-london"), time_zone="Europe/London")
    planned = plan_targets(
        settings(RepeatMode.PERIOD, "0 0 9 * * ?"), [tokyo, london], invoke_id="t-1", now=T0
    )
    assert [(p.instance_id, p.next_fire_at) for p in planned] == [
        ("i-tokyo", datetime(2027, 1, 1, 0, 0, tzinfo=UTC) + timedelta(days=1)),
        ("i-london", datetime(2027, 1, 1, 9, 0, tzinfo=UTC)),
    ]


def test_rate_targets_start_one_interval_after_creation() -> None:
    planned = plan_targets(
        settings(RepeatMode.PERIOD, "rate(5m)"), [instance("i-1")], invoke_id="t-1", now=T0
    )
    assert planned[0].next_fire_at == T0 + timedelta(minutes=5)


def test_boot_targets_have_no_next_fire() -> None:
    for mode in (RepeatMode.NEXT_REBOOT_ONLY, RepeatMode.EVERY_REBOOT):
        planned = plan_targets(settings(mode), [instance("i-1")], invoke_id="t-1", now=T0)
        assert planned[0].next_fire_at is None


@pytest.mark.parametrize(
    ("frequency", "code"),
    [
        ("at(2026-12-31 23:59:59)", "InvalidParam.Frequency.NoFutureFire"),
        ("0 0 12 * * ? 2002-2005", "InvalidParam.Frequency.NoFutureFire"),
        ("0,5 * * * * ?", "InvalidParam.Frequency.IntervalTooShort"),
        ("rate(5s)", "InvalidParam.Frequency.IntervalTooShort"),
        ("0 0 12 * *", "InvalidParam.Frequency.InvalidCronExpression"),
    ],
)
def test_bad_or_exhausted_schedules_are_refused(frequency: str, code: str) -> None:
    with pytest.raises(KairosError) as info:
        plan_targets(
            settings(RepeatMode.PERIOD, frequency), [instance("i-1")], invoke_id="t-1", now=T0
        )
    assert info.value.kind is ErrorKind.INVALID_ARGUMENT
    assert info.value.code == code
    assert info.value.violations[0].field == "frequency"
