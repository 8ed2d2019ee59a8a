"""Statuses and error codes of finished executions, power actions, reconnect backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from agent import outcome
from agent.connection import Backoff
from agent.power import PowerAction, power_action_of
from kairos.v1 import agent_pb2, common_pb2

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 22, 6, 1, tzinfo=UTC)
S = common_pb2


def finished(
    returncode: int, *, timed_out: bool = False, stopped: bool = False
) -> agent_pb2.ExecutionResult:
    return outcome.finished(
        "e-1",
        returncode,
        timed_out=timed_out,
        stopped=stopped,
        timeout=60,
        output=b"out",
        dropped=7,
        start=T0,
        finish=T1,
    )


def test_exit_zero_is_success() -> None:
    result = finished(0)
    assert result.status == S.INVOCATION_STATUS_SUCCESS
    assert (result.exit_code, result.error_code, result.error_info) == (0, "", "")
    assert (result.output, result.dropped) == (b"out", 7)
    assert result.start_time.ToDatetime(tzinfo=UTC) == T0
    assert result.finish_time.ToDatetime(tzinfo=UTC) == T1


@pytest.mark.parametrize(
    ("returncode", "exit_code", "info"),
    [
        (1, 1, "exited with code 1"),
        (255, 255, "code 255"),
        (-15, 143, "killed by SIGTERM"),
        (-40, 168, "killed by signal 40"),
    ],
)
def test_nonzero_is_failed(returncode: int, exit_code: int, info: str) -> None:
    result = finished(returncode)
    assert (result.status, result.error_code) == (S.INVOCATION_STATUS_FAILED, "ExitCodeNonzero")
    assert result.exit_code == exit_code
    assert info in result.error_info


def test_timeout_wins_over_a_racing_stop() -> None:
    result = finished(-9, timed_out=True, stopped=True)
    assert (result.status, result.error_code) == (S.INVOCATION_STATUS_TIMEOUT, "ExecutionTimeout")
    assert "60 s" in result.error_info
    assert result.exit_code == 137


def test_stop_is_terminated() -> None:
    result = finished(-9, stopped=True)
    assert result.status == S.INVOCATION_STATUS_TERMINATED
    assert result.error_code == "ExecutionInterrupted"


def test_dry_run_is_success_with_nothing_run() -> None:
    result = outcome.dry_run("e-1", T0)
    assert result.status == S.INVOCATION_STATUS_SUCCESS
    assert result.output == b""


@pytest.mark.parametrize(
    ("status", "exit_code", "action"),
    [
        (S.INVOCATION_STATUS_FAILED, 193, PowerAction.POWER_OFF),
        (S.INVOCATION_STATUS_FAILED, 194, PowerAction.REBOOT),
        (S.INVOCATION_STATUS_FAILED, 195, None),
        (S.INVOCATION_STATUS_SUCCESS, 0, None),
        (S.INVOCATION_STATUS_ERROR, 193, None),  # not the script's own exit
    ],
)
def test_power_actions(status: int, exit_code: int, action: PowerAction | None) -> None:
    result = agent_pb2.ExecutionResult(status=status, exit_code=exit_code)  # type: ignore[arg-type]
    assert power_action_of(result) == action


def test_backoff_grows_with_jitter_up_to_the_cap_and_resets() -> None:
    backoff = Backoff(first=0.2, cap=10.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(12)]
    ceilings = [min(10.0, 0.2 * 2**i) for i in range(12)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)
    backoff.reset()
    assert 0.1 <= backoff.next_delay() <= 0.2
