"""Creating and modifying commands: required fields, lengths, content size, parameters."""

from __future__ import annotations

import base64

import pytest

from scheduler.domain.command import CommandChanges, CommandRequest, check_changes, new_command
from scheduler.domain.enums import CommandType, ContentEncoding
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.limits import KIB, Limits

from .expect import assert_refusal

INVALID = ErrorKind.INVALID_ARGUMENT


def command_request(
    *,
    name: str = "deploy",
    description: str = "",
    type: CommandType | None = CommandType.RUN_SHELL_SCRIPT,
    content: str = "echo hi",
    encoding: ContentEncoding = ContentEncoding.PLAIN_TEXT,
    working_dir: str = "",
    timeout: int = 0,
    enable_parameter: bool = False,
) -> CommandRequest:
    return CommandRequest(
        name=name,
        description=description,
        type=type,
        content=content,
        encoding=encoding,
        working_dir=working_dir,
        timeout=timeout,
        enable_parameter=enable_parameter,
    )


def changes(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: int | None = None,
    working_dir: str | None = None,
) -> CommandChanges:
    return CommandChanges(
        name=name, description=description, timeout=timeout, working_dir=working_dir
    )


def test_a_valid_command() -> None:
    cmd = new_command(
        Limits(),
        command_request(
            name="deploy",
            description="ships it",
            content="echo {{ who }} {{ACS::InstanceId}}",
            working_dir="/srv",
            timeout=120,
            enable_parameter=True,
        ),
        command_id="c-1",
        kept=True,
    )
    assert cmd.id == "c-1"
    assert (cmd.name, cmd.description, cmd.type) == (
        "deploy",
        "ships it",
        CommandType.RUN_SHELL_SCRIPT,
    )
    assert cmd.content == b"echo {{ who }} {{ACS::InstanceId}}"
    assert (cmd.working_dir, cmd.timeout, cmd.kept) == ("/srv", 120, True)
    assert (cmd.enable_parameter, cmd.parameter_names) == (True, ["who"])


def test_type_is_required() -> None:
    with pytest.raises(KairosError) as info:
        new_command(Limits(), command_request(type=None), command_id="c-1", kept=True)
    assert_refusal(info.value, INVALID, "InvalidParam.Type", "type", "type")


def test_timeout_defaults_and_bounds() -> None:
    cmd = new_command(Limits(), command_request(timeout=0), command_id="c-1", kept=True)
    assert cmd.timeout == 3600
    for timeout in (10, 86_400):
        cmd = new_command(Limits(), command_request(timeout=timeout), command_id="c-1", kept=True)
        assert cmd.timeout == timeout
    for timeout in (9, 86_401):
        with pytest.raises(KairosError) as info:
            new_command(Limits(), command_request(timeout=timeout), command_id="c-1", kept=True)
        assert_refusal(info.value, INVALID, "InvalidParam.Timeout", "timeout")


def test_name_required_only_for_kept_commands() -> None:
    with pytest.raises(KairosError) as info:
        new_command(Limits(), command_request(name=""), command_id="c-1", kept=True)
    assert_refusal(info.value, INVALID, "InvalidParam.Name", "name", "required")
    unkept = new_command(Limits(), command_request(name=""), command_id="c-1", kept=False)
    assert (unkept.name, unkept.kept) == ("c-1", False)


@pytest.mark.parametrize(
    ("field", "limit", "code"),
    [
        ("name", 128, "InvalidParam.Name"),
        ("description", 512, "InvalidParam.Description"),
        ("working_dir", 200, "InvalidParam.WorkingDir"),
    ],
)
@pytest.mark.parametrize("kept", [True, False])
def test_lengths(field: str, limit: int, code: str, kept: bool) -> None:
    ok = {field: "x" * limit}
    new_command(Limits(), command_request(**ok), command_id="c-1", kept=kept)  # type: ignore[arg-type]
    over = {field: "x" * (limit + 1)}
    with pytest.raises(KairosError) as info:
        new_command(Limits(), command_request(**over), command_id="c-1", kept=kept)  # type: ignore[arg-type]
    assert_refusal(info.value, INVALID, code, field, str(limit))


@pytest.mark.parametrize(("kept", "limit"), [(True, 18 * KIB), (False, 24 * KIB)])
@pytest.mark.parametrize("encoding", list(ContentEncoding))
def test_content_size_saved_and_not_kept(kept: bool, limit: int, encoding: ContentEncoding) -> None:
    largest = limit // 4 * 3

    def content(size: int) -> str:
        text = "x" * size
        if encoding is ContentEncoding.BASE64:
            return base64.b64encode(text.encode()).decode()
        return text

    cmd = new_command(
        Limits(),
        command_request(content=content(largest), encoding=encoding),
        command_id="c",
        kept=kept,
    )
    assert len(cmd.content) == largest
    with pytest.raises(KairosError) as info:
        new_command(
            Limits(),
            command_request(content=content(largest + 1), encoding=encoding),
            command_id="c",
            kept=kept,
        )
    assert_refusal(
        info.value, INVALID, "InvalidParam.CommandContent", "command_content", str(limit)
    )


def test_content_size_counts_utf8_bytes_of_plain_text() -> None:
    # 6,912 "é" are 13,824 bytes: exactly 18 KB once Base64-encoded.
    new_command(Limits(), command_request(content="é" * 6912), command_id="c", kept=True)
    with pytest.raises(KairosError):
        new_command(Limits(), command_request(content="é" * 6913), command_id="c", kept=True)


def test_content_limits_are_configurable() -> None:
    limits = Limits(max_saved_content=8, max_unsaved_content=12)
    new_command(limits, command_request(content="123456"), command_id="c", kept=True)
    with pytest.raises(KairosError):
        new_command(limits, command_request(content="1234567"), command_id="c", kept=True)
    new_command(limits, command_request(content="123456789"), command_id="c", kept=False)


def test_base64_content_is_decoded_and_checked() -> None:
    script = b"echo \xff {{a}}"
    cmd = new_command(
        Limits(),
        command_request(
            content=base64.b64encode(script).decode(),
            encoding=ContentEncoding.BASE64,
            enable_parameter=True,
        ),
        command_id="c",
        kept=True,
    )
    assert (cmd.content, cmd.parameter_names) == (script, ["a"])
    with pytest.raises(KairosError) as info:
        new_command(
            Limits(),
            command_request(content="not base64!", encoding=ContentEncoding.BASE64),
            command_id="c",
            kept=True,
        )
    assert_refusal(info.value, INVALID, "InvalidParam.CommandContent", "command_content", "Base64")


def test_plain_text_that_looks_like_base64_is_not_decoded() -> None:
    cmd = new_command(Limits(), command_request(content="ZWNobw=="), command_id="c", kept=True)
    assert cmd.content == b"ZWNobw=="


def test_empty_content_fails() -> None:
    with pytest.raises(KairosError) as info:
        new_command(Limits(), command_request(content=""), command_id="c", kept=True)
    assert_refusal(info.value, INVALID, "InvalidParam.CommandContent", "command_content")


def test_parameters_are_only_parsed_when_enabled() -> None:
    script = "echo {{ bad name }} {{ACS::Nope}}"
    cmd = new_command(Limits(), command_request(content=script), command_id="c", kept=True)
    assert (cmd.enable_parameter, cmd.parameter_names) == (False, [])
    with pytest.raises(KairosError) as info:
        new_command(
            Limits(),
            command_request(content=script, enable_parameter=True),
            command_id="c",
            kept=True,
        )
    assert info.value.code == "InvalidParam.CommandContent"


def test_parameter_count_limit() -> None:
    def script(n: int) -> str:
        return " ".join(f"{{{{p{k}}}}}" for k in range(n))

    cmd = new_command(
        Limits(),
        command_request(content=script(20), enable_parameter=True),
        command_id="c",
        kept=True,
    )
    assert len(cmd.parameter_names) == 20
    with pytest.raises(KairosError) as info:
        new_command(
            Limits(),
            command_request(content=script(21), enable_parameter=True),
            command_id="c",
            kept=True,
        )
    assert_refusal(info.value, INVALID, "InvalidParam.CommandContent", "command_content", "20")


# --- ModifyCommand -------------------------------------------------------------------------


def test_nothing_set_changes_nothing() -> None:
    assert check_changes(Limits(), changes()) == {}


def test_every_field_set() -> None:
    values = check_changes(Limits(), changes(name="n", description="", timeout=0, working_dir=""))
    assert values == {"name": "n", "description": "", "timeout": 3600, "working_dir": ""}


def test_modified_name_cannot_be_blank() -> None:
    with pytest.raises(KairosError) as info:
        check_changes(Limits(), changes(name=" "))
    assert_refusal(info.value, INVALID, "InvalidParam.Name", "name", "required")


@pytest.mark.parametrize(
    ("field", "limit", "code"),
    [
        ("name", 128, "InvalidParam.Name"),
        ("description", 512, "InvalidParam.Description"),
        ("working_dir", 200, "InvalidParam.WorkingDir"),
    ],
)
def test_modified_lengths(field: str, limit: int, code: str) -> None:
    assert check_changes(Limits(), changes(**{field: "x" * limit})) == {field: "x" * limit}  # type: ignore[arg-type]
    with pytest.raises(KairosError) as info:
        check_changes(Limits(), changes(**{field: "x" * (limit + 1)}))  # type: ignore[arg-type]
    assert_refusal(info.value, INVALID, code, field, str(limit))


def test_modified_timeout_bounds() -> None:
    assert check_changes(Limits(), changes(timeout=10)) == {"timeout": 10}
    assert check_changes(Limits(), changes(timeout=86_400)) == {"timeout": 86_400}
    for timeout in (9, 86_401):
        with pytest.raises(KairosError) as info:
            check_changes(Limits(), changes(timeout=timeout))
        assert_refusal(info.value, INVALID, "InvalidParam.Timeout", "timeout")
