"""The rules of jitter and bounds on an invocation (issue 12 item 5). Pure.

Checked in two steps: what the request alone decides (``check_timing``, with the
other settings), then what needs the schedule and the database's clock
(``check_timing_schedule``, where the schedule is parsed to plan the targets).
"""

from __future__ import annotations

from datetime import UTC, datetime

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import RepeatMode
from scheduler.domain.errors import invalid
from scheduler.domain.jitter import MAX_JITTER
from scheduler.domain.models import Timing
from scheduler.schedule import Schedule

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
BEYOND = datetime(2100, 1, 1, tzinfo=UTC)
"""Bounds lie in the years a schedule can fire in (``docs/schedules.md``: 1970-2099)."""


def check_timing(timing: Timing, mode: RepeatMode) -> Timing:
    """Refuse jitter or bounds out of range, or on an invocation that is not periodic.

    Only a schedule has nominal fires to jitter and bound: a run at once has no
    window to spread over, and a boot trigger fires when the machine boots.
    """
    if mode is not RepeatMode.PERIOD:
        for field_name, code, given in (
            ("max_jitter", RefusalCode.INVALID_PARAM_MAX_JITTER, timing.max_jitter),
            ("start_time", RefusalCode.INVALID_PARAM_START_TIME, timing.start_at),
            ("end_time", RefusalCode.INVALID_PARAM_END_TIME, timing.end_at),
        ):
            if given:
                raise invalid(
                    code,
                    field_name,
                    f"{field_name} is only allowed with repeat_mode PERIOD (a frequency), "
                    f"not {mode.name}",
                )
    if not 0 <= timing.max_jitter <= MAX_JITTER:
        raise invalid(
            RefusalCode.INVALID_PARAM_MAX_JITTER,
            "max_jitter",
            f"max_jitter must be 0-{MAX_JITTER} seconds (at most one hour), "
            f"not {timing.max_jitter}",
        )
    start, end = timing.start_at, timing.end_at
    for field_name, code, given in (
        ("start_time", RefusalCode.INVALID_PARAM_START_TIME, start),
        ("end_time", RefusalCode.INVALID_PARAM_END_TIME, end),
    ):
        if given is not None and not EARLIEST <= given < BEYOND:
            raise invalid(
                code,
                field_name,
                f"{field_name} ({_instant(given)}) must be in the years 1970-2099, "
                "the years a schedule can fire in",
            )
    if start is not None and end is not None and end <= start:
        raise invalid(
            RefusalCode.INVALID_PARAM_END_TIME,
            "end_time",
            f"end_time ({_instant(end)}) must be after start_time ({_instant(start)})",
        )
    return timing


def check_timing_schedule(timing: Timing, schedule: Schedule, now: datetime) -> None:
    """Refuse an end already past, or a jitter over half the schedule's interval.

    The interval is the schedule's smallest gap between two fires (wall clock for a
    cron: ``Schedule.min_interval``); a schedule that fires once (``at``) has none,
    and only the one-hour cap applies. A start in the past is no bound at all.
    """
    if timing.end_at is not None and timing.end_at <= now:
        raise invalid(
            RefusalCode.INVALID_PARAM_END_TIME,
            "end_time",
            f"end_time ({_instant(timing.end_at)}) must be in the future (now is {_instant(now)})",
        )
    if not timing.max_jitter:
        return
    interval = schedule.min_interval()
    if interval is not None and timing.max_jitter * 2 > interval.total_seconds():
        raise invalid(
            RefusalCode.INVALID_PARAM_MAX_JITTER,
            "max_jitter",
            f"max_jitter ({timing.max_jitter} s) must be at most half the schedule's "
            f"interval ({int(interval.total_seconds())} s between two fires)",
        )


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
