"""When an agent counts as online, how often it heartbeats, when its stream is silent, and
how often its dispatcher records it alive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.domain.limits import Limits
from scheduler.domain.liveness import (
    MAX_BACKSTOP,
    heartbeat_backstop,
    is_online,
    record_age,
    silent_after,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def online(*, connected: bool, heard_ago: timedelta) -> bool:
    return is_online(connected=connected, last_heard_at=NOW - heard_ago, now=NOW, offline_after=120)


@pytest.mark.parametrize("heard_ago", [timedelta(0), timedelta(minutes=3), timedelta(days=30)])
def test_a_connected_agent_is_online_whatever_its_last_heartbeat(heard_ago: timedelta) -> None:
    assert online(connected=True, heard_ago=heard_ago)


@pytest.mark.parametrize(
    "heard_ago", [timedelta(0), timedelta(seconds=119), timedelta(seconds=120)]
)
def test_a_disconnected_agent_heard_lately_is_online(heard_ago: timedelta) -> None:
    assert online(connected=False, heard_ago=heard_ago)


@pytest.mark.parametrize(
    "heard_ago", [timedelta(seconds=120, microseconds=1), timedelta(minutes=3), timedelta(days=3)]
)
def test_a_disconnected_agent_silent_past_offline_after_is_offline(heard_ago: timedelta) -> None:
    assert not online(connected=False, heard_ago=heard_ago)


def test_the_backstop_is_the_lost_after_time_an_hour_at_most() -> None:
    assert heartbeat_backstop(Limits()) == 120
    assert heartbeat_backstop(Limits(agent_lost_after=6)) == 6
    assert heartbeat_backstop(Limits(agent_lost_after=10**9)) == MAX_BACKSTOP


def test_a_stream_is_silent_after_two_backstop_heartbeats_missed() -> None:
    assert silent_after(Limits()) == 240
    assert silent_after(Limits(agent_lost_after=10**9)) == 2 * MAX_BACKSTOP


def test_connected_agents_are_recorded_alive_twice_per_offline_or_lost_after_time() -> None:
    assert record_age(Limits()) == 60
    assert record_age(Limits(offline_after=30)) == 15
    assert record_age(Limits(agent_lost_after=20)) == 10
