"""Pure rules of creating an invocation: settings, targets and per-instance scripts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from scheduler.domain.enums import COMMAND_TYPES_BY_OS, InvocationStatus, RepeatMode
from scheduler.domain.errors import ErrorKind, KairosError, invalid, not_found, precondition
from scheduler.domain.limits import (
    MAX_USERNAME,
    MAX_WORKING_DIR,
    Limits,
    check_content_size,
    check_length,
    check_timeout,
)
from scheduler.domain.models import Command, Instance, InvocationSettings, PlannedExecution
from scheduler.domain.parameters import BuiltIns, check_parameters, render
from scheduler.domain.tenancy import Tenant


@dataclass(frozen=True)
class SettingsRequest:
    """The invocation fields of an InvokeCommand or RunCommand request."""

    repeat_mode: RepeatMode | None
    frequency: str
    parameters: Mapping[str, str]
    username: str
    working_dir: str
    timeout: int
    container_id: str
    container_name: str


def resolve_repeat_mode(mode: RepeatMode | None, frequency: str) -> RepeatMode:
    """The effective repeat mode: a frequency implies PERIOD, nothing means ONCE."""
    if mode is None:
        return RepeatMode.PERIOD if frequency.strip() else RepeatMode.ONCE
    if mode is RepeatMode.PERIOD and not frequency.strip():
        raise invalid(
            "InvalidParam.Frequency",
            "frequency",
            "frequency is required when repeat_mode is PERIOD",
        )
    if mode is not RepeatMode.PERIOD and frequency.strip():
        raise invalid(
            "InvalidParam.Frequency",
            "frequency",
            f"frequency is only allowed with repeat_mode PERIOD, not {mode.name}",
        )
    return mode


def check_settings(
    limits: Limits, request: SettingsRequest, command: Command
) -> InvocationSettings:
    """Validate the invocation fields; the command supplies defaults for dir and timeout."""
    mode = resolve_repeat_mode(request.repeat_mode, request.frequency)
    if not mode.is_immediate:
        raise KairosError(
            ErrorKind.UNIMPLEMENTED,
            "Unimplemented.RepeatMode",
            f"repeat_mode {mode.name} is not available yet on this server; use ONCE or DRY_RUN",
        )
    check_length("username", request.username, MAX_USERNAME)
    check_length("working_dir", request.working_dir, MAX_WORKING_DIR)
    check_length("container_id", request.container_id, 128)
    check_length("container_name", request.container_name, 128)
    if request.container_id and request.container_name:
        raise invalid(
            "InvalidParam.Container",
            "container_id",
            "give container_id or container_name, not both",
        )
    timeout = check_timeout(limits, request.timeout) if request.timeout else command.timeout
    values = check_parameters(
        command.parameter_names, request.parameters, enabled=command.enable_parameter
    )
    return InvocationSettings(
        repeat_mode=mode,
        frequency=request.frequency.strip(),
        parameters=values,
        username=request.username,
        working_dir=request.working_dir or command.working_dir,
        timeout=timeout,
        container_id=request.container_id,
        container_name=request.container_name,
    )


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
        raise not_found("InvalidInstance.NotFound", f"instances not found: {', '.join(missing)}")
    targets = [found[i] for i in instance_ids]
    if require_online:
        offline = [t.id for t in targets if not t.online(now, limits.offline_after)]
        if offline:
            raise precondition(
                "InvalidInstance.AgentOffline",
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
    """One execution per target, its script rendered for that instance.

    A target whose OS cannot run the command's type gets an ``Invalid``
    execution rather than failing the whole invocation (SPEC §1).
    """
    plans = []
    for instance in targets:
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
            script = render(command.content, settings.parameters, built_ins)
            check_content_size(script, content_limit, what="command_content after substitution")
        if command.type in COMMAND_TYPES_BY_OS[instance.os_type]:
            plans.append(PlannedExecution(new_id(), instance.id, script, InvocationStatus.PENDING))
        else:
            plans.append(
                PlannedExecution(
                    new_id(),
                    instance.id,
                    script,
                    InvocationStatus.INVALID,
                    error_code="InvalidCommandType",
                    error_info=(
                        f"a {command.type.value} command cannot run on "
                        f"{instance.os_type.value} instance {instance.id}"
                    ),
                )
            )
    return plans


def counts_against_quota(mode: RepeatMode) -> bool:
    """Whether an execution of this mode consumes the daily quota (dry runs run nothing)."""
    return mode is not RepeatMode.DRY_RUN
