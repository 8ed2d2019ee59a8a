"""The pure rules of schedule control: who may be controlled, what a modify changes, and
next fires planned again from a later instant (resume, modify)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.codes import RefusalCode
from scheduler.domain.control import (
    Modified,
    ModifyRequest,
    check_controllable,
    check_modify_request,
    check_retargeting,
    modify,
)
from scheduler.domain.enums import CommandType, ContentEncoding, RepeatMode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.invocation import next_fires, plan_targets
from scheduler.domain.limits import Limits
from scheduler.domain.models import Command, InvocationSettings
from scheduler.domain.tags import Tag
from tests.factories import invocation_settings
from tests.unit.test_invocation_rules import instance

from .expect import assert_refusal

T0 = datetime(2027, 1, 1, tzinfo=UTC)
PERIODIC = invocation_settings(repeat_mode=RepeatMode.PERIOD, frequency="rate(10s)")


def _command(content: bytes = b"echo {{who}}", *, parameters: bool = True) -> Command:
    return Command(
        id="c-1",
        name="n",
        description="",
        type=CommandType.RUN_SHELL_SCRIPT,
        content=content,
        working_dir="",
        timeout=60,
        enable_parameter=parameters,
        parameter_names=["who"] if parameters else [],
        kept=True,
    )


def _request(**fields: Any) -> ModifyRequest:
    return ModifyRequest(**{"add_instance_ids": [], "remove_instance_ids": []} | fields)


def _modify(settings: InvocationSettings, command: Command, request: ModifyRequest) -> Modified:
    return modify(Limits(), settings, command, request, created_at=T0)


def _refused(error: pytest.ExceptionInfo[KairosError], kind: ErrorKind, code: RefusalCode) -> None:
    assert (error.value.kind, error.value.code) == (kind, code)


@pytest.mark.parametrize("mode", [RepeatMode.ONCE, RepeatMode.DRY_RUN])
def test_one_time_invocations_cannot_be_controlled(mode: RepeatMode) -> None:
    with pytest.raises(KairosError) as error:
        check_controllable("t-1", mode, 1, operation="paused")
    _refused(error, ErrorKind.FAILED_PRECONDITION, RefusalCode.INVALID_INVOCATION_REPEAT_MODE)
    assert "only periodic and boot invocations can be paused" in error.value.message


@pytest.mark.parametrize(
    "mode", [RepeatMode.PERIOD, RepeatMode.EVERY_REBOOT, RepeatMode.NEXT_REBOOT_ONLY]
)
def test_an_invocation_with_nothing_armed_cannot_be_controlled(mode: RepeatMode) -> None:
    check_controllable("t-1", mode, 1, operation="modified")
    with pytest.raises(KairosError) as error:
        check_controllable("t-1", mode, 0, operation="modified")
    _refused(error, ErrorKind.FAILED_PRECONDITION, RefusalCode.INVALID_INVOCATION_FINISHED)


def test_a_modify_that_changes_nothing_is_refused() -> None:
    with pytest.raises(KairosError) as error:
        check_modify_request(Limits(), _request())
    _refused(error, ErrorKind.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_MODIFY)


def test_an_instance_both_added_and_removed_is_refused() -> None:
    with pytest.raises(KairosError) as error:
        check_modify_request(
            Limits(), _request(add_instance_ids=["i-1", "i-2"], remove_instance_ids=["i-2"])
        )
    _refused(error, ErrorKind.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_INSTANCE_ID)
    assert "i-2" in error.value.message


@pytest.mark.parametrize("field", ["add_instance_ids", "remove_instance_ids"])
@pytest.mark.parametrize("ids", [["i-1", " "], [f"i-{n}" for n in range(101)]])
def test_a_bad_instance_list_is_refused_naming_its_own_field(field: str, ids: list[str]) -> None:
    # Before, both lists were refused as "instance_ids", a field ModifyInvocation lacks.
    with pytest.raises(KairosError) as error:
        check_modify_request(Limits(max_instances_per_call=100), _request(**{field: ids}))
    assert_refusal(error.value, ErrorKind.INVALID_ARGUMENT, "InvalidParam.InstanceId", field)


def test_instance_ids_are_trimmed_and_deduplicated() -> None:
    checked = check_modify_request(Limits(), _request(add_instance_ids=[" i-1", "i-1 "]))
    assert checked.add_instance_ids == ["i-1"]


def test_only_the_fields_given_change() -> None:
    settings = invocation_settings(
        repeat_mode=RepeatMode.PERIOD, frequency="rate(10s)", parameters={"who": "a"}
    )
    modified = _modify(settings, _command(), _request(timeout=120))
    assert modified.settings == invocation_settings(
        repeat_mode=RepeatMode.PERIOD, frequency="rate(10s)", parameters={"who": "a"}, timeout=120
    )
    assert modified.command.content == b"echo {{who}}"
    assert not modified.replan
    assert _modify(settings, _command(), _request(frequency=" rate(1m) ")).replan


def test_new_content_defines_the_parameters_and_keeps_the_values_it_still_uses() -> None:
    settings = invocation_settings(
        repeat_mode=RepeatMode.PERIOD, frequency="rate(10s)", parameters={"who": "a"}
    )
    modified = _modify(settings, _command(), _request(content="echo {{who}} {{ what }}"))
    assert modified.command.parameter_names == ["who", "what"]
    assert modified.settings.parameters == {"who": "a", "what": ""}
    dropped = _modify(settings, _command(), _request(content="echo {{what}}"))
    assert dropped.settings.parameters == {"what": ""}
    encoded = _modify(
        settings,
        _command(),
        _request(content="ZWNobyBoaQ==", encoding=ContentEncoding.BASE64),
    )
    assert encoded.command.content == b"echo hi"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"frequency": "rate(5s)"}, RefusalCode.INVALID_PARAM_FREQUENCY_INTERVAL_TOO_SHORT),
        ({"frequency": ""}, RefusalCode.INVALID_PARAM_FREQUENCY),
        ({"frequency": "x" * 300}, RefusalCode.INVALID_PARAM_FREQUENCY),
        ({"timeout": 5}, RefusalCode.INVALID_PARAM_TIMEOUT),
        ({"parameters": {"nope": "1"}}, RefusalCode.INVALID_PARAM_PARAMETERS),
        ({"content": ""}, RefusalCode.INVALID_PARAM_COMMAND_CONTENT),
        ({"content": "echo {{ACS::Nope}}"}, RefusalCode.INVALID_PARAM_COMMAND_CONTENT),
        ({"content": "x" * 30_000}, RefusalCode.INVALID_PARAM_COMMAND_CONTENT),
        (
            {"content": "%%", "encoding": ContentEncoding.BASE64},
            RefusalCode.INVALID_PARAM_COMMAND_CONTENT,
        ),
    ],
)
def test_modified_values_are_validated_as_at_creation(
    fields: dict[str, Any], code: RefusalCode
) -> None:
    with pytest.raises(KairosError) as error:
        _modify(PERIODIC, _command(), _request(**fields))
    _refused(error, ErrorKind.INVALID_ARGUMENT, code)


def test_a_boot_invocation_takes_no_frequency() -> None:
    boot = invocation_settings(repeat_mode=RepeatMode.EVERY_REBOOT)
    with pytest.raises(KairosError) as error:
        _modify(boot, _command(), _request(frequency="rate(1m)"))
    _refused(error, ErrorKind.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_FREQUENCY)


def test_parameters_given_to_a_command_without_them_are_refused() -> None:
    with pytest.raises(KairosError) as error:
        _modify(PERIODIC, _command(parameters=False), _request(parameters={"a": "1"}))
    _refused(error, ErrorKind.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_PARAMETERS)


@given(
    interval=st.integers(min_value=10, max_value=7 * 86_400),
    elapsed=st.floats(min_value=0, max_value=30 * 86_400, allow_nan=False),
)
def test_planning_again_later_keeps_the_grid_and_makes_up_nothing(
    interval: int, elapsed: float
) -> None:
    """Resume and modify plan from now on the grid anchored at the invocation's creation:
    the next fire is the first grid instant after now, never one already past."""
    settings = invocation_settings(repeat_mode=RepeatMode.PERIOD, frequency=f"rate({interval}s)")
    now = T0 + timedelta(seconds=elapsed)
    [planned] = next_fires(settings, [instance("i-1")], invoke_id="t-1", now=now, created_at=T0)
    assert planned.next_fire_at is not None
    assert now < planned.next_fire_at <= now + timedelta(seconds=interval)
    assert (planned.next_fire_at - T0) % timedelta(seconds=interval) == timedelta(0)
    assert plan_targets(settings, [instance("i-1")], invoke_id="t-1", now=now, created_at=T0) == [
        planned
    ]


def test_boot_targets_are_planned_without_a_next_fire() -> None:
    boot = invocation_settings(repeat_mode=RepeatMode.NEXT_REBOOT_ONLY)
    planned = plan_targets(
        boot, [instance("i-1")], invoke_id="t-1", now=T0, created_at=T0 - timedelta(days=1)
    )
    assert [(p.instance_id, p.next_fire_at) for p in planned] == [("i-1", None)]


@pytest.mark.parametrize("mode", [RepeatMode.PERIOD, RepeatMode.EVERY_REBOOT])
def test_a_live_selector_invocation_with_no_member_can_be_controlled(mode: RepeatMode) -> None:
    check_controllable("t-1", mode, 0, operation="paused", by_selector=True)
    with pytest.raises(KairosError) as error:
        check_controllable("t-1", mode, 0, operation="paused", by_selector=True, stopped=True)
    _refused(error, ErrorKind.FAILED_PRECONDITION, RefusalCode.INVALID_INVOCATION_FINISHED)


@given(
    armed=st.integers(min_value=0, max_value=3),
    by_selector=st.booleans(),
    stopped=st.booleans(),
)
def test_controllable_means_armed_or_a_live_selector(
    armed: int, by_selector: bool, stopped: bool
) -> None:
    controllable = armed > 0 or (by_selector and not stopped)
    try:
        check_controllable(
            "t-1",
            RepeatMode.PERIOD,
            armed,
            operation="resumed",
            by_selector=by_selector,
            stopped=stopped,
        )
    except KairosError:
        assert not controllable
    else:
        assert controllable


def test_a_new_selector_is_a_change_and_is_validated_as_at_creation() -> None:
    selector = [Tag("env", "prod")]
    checked = check_modify_request(Limits(), _request(resource_tags=selector))
    assert checked.resource_tags == selector
    with pytest.raises(KairosError) as error:
        check_modify_request(Limits(), _request(resource_tags=[]))
    _refused(error, ErrorKind.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_MODIFY)
    assert error.value.violations[0].field == "resource_tags.tags"
    with pytest.raises(KairosError) as error:
        check_modify_request(Limits(), _request(resource_tags=[Tag("env", "a"), Tag("env", "b")]))
    _refused(error, ErrorKind.INVALID_ARGUMENT, RefusalCode.INVALID_TAG_KEY_MALFORMED)
    with pytest.raises(KairosError) as error:
        check_modify_request(Limits(), _request(resource_tags=[Tag("k", "")] * 21))
    _refused(error, ErrorKind.INVALID_ARGUMENT, RefusalCode.INVALID_TAG_COUNT)


@pytest.mark.parametrize(
    ("by_selector", "fields", "named"),
    [
        (False, {"resource_tags": [Tag("env", "prod")]}, "resource_tags"),
        (True, {"add_instance_ids": ["i-1"]}, "add_instance_ids"),
        (True, {"remove_instance_ids": ["i-1"]}, "remove_instance_ids"),
    ],
)
def test_an_invocation_keeps_how_it_names_its_instances(
    by_selector: bool, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(KairosError) as error:
        check_retargeting("t-1", _request(**fields), by_selector=by_selector)
    _refused(
        error,
        ErrorKind.FAILED_PRECONDITION,
        RefusalCode.INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS,
    )
    assert error.value.message.startswith(f"{named}: ")
    # The same change is the other kind's own, and a schedule change suits both.
    check_retargeting("t-1", _request(**fields), by_selector=not by_selector)
    check_retargeting("t-1", _request(frequency="rate(1m)"), by_selector=by_selector)
