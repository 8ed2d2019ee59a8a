"""The domain's records, as plain immutable data read from and written to storage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Generic, TypeVar

from scheduler.domain.enums import CommandType, InvocationStatus, OsType, RepeatMode
from scheduler.domain.liveness import is_online
from scheduler.domain.parameter_types import ParameterDefinition
from scheduler.domain.tags import Tag


@dataclass(kw_only=True, frozen=True)
class Command:
    """A stored script."""

    id: str
    name: str
    description: str
    type: CommandType
    content: bytes
    working_dir: str
    timeout: int
    enable_parameter: bool
    parameter_names: list[str]
    kept: bool
    invoke_times: int = 0
    created_at: datetime | None = None
    # Common commands (issue 13, item 4, ``domain.catalogue``): shipped with Kairos.
    provider: str = ""
    """``kairos`` for a common command; empty for an account's own."""
    parameter_definitions: tuple[ParameterDefinition, ...] = ()
    """A common command's typed parameters, in order; empty for an account's own."""


@dataclass(frozen=True, kw_only=True)
class AgentHello:
    """How a connecting agent describes its instance."""

    instance_id: str
    name: str
    os_type: OsType
    agent_version: str
    time_zone: str
    boot_id: str
    # Tags (issue 12): the tags its agent reports (``kairos agent --tag``), replacing
    # those of its previous Hello; checked (``domain.tags.check_tags``), keys distinct.
    tags: tuple[Tag, ...] = ()


@dataclass(kw_only=True, frozen=True)
class Instance:
    """A machine of the fleet, as its agent last described it."""

    id: str
    account_id: str
    region_id: str
    name: str
    os_type: OsType
    agent_version: str
    time_zone: str
    boot_id: str
    registered_at: datetime
    last_heartbeat_at: datetime
    """The last recorded sign of life; a connected agent's is recorded again once it is
    ``domain.liveness.record_age`` old (a minute)."""
    last_boot_at: datetime | None
    dispatcher_id: str | None
    connected: bool
    """A replica with a live lease held the agent's stream when this was read."""

    def online(self, now: datetime, offline_after: int) -> bool:
        """Connected, or heard from within ``offline_after`` seconds (``liveness.is_online``)."""
        return is_online(
            connected=self.connected,
            last_heard_at=self.last_heartbeat_at,
            now=now,
            offline_after=offline_after,
        )


M = TypeVar("M", bound=RepeatMode | None)


@dataclass(frozen=True, kw_only=True)
class Settings(Generic[M]):
    """How an invocation runs, independent of its command: the one list of these fields.

    The API's requests and messages, the ``invocations`` table and the CLI's
    flags use the same names (``SETTINGS_FIELDS``); each derives its list from here.
    """

    repeat_mode: M
    frequency: str
    parameters: Mapping[str, str]
    username: str
    working_dir: str
    timeout: int
    container_id: str
    container_name: str
    # Rolling rate control (issue 12, ``domain.rollout``): empty, a count or a percentage.
    max_concurrency: str = ""
    max_errors: str = ""


@dataclass(frozen=True, kw_only=True)
class Timing:
    """Jitter and bounds of a periodic invocation (issue 12 item 5; ``domain.firing.Window``).

    Not in ``SETTINGS_FIELDS``: the API names the bounds ``start_time`` and ``end_time``.
    """

    max_jitter: int = 0
    """Seconds each target's start is delayed by at most (``domain.jitter``); 0: none."""
    start_at: datetime | None = None
    """No fire before it."""
    end_at: datetime | None = None
    """No fire after it; the invocation then ends."""


@dataclass(frozen=True, kw_only=True)
class InvocationSettings(Settings[RepeatMode], Timing):
    """An invocation's settings once validated: the repeat mode resolved, defaults applied."""


SETTINGS_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Settings))
"""The names of the invocation settings, in order."""


@dataclass(kw_only=True, frozen=True)
class PlannedExecution:
    """One execution to create: the rendered script for one instance."""

    id: str
    instance_id: str
    script: bytes
    status: InvocationStatus
    error_code: str = ""
    error_info: str = ""


@dataclass(kw_only=True, frozen=True)
class ExecutionResult:
    """A final result as an agent reports it."""

    execution_id: str
    status: InvocationStatus
    exit_code: int
    error_code: str
    error_info: str
    output: bytes
    dropped: int
    started_at: datetime | None
    finished_at: datetime | None
