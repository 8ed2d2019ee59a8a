"""Domain records with plain defaults, for tests that care about one or two fields."""

from __future__ import annotations

from typing import Any

from scheduler.domain.enums import RepeatMode
from scheduler.domain.models import InvocationSettings


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
