"""Domain records with plain defaults, for tests that care about one or two fields."""

from __future__ import annotations

from typing import Any

from scheduler.domain.enums import InvocationStatus, RepeatMode
from scheduler.domain.models import ExecutionResult, InvocationSettings


def invocation_settings(**changes: Any) -> InvocationSettings:
    """Settings of a plain invocation (once, no parameters, 60 s timeout) with ``changes``."""
    plain: dict[str, Any] = {
        "repeat_mode": RepeatMode.ONCE,
        "frequency": "",
        "parameters": {},
        "username": "",
        "working_dir": "",
        "timeout": 60,
        "container_id": "",
        "container_name": "",
    }
    return InvocationSettings(**plain | changes)


def execution_result(execution_id: str, **changes: Any) -> ExecutionResult:
    """A plain successful result (exit 0, no output, no instants) with ``changes``."""
    plain: dict[str, Any] = {
        "status": InvocationStatus.SUCCESS,
        "exit_code": 0,
        "error_code": "",
        "error_info": "",
        "output": b"",
        "dropped": 0,
        "started_at": None,
        "finished_at": None,
    }
    return ExecutionResult(execution_id=execution_id, **plain | changes)
