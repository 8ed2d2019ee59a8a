"""The common commands (issue 13, item 4): definitions, scripts, typed values, safe rendering."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain import catalogue
from scheduler.domain.codes import RefusalCode
from scheduler.domain.control import ModifyRequest, modify
from scheduler.domain.enums import CommandType, ParameterType, RepeatMode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.invocation import SettingsRequest, check_settings, render_execution
from scheduler.domain.limits import Limits, check_content_size
from scheduler.domain.models import Command
from scheduler.domain.parameter_types import ParameterDefinition, check_values, shell_quote
from scheduler.domain.parameters import parameter_names
from tests.factories import invocation_settings

from .expect import assert_refusal
from .test_invocation_rules import NOW, TENANT, instance

INVALID = ErrorKind.INVALID_ARGUMENT
COMMANDS = list(catalogue.COMMON_COMMANDS.values())
IDS = [c.id for c in COMMANDS]
SAMPLES = {"serviceName": "cron"}
"""A value for each required parameter, to render a script with."""
TEXT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"))


def settings_request(parameters: Mapping[str, str]) -> SettingsRequest:
    return SettingsRequest(
        repeat_mode=None,
        frequency="",
        parameters=parameters,
        username="",
        working_dir="",
        timeout=0,
        container_id="",
        container_name="",
    )


def rendered(command: Command, parameters: Mapping[str, str]) -> bytes:
    """The script an instance would get: checked as InvokeCommand checks it, then rendered."""
    checked = check_settings(Limits(), settings_request(parameters), command)
    return render_execution(
        command=command,
        values=checked.parameters,
        instance=instance("i-1"),
        tenant=TENANT,
        invoke_id="t-1",
        execution_id="e-1",
    ).script


def refusal(call: object, *args: object) -> KairosError:
    with pytest.raises(KairosError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


# --- the catalogue -------------------------------------------------------------------------


def test_the_catalogue_ships_the_commands_of_the_issue() -> None:
    assert set(catalogue.COMMON_COMMANDS) >= {
        "Kairos-CollectDiagnostics",
        "Kairos-CheckDiskSpace",
        "Kairos-UpdatePackages",
        "Kairos-RestartService",
        "Kairos-CleanupLogs",
    }
    assert sorted(IDS) == IDS


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_each_command_is_a_documented_shell_script_with_typed_parameters(command: Command) -> None:
    assert command.id == command.name and catalogue.is_common(command.id)
    assert command.provider == catalogue.PROVIDER
    assert command.type is CommandType.RUN_SHELL_SCRIPT
    assert command.description and command.enable_parameter and command.kept
    check_content_size(command.content, Limits().max_saved_content)
    # The script's placeholders are exactly the definitions, and no built-in is used.
    assert parameter_names(command.content, 20) == command.parameter_names
    assert command.parameter_names == [d.name for d in command.parameter_definitions]
    assert b"ACS::" not in command.content
    for definition in command.parameter_definitions:
        assert definition.description
        # Every value reaches the script as one assignment of a shell word.
        assert f"={{{{{definition.name}}}}}\n".encode() in command.content
        if definition.default is not None:
            assert definition.check(definition.default) == definition.default
        if definition.type is not ParameterType.INTEGER:
            assert definition.minimum is definition.maximum is None
    dry_run = command.parameter_definitions[-1]
    assert (dry_run.name, dry_run.type, dry_run.default) == (
        "dryRun",
        ParameterType.BOOLEAN,
        "false",
    )


@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_each_rendered_script_parses(command: Command, shell: str) -> None:
    script = rendered(command, {k: v for k, v in SAMPLES.items() if k in command.parameter_names})
    checked = subprocess.run([shell, "-n"], input=script, capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr.decode()


def test_only_the_prefix_makes_a_common_command() -> None:
    assert catalogue.is_common("Kairos-Anything")
    assert not catalogue.is_common("c-0123456789abcdef01234567")
    assert catalogue.find("Kairos-Nope") is None
    assert (
        catalogue.find("Kairos-CheckDiskSpace")
        is catalogue.COMMON_COMMANDS["Kairos-CheckDiskSpace"]
    )


def test_select_filters_like_describe_commands() -> None:
    assert catalogue.select(command_id="", name="", type=None, tagged=False) == COMMANDS
    assert [
        c.id
        for c in catalogue.select(command_id="", name="Kairos-CleanupLogs", type=None, tagged=False)
    ] == ["Kairos-CleanupLogs"]
    assert (
        catalogue.select(command_id="", name="", type=CommandType.RUN_BAT_SCRIPT, tagged=False)
        == []
    )
    assert catalogue.select(command_id="", name="", type=None, tagged=True) == []


@pytest.mark.parametrize("provider", ["Kairos", "aliyun", " kairos"])
def test_an_unknown_provider_is_refused(provider: str) -> None:
    error = refusal(catalogue.check_provider, provider)
    assert_refusal(error, INVALID, RefusalCode.INVALID_PARAM_PROVIDER, "provider", "kairos")


@pytest.mark.parametrize("action", ["modified", "deleted"])
def test_a_common_command_is_nobody_s_to_change(action: str) -> None:
    error = refusal(catalogue.check_own, "Kairos-CheckDiskSpace", action)
    assert_refusal(
        error,
        ErrorKind.FAILED_PRECONDITION,
        RefusalCode.INVALID_COMMAND_ID_COMMON_COMMAND,
        None,
        "Kairos-CheckDiskSpace",
        action,
    )
    catalogue.check_own("c-0123", action)


# --- typed values ------------------------------------------------------------------------------

THRESHOLD = catalogue.COMMON_COMMANDS["Kairos-CheckDiskSpace"].parameter_definitions[1]
SERVICE = catalogue.COMMON_COMMANDS["Kairos-RestartService"].parameter_definitions[0]
BOOLEAN = ParameterDefinition(
    name="flag", description="d", type=ParameterType.BOOLEAN, default="false"
)
CHOICE = ParameterDefinition(
    name="mode",
    description="d",
    type=ParameterType.STRING,
    default="fast",
    allowed_values=("fast", "slow"),
)


@given(st.integers(min_value=-(10**17), max_value=10**17))
def test_an_integer_is_taken_within_its_range_only(number: int) -> None:
    if 1 <= number <= 100:
        assert THRESHOLD.check(str(number)) == str(number)
        assert THRESHOLD.check(f"00{number}") == str(number)
    else:
        error = refusal(THRESHOLD.check, str(number))
        assert_refusal(
            error,
            INVALID,
            RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
            "parameters.threshold",
            "from 1 to 100",
        )


@given(TEXT.filter(lambda text: not text.isascii() or not text.lstrip("-").isdigit()))
def test_an_integer_is_decimal_digits_only(text: str) -> None:
    error = refusal(THRESHOLD.check, text)
    assert_refusal(
        error, INVALID, RefusalCode.INVALID_PARAM_PARAMETER_VALUE, "parameters.threshold"
    )


@given(TEXT)
def test_a_boolean_is_true_or_false_in_any_case(text: str) -> None:
    if text.lower() in ("true", "false"):
        assert BOOLEAN.check(text) == text.lower()
    else:
        error = refusal(BOOLEAN.check, text)
        assert_refusal(error, INVALID, RefusalCode.INVALID_PARAM_PARAMETER_VALUE, "parameters.flag")


@given(TEXT)
def test_an_enum_takes_its_allowed_values_only(text: str) -> None:
    if text in ("fast", "slow"):
        assert CHOICE.check(text) == text
    else:
        assert_refusal(
            refusal(CHOICE.check, text),
            INVALID,
            RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
            "parameters.mode",
            "fast, slow",
        )


@pytest.mark.parametrize(
    "name", ["-h", "nginx; reboot", "a b", "$(reboot)", "x'y", "a\nb", "", "s" * 257]
)
def test_a_service_name_is_a_unit_name(name: str) -> None:
    assert_refusal(
        refusal(SERVICE.check, name),
        INVALID,
        RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
        "parameters.serviceName",
    )


def test_a_string_has_a_length_limit() -> None:
    free = ParameterDefinition(name="s", description="d", type=ParameterType.STRING, default="")
    assert free.check("x" * 1024) == "x" * 1024
    assert_refusal(
        refusal(free.check, "x" * 1025),
        INVALID,
        RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
        "parameters.s",
        "1024",
    )


def test_defaults_fill_in_and_a_required_parameter_is_required() -> None:
    definitions = catalogue.COMMON_COMMANDS["Kairos-RestartService"].parameter_definitions
    assert check_values(definitions, {"serviceName": "cron"}) == {
        "serviceName": "cron",
        "dryRun": "false",
    }
    assert_refusal(
        refusal(check_values, definitions, {}),
        INVALID,
        RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
        "parameters.serviceName",
        "required",
    )
    assert_refusal(
        refusal(check_values, definitions, {"serviceName": "cron", "force": "true"}),
        INVALID,
        RefusalCode.INVALID_PARAM_PARAMETERS,
        "parameters",
        "force",
    )


# --- rendering: a value is one shell word ------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(TEXT)
def test_a_quoted_value_reaches_the_shell_as_itself(value: str) -> None:
    script = f'v={shell_quote(value)}\nprintf %s "$v"\n'.encode()
    ran = subprocess.run(["sh"], input=script, capture_output=True, check=True)
    assert ran.stdout == value.encode()


def test_an_injection_through_a_path_is_a_harmless_path(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    command = catalogue.COMMON_COMMANDS["Kairos-CheckDiskSpace"]
    for path in (
        f"/nope'; touch {marker}; echo '",
        f"/nope$(touch {marker})",
        f"/nope`touch {marker}`",
    ):
        script = rendered(command, {"path": path})
        ran = subprocess.run(["sh"], input=script, capture_output=True, check=False)
        assert ran.returncode == 2, ran
        assert b"does not exist" in ran.stderr
        assert not marker.exists(), path
    # A newline is no path's: refused before anything is rendered.
    assert_refusal(
        refusal(rendered, command, {"path": f"/nope\ntouch {marker}"}),
        INVALID,
        RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
        "parameters.path",
    )


def test_a_saved_command_s_values_are_rendered_as_given() -> None:
    own = Command(
        id="c-1",
        name="own",
        description="",
        type=CommandType.RUN_SHELL_SCRIPT,
        content=b"echo {{who}}",
        working_dir="",
        timeout=60,
        enable_parameter=True,
        parameter_names=["who"],
        kept=True,
    )
    assert rendered(own, {"who": "a b"}) == b"echo a b"


def test_the_defaults_reach_the_script() -> None:
    script = rendered(catalogue.COMMON_COMMANDS["Kairos-CheckDiskSpace"], {"threshold": "85"})
    assert b"path='/'\nthreshold='85'\ndry_run='false'\n" in script


# --- ModifyInvocation of an invocation of a common command -------------------------------------

RESTART = catalogue.COMMON_COMMANDS["Kairos-RestartService"]
CURRENT = invocation_settings(
    repeat_mode=RepeatMode.PERIOD,
    frequency="rate(1h)",
    parameters={"serviceName": "cron", "dryRun": "false"},
)


def modified(request: ModifyRequest) -> Mapping[str, str]:
    return modify(Limits(), CURRENT, RESTART, request, created_at=NOW).settings.parameters


def test_modify_checks_a_common_command_s_values() -> None:
    request = ModifyRequest(
        parameters={"serviceName": "nginx", "dryRun": "TRUE"},
        add_instance_ids=[],
        remove_instance_ids=[],
    )
    assert modified(request) == {"serviceName": "nginx", "dryRun": "true"}
    bad = ModifyRequest(
        parameters={"serviceName": "nginx; reboot"}, add_instance_ids=[], remove_instance_ids=[]
    )
    assert_refusal(
        refusal(modified, bad),
        INVALID,
        RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
        "parameters.serviceName",
    )


def test_modify_keeps_a_common_command_s_script() -> None:
    request = ModifyRequest(content="echo mine", add_instance_ids=[], remove_instance_ids=[])
    assert_refusal(
        refusal(modified, request),
        ErrorKind.FAILED_PRECONDITION,
        RefusalCode.INVALID_COMMAND_ID_COMMON_COMMAND,
        None,
        "command_content",
    )
