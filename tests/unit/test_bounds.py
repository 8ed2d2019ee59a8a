"""Jitter and bounds of a target's fires (issue 12 item 5): ``first_fire``, ``plan_fire``
with a window, and the refusals of ``check_settings`` and ``plan_targets``."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.enums import RepeatMode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.firing import Window, first_fire, plan_fire, window_of
from scheduler.domain.invocation import SettingsRequest, check_settings, plan_targets
from scheduler.domain.limits import Limits
from scheduler.domain.models import InvocationSettings, Timing
from scheduler.schedule import parse_frequency
from tests.factories import invocation_settings
from tests.unit.test_invocation_rules import command, instance, request

T0 = datetime(2027, 1, 1, tzinfo=UTC)
S = timedelta(seconds=1)
GRACE = timedelta(seconds=60)
NEW_YORK = ZoneInfo("America/New_York")


# --- jitter: the target's own timeline ------------------------------------------------------


def test_a_jittered_target_is_stored_at_its_offset_and_fires_its_nominal_instant() -> None:
    schedule = parse_frequency("rate(10m)", anchor=T0)
    window = Window(offset=90 * S)
    stored = first_fire(schedule, T0, zone=UTC, window=window)
    assert stored == T0 + timedelta(minutes=10, seconds=90)
    plan = plan_fire(schedule, stored, stored, grace=GRACE, zone=UTC, window=window)
    assert plan.fire_at == T0 + timedelta(minutes=10)  # scheduled_at: nominal
    assert plan.starts_at == stored
    assert plan.next_fire_at == T0 + timedelta(minutes=20, seconds=90)


def test_a_jittered_target_is_not_due_at_its_nominal_instant() -> None:
    schedule = parse_frequency("rate(10m)", anchor=T0)
    window = Window(offset=90 * S)
    stored = T0 + timedelta(minutes=10, seconds=90)
    # Claimed a little ahead of its jittered instant: it fires at that instant.
    plan = plan_fire(schedule, stored, stored - S, grace=GRACE, zone=UTC, window=window)
    assert (plan.fire_at, plan.starts_at) == (T0 + timedelta(minutes=10), stored)


def test_grace_is_measured_from_the_jittered_instant() -> None:
    schedule = parse_frequency("rate(10m)", anchor=T0)
    window = Window(offset=300 * S)
    stored = T0 + timedelta(minutes=15)
    # 50 s after the jittered instant (350 s after the nominal one): within grace.
    late = plan_fire(schedule, stored, stored + 50 * S, grace=GRACE, zone=UTC, window=window)
    assert late.fire_at == T0 + timedelta(minutes=10)
    assert late.misfire_skips == 0
    too_late = plan_fire(schedule, stored, stored + 70 * S, grace=GRACE, zone=UTC, window=window)
    assert too_late.fire_at is None
    assert too_late.misfire_skips == 1
    assert too_late.next_fire_at == T0 + timedelta(minutes=25)


@given(
    st.sampled_from(["rate(10m)", "0 0/15 * * * ?", "0 0 3 ? * MON-FRI", "rate(1h)"]),
    st.integers(min_value=0, max_value=300_000),
    st.sampled_from([UTC, NEW_YORK, ZoneInfo("Asia/Kolkata")]),
)
def test_fired_on_time_a_jittered_target_keeps_its_offset_and_the_nominal_fires(
    frequency: str, offset_ms: int, zone: ZoneInfo
) -> None:
    schedule = parse_frequency(frequency, anchor=T0)
    window = Window(offset=timedelta(milliseconds=offset_ms))
    nominal = list(schedule.fires(T0, zone=zone, limit=6))
    stored = first_fire(schedule, T0, zone=zone, window=window)
    fired = []
    for _ in range(5):
        assert stored is not None
        plan = plan_fire(schedule, stored, stored, grace=GRACE, zone=zone, window=window)
        assert plan.starts_at is not None and plan.fire_at is not None
        assert plan.starts_at - plan.fire_at == window.offset
        fired.append(plan.fire_at)
        stored = plan.next_fire_at
    assert fired == nominal[:5]
    assert stored == nominal[5] + window.offset


@given(
    st.sampled_from(["rate(10s)", "rate(2m)", "0 0/5 * * * ?", "0 0 * * * ?"]),
    st.integers(min_value=0, max_value=100),
    st.integers(min_value=0, max_value=4 * 3600 * 1000),
    st.integers(min_value=0, max_value=3600 * 1000),
)
def test_a_jittered_target_decides_as_the_unjittered_one_on_a_shifted_clock(
    frequency: str, due_index: int, late_ms: int, offset_ms: int
) -> None:
    # Whatever the downtime (misses, grace), the offset shifts every instant of the
    # decision and nothing else: the fire keeps its nominal instant.
    schedule = parse_frequency(frequency, anchor=T0)
    due = list(schedule.fires(T0, zone=UTC, limit=due_index + 1))[-1]
    now = due - 5 * S + timedelta(milliseconds=late_ms)
    offset = timedelta(milliseconds=offset_ms)
    plain = plan_fire(schedule, due, now, grace=GRACE, zone=UTC)
    shifted = plan_fire(
        schedule, due + offset, now + offset, grace=GRACE, zone=UTC, window=Window(offset=offset)
    )
    assert shifted.fire_at == plain.fire_at
    assert shifted.misfire_skips == plain.misfire_skips
    assert shifted.starts_at == (None if plain.starts_at is None else plain.starts_at + offset)
    assert shifted.next_fire_at == (
        None if plain.next_fire_at is None else plain.next_fire_at + offset
    )


def test_a_window_takes_the_invocation_timing_and_the_target_offset() -> None:
    timing = Timing(max_jitter=60, start_at=T0, end_at=T0 + timedelta(days=1))
    window = window_of("t-1", "i-1", timing)
    assert (window.start_at, window.end_at) == (timing.start_at, timing.end_at)
    assert window == window_of("t-1", "i-1", timing)
    assert timedelta(0) <= window.offset <= 60 * S


# --- start and end ----------------------------------------------------------------------------


def test_no_fire_before_the_start_and_a_fire_at_the_start_counts() -> None:
    schedule = parse_frequency("0 0 * * * ?")
    start = T0 + timedelta(hours=5)
    assert first_fire(schedule, T0, zone=UTC, window=Window(start_at=start)) == start
    later = start + timedelta(minutes=1)
    assert first_fire(schedule, T0, zone=UTC, window=Window(start_at=later)) == start + timedelta(
        hours=1
    )


def test_a_start_in_the_past_is_no_bound() -> None:
    schedule = parse_frequency("0 0 * * * ?")
    window = Window(start_at=T0 - timedelta(days=3))
    assert first_fire(schedule, T0, zone=UTC, window=window) == T0 + timedelta(hours=1)


def test_a_rate_keeps_its_grid_from_creation_after_the_start() -> None:
    schedule = parse_frequency("rate(10m)", anchor=T0)
    window = Window(start_at=T0 + timedelta(minutes=25))
    assert first_fire(schedule, T0, zone=UTC, window=window) == T0 + timedelta(minutes=30)


def test_the_last_fire_before_the_end_disarms_the_target() -> None:
    schedule = parse_frequency("rate(10m)", anchor=T0)
    window = Window(end_at=T0 + timedelta(minutes=25))
    due = T0 + timedelta(minutes=20)
    plan = plan_fire(schedule, due, due, grace=GRACE, zone=UTC, window=window)
    assert plan.fire_at == due
    assert plan.next_fire_at is None  # exhausted, as an at() after its fire


def test_a_fire_exactly_at_the_end_still_fires() -> None:
    schedule = parse_frequency("rate(10m)", anchor=T0)
    window = Window(end_at=T0 + timedelta(minutes=30))
    due = T0 + timedelta(minutes=20)
    plan = plan_fire(schedule, due, due, grace=GRACE, zone=UTC, window=window)
    assert plan.next_fire_at == T0 + timedelta(minutes=30)


def test_fires_missed_past_the_end_never_run() -> None:
    schedule = parse_frequency("rate(10m)", anchor=T0)
    window = Window(end_at=T0 + timedelta(minutes=35))
    due = T0 + timedelta(minutes=20)
    # Back at 00:50: 20 and 30 were missed (40 and 50 are past the end); 30 is too old.
    plan = plan_fire(
        schedule, due, T0 + timedelta(minutes=50), grace=GRACE, zone=UTC, window=window
    )
    assert plan.fire_at is None
    assert plan.next_fire_at is None
    assert plan.misfire_skips == 2
    # Back at 00:40:30, the end 5 minutes ago: the latest fire before the end is too old.
    plan = plan_fire(
        schedule, due, T0 + timedelta(minutes=40, seconds=30), grace=GRACE, zone=UTC, window=window
    )
    assert plan.fire_at is None


def test_the_end_bounds_nominal_fires_a_jittered_start_may_pass_it() -> None:
    schedule = parse_frequency("rate(10m)", anchor=T0)
    window = Window(offset=120 * S, end_at=T0 + timedelta(minutes=30, seconds=60))
    stored = T0 + timedelta(minutes=32)
    plan = plan_fire(schedule, stored, stored, grace=GRACE, zone=UTC, window=window)
    assert plan.fire_at == T0 + timedelta(minutes=30)
    assert plan.starts_at == stored
    assert plan.next_fire_at is None


# --- DST: bounds are instants, schedules keep their zones -------------------------------------


def test_a_start_at_the_end_of_a_spring_forward_gap_takes_the_moved_fire() -> None:
    # New York, 2027-03-14: 02:00 EST jumps to 03:00 EDT (07:00 UTC). A daily 02:30
    # fires once that night at 03:00 EDT, the first instant after the gap.
    schedule = parse_frequency("0 30 2 * * ? America/New_York")
    after_gap = datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    window = Window(start_at=after_gap)
    now = datetime(2027, 3, 13, 12, 0, tzinfo=UTC)
    assert first_fire(schedule, now, zone=UTC, window=window) == after_gap
    window = Window(start_at=after_gap + S)
    assert first_fire(schedule, now, zone=UTC, window=window) == datetime(
        2027, 3, 15, 6, 30, tzinfo=UTC
    )


def test_an_end_in_a_fall_back_overlap_bounds_by_the_instant_not_the_wall_time() -> None:
    # New York, 2027-11-07: 01:00-02:00 happens twice (EDT, then EST from 06:00 UTC).
    # Every half hour fires in both passes; an end at the second 01:00 (06:00 UTC)
    # keeps the first pass and that fire, not the second 01:30.
    schedule = parse_frequency("0 0/30 * * * ? America/New_York")
    end = datetime(2027, 11, 7, 6, 0, tzinfo=UTC)
    window = Window(end_at=end)
    fires = []
    stored = first_fire(schedule, datetime(2027, 11, 7, 4, 50, tzinfo=UTC), zone=UTC, window=window)
    while stored is not None:
        plan = plan_fire(schedule, stored, stored, grace=GRACE, zone=UTC, window=window)
        fires.append(plan.fire_at)
        stored = plan.next_fire_at
    assert fires == [
        datetime(2027, 11, 7, 5, 0, tzinfo=UTC),  # 01:00 EDT
        datetime(2027, 11, 7, 5, 30, tzinfo=UTC),  # 01:30 EDT
        datetime(2027, 11, 7, 6, 0, tzinfo=UTC),  # 01:00 EST
    ]


# --- refusals ----------------------------------------------------------------------------------


def _refused(call: object) -> KairosError:
    assert callable(call)
    with pytest.raises(KairosError) as info:
        call()
    assert info.value.kind is ErrorKind.INVALID_ARGUMENT
    return info.value


@pytest.mark.parametrize(
    ("mode", "frequency"),
    [
        (None, ""),
        (RepeatMode.DRY_RUN, ""),
        (RepeatMode.NEXT_REBOOT_ONLY, ""),
        (RepeatMode.EVERY_REBOOT, ""),
    ],
)
@pytest.mark.parametrize(
    ("timing", "field", "code"),
    [
        (Timing(max_jitter=30), "max_jitter", "InvalidParam.MaxJitter"),
        (Timing(start_at=T0), "start_time", "InvalidParam.StartTime"),
        (Timing(end_at=T0), "end_time", "InvalidParam.EndTime"),
    ],
)
def test_jitter_and_bounds_need_a_periodic_invocation(
    mode: RepeatMode | None, frequency: str, timing: Timing, field: str, code: str
) -> None:
    stated = _with(request(repeat_mode=mode, frequency=frequency), timing)
    error = _refused(lambda: check_settings(Limits(), stated, command()))
    assert (error.code, error.violations[0].field) == (code, field)
    assert "PERIOD" in str(error)


@pytest.mark.parametrize(
    ("timing", "field", "code", "words"),
    [
        (Timing(max_jitter=-1), "max_jitter", "InvalidParam.MaxJitter", "0-3600"),
        (Timing(max_jitter=3601), "max_jitter", "InvalidParam.MaxJitter", "one hour"),
        (Timing(start_at=T0, end_at=T0), "end_time", "InvalidParam.EndTime", "after start_time"),
        (
            Timing(start_at=T0 + S, end_at=T0),
            "end_time",
            "InvalidParam.EndTime",
            "after start_time",
        ),
        (
            Timing(start_at=datetime(2100, 1, 1, tzinfo=UTC)),
            "start_time",
            "InvalidParam.StartTime",
            "1970-2099",
        ),
        (
            Timing(end_at=datetime(1969, 12, 31, tzinfo=UTC)),
            "end_time",
            "InvalidParam.EndTime",
            "1970-2099",
        ),
    ],
)
def test_jitter_and_bounds_out_of_range_are_refused(
    timing: Timing, field: str, code: str, words: str
) -> None:
    stated = _with(request(frequency="rate(1d)"), timing)
    error = _refused(lambda: check_settings(Limits(), stated, command()))
    assert (error.code, error.violations[0].field) == (code, field)
    assert words in str(error)


def test_checked_timing_is_kept_in_the_settings() -> None:
    timing = Timing(max_jitter=3600, start_at=T0, end_at=T0 + timedelta(days=9))
    stated = _with(request(frequency="rate(1d)"), timing)
    settings = check_settings(Limits(), stated, command())
    assert (settings.max_jitter, settings.start_at, settings.end_at) == (
        timing.max_jitter,
        timing.start_at,
        timing.end_at,
    )


def _with(stated: SettingsRequest, timing: Timing) -> SettingsRequest:
    return replace(
        stated, max_jitter=timing.max_jitter, start_at=timing.start_at, end_at=timing.end_at
    )


def periodic(frequency: str, **timing: object) -> InvocationSettings:
    return invocation_settings(repeat_mode=RepeatMode.PERIOD, frequency=frequency, **timing)


def _plan(settings: InvocationSettings) -> list[datetime | None]:
    planned = plan_targets(settings, [instance("i-1"), instance("i-2")], invoke_id="t-1", now=T0)
    return [p.next_fire_at for p in planned]


@pytest.mark.parametrize(
    ("frequency", "allowed"),
    [
        ("rate(10m)", 300),
        ("rate(10s)", 5),
        ("0 0/15 * * * ?", 450),
        ("0 0,10 * * * ?", 300),  # 10 minutes, then 50: the smallest gap counts
        ("rate(7d)", 3600),  # the one-hour cap
        ("0 0 3 * * ?", 3600),
        ("at(2027-06-01 00:00:00)", 3600),  # a one-shot has no interval: only the cap
    ],
)
def test_jitter_is_at_most_half_the_interval_and_an_hour(frequency: str, allowed: int) -> None:
    assert all(_plan(periodic(frequency, max_jitter=allowed)))
    if allowed < 3600:
        error = _refused(lambda: _plan(periodic(frequency, max_jitter=allowed + 1)))
        assert error.code == "InvalidParam.MaxJitter"
        assert "half the schedule's interval" in str(error)


def test_targets_of_one_invocation_get_their_own_offsets() -> None:
    fires = _plan(periodic("rate(1h)", max_jitter=1800))
    nominal = T0 + timedelta(hours=1)
    offsets = [f - nominal for f in fires if f is not None]
    assert len(set(offsets)) == 2
    assert all(timedelta(0) <= o <= timedelta(seconds=1800) for o in offsets)


def test_an_end_already_past_is_refused() -> None:
    error = _refused(lambda: _plan(periodic("rate(1h)", end_at=T0)))
    assert (error.code, error.violations[0].field) == ("InvalidParam.EndTime", "end_time")
    assert "in the future" in str(error)


def test_an_end_before_the_first_fire_is_refused_naming_the_instances() -> None:
    error = _refused(lambda: _plan(periodic("rate(1h)", end_at=T0 + timedelta(minutes=59))))
    assert (error.code, error.violations[0].field) == ("InvalidParam.EndTime", "end_time")
    assert "i-1, i-2" in str(error)


def test_a_one_shot_before_the_start_never_fires() -> None:
    error = _refused(
        lambda: _plan(periodic("at(2027-01-02 00:00:00)", start_at=T0 + timedelta(days=2)))
    )
    assert error.code == "InvalidParam.Frequency.NoFutureFire"
    assert "start_time" in str(error)
