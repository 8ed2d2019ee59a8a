"""An agent message that meets an unavailable database: retried, or given up on."""

from __future__ import annotations

import psycopg
import pytest

from dispatcher.patience import when_available


class Handler:
    """Fails with ``error`` the first ``failures`` times, then succeeds."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or psycopg.OperationalError("connection refused")
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error


async def test_a_result_is_retried_until_the_database_answers() -> None:
    handle = Handler(failures=2)
    await when_available(handle, what="a result")
    assert handle.calls == 3


async def test_the_error_propagates_once_patience_runs_out() -> None:
    handle = Handler(failures=100)
    with pytest.raises(psycopg.OperationalError):
        await when_available(handle, what="a result", patience=0.1)
    assert handle.calls == 1


async def test_any_other_error_propagates_at_once() -> None:
    handle = Handler(failures=1, error=ValueError("a bug"))
    with pytest.raises(ValueError, match="a bug"):
        await when_available(handle, what="a result")
    assert handle.calls == 1
