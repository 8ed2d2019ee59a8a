"""Why an execution was never delivered: the error code and message it is aborted with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.domain.codes import ExecutionErrorCode
from scheduler.domain.delivery import DeliveryFailure, delivery_failure

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def failure(*, connected: bool, silent_for: timedelta) -> DeliveryFailure:
    return delivery_failure(
        connected=connected,
        last_heartbeat_at=NOW - silent_for,
        now=NOW,
        delivery_timeout=60,
        offline_after=120,
    )


@pytest.mark.parametrize("silent_for", [timedelta(0), timedelta(hours=1)])
def test_a_connected_agent_that_did_not_take_the_task(silent_for: timedelta) -> None:
    assert failure(connected=True, silent_for=silent_for) == DeliveryFailure(
        error_code=ExecutionErrorCode.DELIVERY_TIMEOUT,
        error_info="the agent is connected but did not take the task within 60 s",
    )


@pytest.mark.parametrize(
    "silent_for", [timedelta(0), timedelta(seconds=119), timedelta(seconds=120)]
)
def test_a_disconnected_agent_seen_lately_did_not_respond(silent_for: timedelta) -> None:
    assert failure(connected=False, silent_for=silent_for) == DeliveryFailure(
        error_code=ExecutionErrorCode.CLIENT_NOT_RESPONSE,
        error_info="the agent was not connected to take the task within 60 s",
    )


@pytest.mark.parametrize("silent_for", [timedelta(seconds=120, microseconds=1), timedelta(days=3)])
def test_a_disconnected_agent_silent_past_offline_after_is_not_running(
    silent_for: timedelta,
) -> None:
    assert failure(connected=False, silent_for=silent_for) == DeliveryFailure(
        error_code=ExecutionErrorCode.CLIENT_NOT_RUNNING,
        error_info="the agent was not connected to take the task within 60 s",
    )
