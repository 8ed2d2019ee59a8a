"""When an agent counts as online, and how often it sends its backstop heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.domain.limits import Limits
from scheduler.domain.liveness import heartbeat_backstop, is_online

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


def test_the_backstop_is_half_the_lost_after_time_by_default() -> None:
    assert heartbeat_backstop(Limits()) == 60
    assert heartbeat_backstop(Limits(agent_lost_after=6)) == 3
    assert heartbeat_backstop(Limits(agent_lost_after=2)) == 1


def test_the_backstop_is_at_most_half_the_offline_threshold() -> None:
    # A long lost-after time must not leave a connected agent's recorded sign of life
    # older than "online" allows, for a reader that looks at it alone.
    assert heartbeat_backstop(Limits(agent_lost_after=3600)) == 60
    assert heartbeat_backstop(Limits(agent_lost_after=3600, offline_after=30)) == 15
