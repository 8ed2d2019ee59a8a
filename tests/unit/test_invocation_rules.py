# Over 400 lines on purpose: one table of cases per rule of creating an invocation, side by side.
"""Creating an invocation: repeat mode, settings, targets and per-instance scripts."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.domain.enums import CommandType, InvocationStatus, OsType, RepeatMode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.invocation import (
    SettingsRequest,
    check_settings,
    check_targets,
    counts_against_quota,
    plan_executions,
    resolve_repeat_mode,
)
from scheduler.domain.limits import KIB, Limits
from scheduler.domain.models import Command, Instance, InvocationSettings
from scheduler.domain.tenancy import Tenant
from tests.factories import invocation_settings

from .expect import assert_refusal

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TENANT = Tenant(account_id="123456789", region_id="cn-hangzhou")
INVALID = ErrorKind.INVALID_ARGUMENT


def instance(
    instance_id: str,
    *,
    os_type: OsType = OsType.LINUX,
    name: str = "",
    heartbeat_age: float = 5,
    connected: bool = False,
) -> Instance:
    return Instance(
        id=instance_id,
        account_id=TENANT.account_id,
        region_id=TENANT.region_id,
        name=name or f"name-of-{instance_id}",
        os_type=os_type,
        agent_version="1.0",
        time_zone="UTC",
        boot_id="boot",
        registered_at=NOW - timedelta(days=1),
        last_heartbeat_at=NOW - timedelta(seconds=heartbeat_age),
        last_boot_at=None,
        dispatcher_id="d-1" if connected else None,
        connected=connected,
    )


def command(
    content: bytes = b"echo hi",
    *,
    type: CommandType = CommandType.RUN_SHELL_SCRIPT,
    parameter_names: list[str] | None = None,
    enable_parameter: bool = False,
) -> Command:
    return Command(
        id="c-456",
        name="cmd",
        description="",
        type=type,
        content=content,
        working_dir="/srv",
        timeout=600,
        enable_parameter=enable_parameter,
        parameter_names=parameter_names or [],
        kept=True,
    )


def request(
    *,
    repeat_mode: RepeatMode | None = None,
    frequency: str = "",
    parameters: Mapping[str, str] | None = None,
    username: str = "",
    working_dir: str = "",
    timeout: int = 0,
    container_id: str = "",
    container_name: str = "",
) -> SettingsRequest:
    return SettingsRequest(
        repeat_mode=repeat_mode,
        frequency=frequency,
        parameters=parameters or {},
        username=username,
        working_dir=working_dir,
        timeout=timeout,
        container_id=container_id,
        container_name=container_name,
    )


def settings(parameters: dict[str, str] | None = None) -> InvocationSettings:
    return invocation_settings(parameters=parameters or {}, working_dir="/srv", timeout=600)


def counter() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"e-{next(numbers)}"


# --- repeat mode ---------------------------------------------------------------------------


def test_no_mode_no_frequency_is_once() -> None:
    assert resolve_repeat_mode(None, "") is RepeatMode.ONCE
    assert resolve_repeat_mode(None, "   ") is RepeatMode.ONCE


def test_frequency_implies_period() -> None:
    assert resolve_repeat_mode(None, "rate(5m)") is RepeatMode.PERIOD
    assert resolve_repeat_mode(RepeatMode.PERIOD, "rate(5m)") is RepeatMode.PERIOD


@pytest.mark.parametrize("frequency", ["", "  "])
def test_period_without_frequency_fails(frequency: str) -> None:
    with pytest.raises(KairosError) as info:
        resolve_repeat_mode(RepeatMode.PERIOD, frequency)
    assert_refusal(
        info.value, INVALID, "InvalidParam.Frequency", "frequency", "frequency", "PERIOD"
    )


@pytest.mark.parametrize(
    "mode",
    [RepeatMode.ONCE, RepeatMode.DRY_RUN, RepeatMode.NEXT_REBOOT_ONLY, RepeatMode.EVERY_REBOOT],
)
def test_frequency_with_another_mode_fails(mode: RepeatMode) -> None:
    with pytest.raises(KairosError) as info:
        resolve_repeat_mode(mode, "rate(5m)")
    assert_refusal(info.value, INVALID, "InvalidParam.Frequency", "frequency", mode.name)


@pytest.mark.parametrize("mode", list(RepeatMode))
def test_explicit_mode_without_frequency(mode: RepeatMode) -> None:
    if mode is RepeatMode.PERIOD:
        with pytest.raises(KairosError):
            resolve_repeat_mode(mode, "")
    else:
        assert resolve_repeat_mode(mode, "") is mode


# --- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "frequency"),
    [
        (None, "rate(5m)"),
        (RepeatMode.PERIOD, "0 0 12 * * ?"),
        (RepeatMode.NEXT_REBOOT_ONLY, ""),
        (RepeatMode.EVERY_REBOOT, ""),
    ],
)
def test_scheduled_and_boot_modes_are_accepted(mode: RepeatMode | None, frequency: str) -> None:
    result = check_settings(Limits(), request(repeat_mode=mode, frequency=frequency), command())
    assert result.repeat_mode is resolve_repeat_mode(mode, frequency)
    assert result.frequency == frequency


@pytest.mark.parametrize("mode", [None, RepeatMode.ONCE, RepeatMode.DRY_RUN])
def test_immediate_modes_pass(mode: RepeatMode | None) -> None:
    result = check_settings(Limits(), request(repeat_mode=mode), command())
    assert result.repeat_mode is (mode or RepeatMode.ONCE)
    assert result.frequency == ""


def test_command_supplies_working_dir_and_timeout_defaults() -> None:
    result = check_settings(Limits(), request(), command())
    assert (result.working_dir, result.timeout) == ("/srv", 600)
    result = check_settings(Limits(), request(working_dir="/tmp", timeout=30), command())
    assert (result.working_dir, result.timeout) == ("/tmp", 30)


@pytest.mark.parametrize("timeout", [9, 86_401, -1])
def test_settings_timeout_out_of_bounds_fails(timeout: int) -> None:
    with pytest.raises(KairosError) as info:
        check_settings(Limits(), request(timeout=timeout), command())
    assert_refusal(info.value, INVALID, "InvalidParam.Timeout", "timeout")


@pytest.mark.parametrize(
    ("field", "limit", "code"),
    [
        ("username", 255, "InvalidParam.Username"),
        ("working_dir", 200, "InvalidParam.WorkingDir"),
    ],
)
def test_settings_lengths(field: str, limit: int, code: str) -> None:
    check_settings(Limits(), request(**{field: "x" * limit}), command())  # type: ignore[arg-type]
    with pytest.raises(KairosError) as info:
        check_settings(Limits(), request(**{field: "x" * (limit + 1)}), command())  # type: ignore[arg-type]
    assert_refusal(info.value, INVALID, code, field, str(limit))


def test_a_container_id_and_name_may_be_given_together() -> None:
    # The agent checks that they name one container (ContainerNameAndIdNotMatch).
    both = request(container_id="docker://" + "ab" * 32, container_name="web")
    result = check_settings(Limits(), both, command())
    assert (result.container_id, result.container_name) == ("docker://" + "ab" * 32, "web")


def test_settings_check_the_container_rules() -> None:
    with pytest.raises(KairosError) as info:
        check_settings(Limits(), request(container_id="abc"), command())
    assert_refusal(info.value, INVALID, "InvalidParam.ContainerId", "container_id", "64")


def test_settings_check_parameters_against_the_command() -> None:
    with_params = command(b"{{a}} {{b}}", parameter_names=["a", "b"], enable_parameter=True)
    result = check_settings(Limits(), request(parameters={"a": "1"}), with_params)
    assert result.parameters == {"a": "1", "b": ""}
    with pytest.raises(KairosError) as info:
        check_settings(Limits(), request(parameters={"c": "1"}), with_params)
    assert_refusal(info.value, INVALID, "InvalidParam.Parameters", "parameters", "c")
    with pytest.raises(KairosError) as info:
        check_settings(Limits(), request(parameters={"a": "1"}), command())
    assert_refusal(info.value, INVALID, "InvalidParam.Parameters", "parameters")


# --- targets -------------------------------------------------------------------------------


def test_targets_in_request_order() -> None:
    found = {i: instance(i) for i in ("i-a", "i-b", "i-c")}
    targets = check_targets(["i-c", "i-a"], found, now=NOW, limits=Limits(), require_online=True)
    assert [t.id for t in targets] == ["i-c", "i-a"]


def test_unknown_instances_fail_the_whole_invocation_and_are_named() -> None:
    found = {"i-a": instance("i-a")}
    with pytest.raises(KairosError) as info:
        check_targets(["i-a", "i-x", "i-y"], found, now=NOW, limits=Limits(), require_online=False)
    assert_refusal(info.value, ErrorKind.NOT_FOUND, "InvalidInstance.NotFound", None, "i-x, i-y")
    assert "i-a" not in info.value.message


def test_offline_instances_fail_immediate_invocations_and_are_named() -> None:
    found = {
        "i-on": instance("i-on", heartbeat_age=119),
        "i-off": instance("i-off", heartbeat_age=121),
        "i-gone": instance("i-gone", heartbeat_age=86_400),
    }
    ids = ["i-on", "i-off", "i-gone"]
    with pytest.raises(KairosError) as info:
        check_targets(ids, found, now=NOW, limits=Limits(), require_online=True)
    assert_refusal(
        info.value,
        ErrorKind.FAILED_PRECONDITION,
        "InvalidInstance.AgentOffline",
        None,
        "i-off, i-gone",
        "120",
    )
    assert "i-on," not in info.value.message
    # Scheduled and boot invocations may target offline agents.
    assert check_targets(ids, found, now=NOW, limits=Limits(), require_online=False) == [
        found[i] for i in ids
    ]


def test_a_connected_agent_is_online_however_old_its_last_heartbeat() -> None:
    # Its connection's keepalive pings, not rare heartbeats, say it is alive.
    found = {"i-a": instance("i-a", heartbeat_age=86_400, connected=True)}
    targets = check_targets(["i-a"], found, now=NOW, limits=Limits(), require_online=True)
    assert [t.id for t in targets] == ["i-a"]


def test_offline_threshold_is_configurable() -> None:
    found = {"i-a": instance("i-a", heartbeat_age=30)}
    with pytest.raises(KairosError):
        check_targets(["i-a"], found, now=NOW, limits=Limits(offline_after=20), require_online=True)
    check_targets(["i-a"], found, now=NOW, limits=Limits(offline_after=40), require_online=True)


def test_unknown_is_reported_before_offline() -> None:
    found = {"i-off": instance("i-off", heartbeat_age=1000)}
    with pytest.raises(KairosError) as info:
        check_targets(["i-off", "i-x"], found, now=NOW, limits=Limits(), require_online=True)
    assert info.value.kind is ErrorKind.NOT_FOUND


# --- planning ------------------------------------------------------------------------------


def test_one_pending_execution_per_target_with_the_script_as_is() -> None:
    targets = [instance("i-a"), instance("i-b", os_type=OsType.FREEBSD)]
    plans = plan_executions(
        command=command(b"echo {{a}}"),
        settings=settings(),
        targets=targets,
        tenant=TENANT,
        invoke_id="t-1",
        content_limit=18 * KIB,
        new_id=counter(),
    )
    assert [(p.id, p.instance_id, p.script, p.status) for p in plans] == [
        ("e-1", "i-a", b"echo {{a}}", InvocationStatus.PENDING),
        ("e-2", "i-b", b"echo {{a}}", InvocationStatus.PENDING),
    ]
    assert all(p.error_code == "" and p.error_info == "" for p in plans)


@pytest.mark.parametrize(
    ("type", "os_type", "runs"),
    [
        (CommandType.RUN_SHELL_SCRIPT, OsType.LINUX, True),
        (CommandType.RUN_SHELL_SCRIPT, OsType.FREEBSD, True),
        (CommandType.RUN_SHELL_SCRIPT, OsType.WINDOWS, False),
        (CommandType.RUN_POWER_SHELL_SCRIPT, OsType.WINDOWS, True),
        (CommandType.RUN_BAT_SCRIPT, OsType.WINDOWS, True),
        (CommandType.RUN_POWER_SHELL_SCRIPT, OsType.LINUX, False),
        (CommandType.RUN_BAT_SCRIPT, OsType.LINUX, False),
        (CommandType.RUN_POWER_SHELL_SCRIPT, OsType.FREEBSD, False),
        (CommandType.RUN_BAT_SCRIPT, OsType.FREEBSD, False),
    ],
)
def test_os_mismatch_is_invalid_for_that_instance_only(
    type: CommandType, os_type: OsType, runs: bool
) -> None:
    plans = plan_executions(
        command=command(type=type),
        settings=settings(),
        targets=[instance("i-x", os_type=os_type)],
        tenant=TENANT,
        invoke_id="t-1",
        content_limit=18 * KIB,
        new_id=counter(),
    )
    [plan] = plans
    if runs:
        assert (plan.status, plan.error_code) == (InvocationStatus.PENDING, "")
    else:
        assert plan.status is InvocationStatus.INVALID
        assert plan.error_code == "InvalidCommandType"
        assert type.value in plan.error_info
        assert os_type.value in plan.error_info
        assert "i-x" in plan.error_info


def test_mixed_fleet_keeps_order_and_marks_only_mismatches() -> None:
    targets = [
        instance("i-1"),
        instance("i-2", os_type=OsType.WINDOWS),
        instance("i-3", os_type=OsType.FREEBSD),
    ]
    plans = plan_executions(
        command=command(),
        settings=settings(),
        targets=targets,
        tenant=TENANT,
        invoke_id="t-1",
        content_limit=18 * KIB,
        new_id=counter(),
    )
    assert [(p.instance_id, p.status) for p in plans] == [
        ("i-1", InvocationStatus.PENDING),
        ("i-2", InvocationStatus.INVALID),
        ("i-3", InvocationStatus.PENDING),
    ]
    assert len({p.id for p in plans}) == 3


BUILT_IN_SCRIPT = (
    b"r={{ACS::RegionId}} a={{ACS::AccountId}} i={{ACS::InstanceId}} "
    b"n={{ACS::InstanceName}} t={{ACS::InvokeId}} c={{ACS::CommandId}} x={{x}} y={{ y }}"
)


def test_built_ins_are_rendered_per_instance() -> None:
    cmd = command(BUILT_IN_SCRIPT, parameter_names=["x", "y"], enable_parameter=True)
    plans = plan_executions(
        command=cmd,
        settings=settings({"x": "1", "y": ""}),
        targets=[instance("i-a", name="alpha"), instance("i-b", name="beta")],
        tenant=TENANT,
        invoke_id="t-9",
        content_limit=18 * KIB,
        new_id=counter(),
    )
    assert [p.script for p in plans] == [
        b"r=cn-hangzhou a=123456789 i=i-a n=alpha t=t-9 c=c-456 x=1 y=",
        b"r=cn-hangzhou a=123456789 i=i-b n=beta t=t-9 c=c-456 x=1 y=",
    ]


def test_invalid_executions_get_the_rendered_script_too() -> None:
    cmd = command(b"{{ACS::InstanceId}}", enable_parameter=True)
    [plan] = plan_executions(
        command=cmd,
        settings=settings(),
        targets=[instance("i-w", os_type=OsType.WINDOWS)],
        tenant=TENANT,
        invoke_id="t-9",
        content_limit=18 * KIB,
        new_id=counter(),
    )
    assert (plan.script, plan.status) == (b"i-w", InvocationStatus.INVALID)


def test_without_parameters_placeholders_stay_literal() -> None:
    cmd = command(b"echo {{ACS::InstanceId}} {{x}}")
    [plan] = plan_executions(
        command=cmd,
        settings=settings(),
        targets=[instance("i-a")],
        tenant=TENANT,
        invoke_id="t-9",
        content_limit=8,  # not rechecked: the content was checked when the command was saved
        new_id=counter(),
    )
    assert plan.script == b"echo {{ACS::InstanceId}} {{x}}"


def test_rendered_size_limit() -> None:
    # "{{x}}" is 5 bytes; the rendered script of 13,824 bytes is exactly 18 KB in Base64.
    cmd = command(b"{{x}}", parameter_names=["x"], enable_parameter=True)

    def plan(value_length: int) -> None:
        plan_executions(
            command=cmd,
            settings=settings({"x": "v" * value_length}),
            targets=[instance("i-a")],
            tenant=TENANT,
            invoke_id="t-9",
            content_limit=18 * KIB,
            new_id=counter(),
        )

    plan(13_824)
    with pytest.raises(KairosError) as info:
        plan(13_825)
    assert_refusal(
        info.value,
        INVALID,
        "InvalidParam.CommandContent",
        "command_content after substitution",
        "18432",
        "substitution",
    )


def test_rendered_size_is_checked_for_every_instance() -> None:
    # Only the long instance name goes over the limit.
    cmd = command(b"{{ACS::InstanceName}}", enable_parameter=True)
    targets = [instance("i-a", name="short"), instance("i-b", name="n" * 13)]
    with pytest.raises(KairosError):
        plan_executions(
            command=cmd,
            settings=settings(),
            targets=targets,
            tenant=TENANT,
            invoke_id="t-9",
            content_limit=12,  # 9 raw bytes
            new_id=counter(),
        )
    plans = plan_executions(
        command=cmd,
        settings=settings(),
        targets=targets[:1],
        tenant=TENANT,
        invoke_id="t-9",
        content_limit=12,
        new_id=counter(),
    )
    assert plans[0].script == b"short"


def test_no_targets_no_executions() -> None:
    plans = plan_executions(
        command=command(),
        settings=settings(),
        targets=[],
        tenant=TENANT,
        invoke_id="t-9",
        content_limit=18 * KIB,
        new_id=counter(),
    )
    assert plans == []


def test_settings_feed_planning() -> None:
    cmd = command(b"{{a}}-{{ACS::InvokeId}}", parameter_names=["a"], enable_parameter=True)
    checked = check_settings(Limits(), request(parameters={"a": "A"}), cmd)
    [plan] = plan_executions(
        command=cmd,
        settings=checked,
        targets=[instance("i-a")],
        tenant=TENANT,
        invoke_id="t-7",
        content_limit=18 * KIB,
        new_id=counter(),
    )
    assert plan.script == b"A-t-7"


# --- quota ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(RepeatMode))
def test_every_mode_but_dry_run_counts_against_the_quota(mode: RepeatMode) -> None:
    assert counts_against_quota(mode) is (mode is not RepeatMode.DRY_RUN)
