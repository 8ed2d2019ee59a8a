"""Pure rules of creating an invocation: settings, targets and per-instance scripts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from scheduler.domain.bounds import check_timing, check_timing_schedule
from scheduler.domain.catalogue import is_common
from scheduler.domain.codes import ExecutionErrorCode, RefusalCode
from scheduler.domain.containers import check_container
from scheduler.domain.enums import COMMAND_TYPES_BY_OS, InvocationStatus, RepeatMode
from scheduler.domain.errors import invalid, not_found, precondition
from scheduler.domain.firing import first_fire, instance_zone, window_of
from scheduler.domain.limits import (
    MAX_FREQUENCY,
    MAX_USERNAME,
    MAX_WORKING_DIR,
    Limits,
    check_content_size,
    check_length,
    check_timeout,
)
from scheduler.domain.models import (
    Command,
    Instance,
    InvocationSettings,
    PlannedExecution,
    Settings,
    Timing,
)
from scheduler.domain.parameter_types import check_values, shell_quote
from scheduler.domain.parameters import BuiltIns, check_parameters, render
from scheduler.domain.rollout import check_max_concurrency, check_max_errors
from scheduler.domain.tenancy import Tenant
from scheduler.schedule import ErrorCode, Schedule, ScheduleError, parse_frequency


@dataclass(frozen=True)
class PlannedTarget:
    """An armed target of a periodic or boot invocation."""

    instance_id: str
    next_fire_at: datetime | None
    """The first fire of a periodic target; None for boot triggers."""


@dataclass(frozen=True, kw_only=True)
class SettingsRequest(Settings[RepeatMode | None], Timing):
    """The invocation settings as an InvokeCommand or RunCommand request states them."""


def resolve_repeat_mode(mode: RepeatMode | None, frequency: str) -> RepeatMode:
    """The effective repeat mode: a frequency implies PERIOD, nothing means ONCE."""
    if mode is None:
        return RepeatMode.PERIOD if frequency.strip() else RepeatMode.ONCE
    if mode is RepeatMode.PERIOD and not frequency.strip():
        raise invalid(
            RefusalCode.INVALID_PARAM_FREQUENCY,
            "frequency",
            "frequency is required when repeat_mode is PERIOD",
        )
    if mode is not RepeatMode.PERIOD and frequency.strip():
        raise invalid(
            RefusalCode.INVALID_PARAM_FREQUENCY,
            "frequency",
            f"frequency is only allowed with repeat_mode PERIOD, not {mode.name}",
        )
    return mode


def check_settings(
    limits: Limits, request: SettingsRequest, command: Command
) -> InvocationSettings:
    """Validate the invocation fields; the command supplies defaults for dir and timeout."""
    mode = resolve_repeat_mode(request.repeat_mode, request.frequency)
    check_length(RefusalCode.INVALID_PARAM_FREQUENCY, "frequency", request.frequency, MAX_FREQUENCY)
    check_length(RefusalCode.INVALID_PARAM_USERNAME, "username", request.username, MAX_USERNAME)
    check_length(
        RefusalCode.INVALID_PARAM_WORKING_DIR, "working_dir", request.working_dir, MAX_WORKING_DIR
    )
    check_container(request.container_id, request.container_name, command.type)
    timeout = check_timeout(limits, request.timeout) if request.timeout else command.timeout
    values = parameter_values(command, request.parameters)
    timing = check_timing(request, mode)
    return InvocationSettings(
        repeat_mode=mode,
        frequency=request.frequency.strip(),
        parameters=values,
        username=request.username,
        working_dir=request.working_dir or command.working_dir,
        timeout=timeout,
        container_id=request.container_id,
        container_name=request.container_name,
        max_concurrency=check_max_concurrency(request.max_concurrency),
        max_errors=check_max_errors(request.max_errors),
        max_jitter=timing.max_jitter,
        start_at=timing.start_at,
        end_at=timing.end_at,
    )


def parameter_values(command: Command, given: Mapping[str, str]) -> dict[str, str]:
    """The custom parameter values to render: those of a common command checked against
    their types, defaults filled in (``domain.parameter_types``); then, for any command,
    every name it defines."""
    if command.parameter_definitions:
        given = check_values(command.parameter_definitions, given)
    return check_parameters(command.parameter_names, given, enabled=command.enable_parameter)


def check_targets(
    instance_ids: list[str],
    found: Mapping[str, Instance],
    *,
    now: datetime,
    limits: Limits,
    require_online: bool,
) -> list[Instance]:
    """The target instances in request order; all-or-nothing (SPEC §6).

    ``found`` holds the instances of the caller's tenant only, so an instance
    of another account is reported exactly like an unknown one.
    """
    missing = [i for i in instance_ids if i not in found]
    if missing:
        raise not_found(
            RefusalCode.INVALID_INSTANCE_NOT_FOUND, f"instances not found: {', '.join(missing)}"
        )
    targets = [found[i] for i in instance_ids]
    if require_online:
        offline = [t.id for t in targets if not t.online(now, limits.offline_after)]
        if offline:
            raise precondition(
                RefusalCode.INVALID_INSTANCE_AGENT_OFFLINE,
                f"the agents of these instances are offline (no heartbeat for "
                f"{limits.offline_after} s): {', '.join(offline)}",
            )
    return targets


def plan_executions(
    *,
    command: Command,
    settings: InvocationSettings,
    targets: list[Instance],
    tenant: Tenant,
    invoke_id: str,
    content_limit: int,
    new_id: Callable[[], str],
) -> list[PlannedExecution]:
    """One execution per target, its script rendered for that instance and size-checked."""
    plans = [
        render_execution(
            command=command,
            values=settings.parameters,
            instance=instance,
            tenant=tenant,
            invoke_id=invoke_id,
            execution_id=new_id(),
        )
        for instance in targets
    ]
    if command.enable_parameter:
        for plan in plans:
            check_content_size(
                plan.script, content_limit, what="command_content after substitution"
            )
    return plans


def render_execution(
    *,
    command: Command,
    values: Mapping[str, str],
    instance: Instance,
    tenant: Tenant,
    invoke_id: str,
    execution_id: str,
) -> PlannedExecution:
    """One execution of ``command`` on ``instance``, parameters substituted.

    An instance whose OS cannot run the command's type gets an ``Invalid``
    execution rather than failing the whole invocation (SPEC §1).
    """
    script = command.content
    if command.enable_parameter:
        built_ins = BuiltIns(
            region_id=tenant.region_id,
            account_id=tenant.account_id,
            instance_id=instance.id,
            instance_name=instance.name,
            invoke_id=invoke_id,
            command_id=command.id,
        )
        if is_common(command.id):
            # A common command's script assigns each value as one word: name={{name}}.
            values = {name: shell_quote(value) for name, value in values.items()}
        script = render(command.content, values, built_ins)
    if command.type in COMMAND_TYPES_BY_OS[instance.os_type]:
        return PlannedExecution(
            id=execution_id,
            instance_id=instance.id,
            script=script,
            status=InvocationStatus.PENDING,
        )
    return PlannedExecution(
        id=execution_id,
        instance_id=instance.id,
        script=script,
        status=InvocationStatus.INVALID,
        error_code=ExecutionErrorCode.INVALID_COMMAND_TYPE,
        error_info=(
            f"a {command.type.value} command cannot run on "
            f"{instance.os_type.value} instance {instance.id}"
        ),
    )


FREQUENCY_CODES: Mapping[ErrorCode, RefusalCode] = {
    ErrorCode.INVALID_CRON: RefusalCode.INVALID_PARAM_FREQUENCY_INVALID_CRON_EXPRESSION,
    ErrorCode.INVALID_RATE: RefusalCode.INVALID_PARAM_FREQUENCY_INVALID_RATE_EXPRESSION,
    ErrorCode.INVALID_AT: RefusalCode.INVALID_PARAM_FREQUENCY_INVALID_AT_EXPRESSION,
    ErrorCode.INVALID_TIME_ZONE: RefusalCode.INVALID_PARAM_FREQUENCY_INVALID_TIME_ZONE,
    ErrorCode.INTERVAL_TOO_SHORT: RefusalCode.INVALID_PARAM_FREQUENCY_INTERVAL_TOO_SHORT,
    ErrorCode.NEVER_FIRES: RefusalCode.INVALID_PARAM_FREQUENCY_NEVER_FIRES,
}
"""The refusal of a frequency the schedule engine rejects, by the engine's code."""


def parse_schedule(frequency: str, *, created_at: datetime) -> Schedule:
    """The invocation's schedule; a rate's grid starts at the invocation's creation."""
    try:
        return parse_frequency(frequency, anchor=created_at)
    except ScheduleError as error:
        raise invalid(FREQUENCY_CODES[error.code], "frequency", str(error)) from None


def plan_targets(
    settings: InvocationSettings,
    targets: list[Instance],
    *,
    invoke_id: str,
    now: datetime,
    created_at: datetime | None = None,
) -> list[PlannedTarget]:
    """The armed targets of a periodic or boot invocation, with their first fires.

    Refuses a schedule that has no fire after ``now`` on some target (an
    ``at`` in the past, a year range that is over), or none before the end
    bound, naming the instances; and jitter or an end the schedule does not
    allow (``domain.bounds.check_timing_schedule``).
    ``created_at``: the invocation's creation, where a rate's grid is anchored
    (``now`` for a new invocation; given when a resume or a modify plans again).
    """
    if settings.repeat_mode is not RepeatMode.PERIOD:
        return next_fires(settings, targets, invoke_id=invoke_id, now=now)
    schedule = parse_schedule(settings.frequency, created_at=created_at or now)
    check_timing_schedule(settings, schedule, now)
    planned = next_fires(settings, targets, invoke_id=invoke_id, now=now, created_at=created_at)
    never = [p.instance_id for p in planned if p.next_fire_at is None]
    if never and settings.end_at is not None:
        without_end = next_fires(
            replace(settings, end_at=None),
            [t for t in targets if t.id in never],
            invoke_id=invoke_id,
            now=now,
            created_at=created_at,
        )
        if all(p.next_fire_at for p in without_end):
            # Fires there are, only none up to the end.
            raise invalid(
                RefusalCode.INVALID_PARAM_END_TIME,
                "end_time",
                f"'{settings.frequency}' has no fire between now (or start_time) and "
                f"end_time ({settings.end_at.isoformat(timespec='seconds')}) "
                f"on instances {', '.join(never)}",
            )
    if never:
        start = settings.start_at
        raise invalid(
            RefusalCode.INVALID_PARAM_FREQUENCY_NO_FUTURE_FIRE,
            "frequency",
            f"'{settings.frequency}' has no fire after now "
            f"({now.isoformat(timespec='seconds')})"
            + (f" and from start_time ({start.isoformat(timespec='seconds')})" if start else "")
            + f" on instances {', '.join(never)}",
        )
    return planned


def next_fires(
    settings: InvocationSettings,
    targets: list[Instance],
    *,
    invoke_id: str,
    now: datetime,
    created_at: datetime | None = None,
) -> list[PlannedTarget]:
    """Each target's next fire after ``now`` (None: its schedule has no more; always None for
    boot triggers): the one place that plans a target's next fire from a given instant —
    at creation (``plan_targets``), resume, modify, and when an instance joins a selector's
    invocation (``domain.selectors``).

    The instant stored is the nominal fire plus the target's jitter offset, not before
    the invocation's start nor past its end (``domain.firing.first_fire``).
    """
    if settings.repeat_mode is not RepeatMode.PERIOD:
        return [PlannedTarget(t.id, None) for t in targets]
    schedule = parse_schedule(settings.frequency, created_at=created_at or now)
    return [
        PlannedTarget(
            t.id,
            first_fire(
                schedule,
                now,
                zone=instance_zone(t.time_zone),
                window=window_of(invoke_id, t.id, settings),
            ),
        )
        for t in targets
    ]


def counts_against_quota(mode: RepeatMode) -> bool:
    """Whether an execution of this mode consumes the daily quota (dry runs run nothing)."""
    return mode is not RepeatMode.DRY_RUN
