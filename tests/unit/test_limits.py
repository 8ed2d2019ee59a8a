"""SPEC §3 limits: every boundary passes at the limit and fails one past it."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.limits import (
    DEFAULT_PAGE,
    KIB,
    MAX_CLIENT_TOKEN,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_PAGE,
    MAX_USERNAME,
    MAX_WORKING_DIR,
    Limits,
    base64_size,
    check_client_token,
    check_content_size,
    check_instance_ids,
    check_length,
    check_page_size,
    check_timeout,
    decode_content,
)

from .expect import assert_refusal

INVALID = ErrorKind.INVALID_ARGUMENT


def test_defaults_are_the_spec_values() -> None:
    limits = Limits()
    assert limits.max_commands == 100
    assert limits.max_daily_executions == 5000
    assert limits.max_instances_per_call == 50
    assert limits.max_instances == 10_000
    assert limits.max_saved_content == 18 * 1024
    assert limits.max_unsaved_content == 24 * 1024
    assert limits.max_output == 24 * 1024
    assert (limits.default_timeout, limits.min_timeout, limits.max_timeout) == (3600, 10, 86_400)
    assert limits.max_parameters == 20
    assert limits.delivery_timeout == 60
    assert limits.offline_after == 120
    assert (MAX_NAME, MAX_DESCRIPTION, MAX_WORKING_DIR, MAX_USERNAME) == (128, 512, 200, 255)
    assert (MAX_CLIENT_TOKEN, MAX_PAGE, DEFAULT_PAGE) == (64, 50, 10)


# --- lengths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "limit", "code"),
    [
        ("name", MAX_NAME, "InvalidParam.Name"),
        ("description", MAX_DESCRIPTION, "InvalidParam.Description"),
        ("working_dir", MAX_WORKING_DIR, "InvalidParam.WorkingDir"),
        ("username", MAX_USERNAME, "InvalidParam.Username"),
    ],
)
def test_length_at_the_limit_passes_and_one_over_fails(field: str, limit: int, code: str) -> None:
    at_limit = "x" * limit
    assert check_length(RefusalCode(code), field, at_limit, limit) == at_limit
    with pytest.raises(KairosError) as info:
        check_length(RefusalCode(code), field, at_limit + "x", limit)
    assert_refusal(info.value, INVALID, code, field, field, str(limit), str(limit + 1))


def test_length_counts_characters_not_bytes() -> None:
    value = "é" * MAX_NAME  # 256 bytes in UTF-8
    assert check_length(RefusalCode.INVALID_PARAM_NAME, "name", value, MAX_NAME) == value


def test_required_refuses_empty_and_blank() -> None:
    for value in ("", "   ", "\t\n"):
        with pytest.raises(KairosError) as info:
            check_length(RefusalCode.INVALID_PARAM_NAME, "name", value, MAX_NAME, required=True)
        assert_refusal(info.value, INVALID, "InvalidParam.Name", "name", "name is required")


def test_not_required_accepts_empty() -> None:
    assert (
        check_length(RefusalCode.INVALID_PARAM_DESCRIPTION, "description", "", MAX_DESCRIPTION)
        == ""
    )


# --- timeout -------------------------------------------------------------------------------


def test_timeout_zero_means_the_default() -> None:
    assert check_timeout(Limits(), 0) == 3600
    assert check_timeout(Limits(default_timeout=77), 0) == 77


@pytest.mark.parametrize("timeout", [10, 11, 3600, 86_399, 86_400])
def test_timeout_within_bounds_passes(timeout: int) -> None:
    assert check_timeout(Limits(), timeout) == timeout


@pytest.mark.parametrize("timeout", [9, 1, -1, -3600, 86_401, 10**12])
def test_timeout_outside_bounds_fails(timeout: int) -> None:
    with pytest.raises(KairosError) as info:
        check_timeout(Limits(), timeout)
    assert_refusal(
        info.value, INVALID, "InvalidParam.Timeout", "timeout", "10", "86400", str(timeout)
    )


def test_timeout_bounds_follow_the_configuration_and_field_name() -> None:
    limits = Limits(min_timeout=5, max_timeout=100)
    assert check_timeout(limits, 5) == 5
    assert check_timeout(limits, 100) == 100
    with pytest.raises(KairosError) as info:
        check_timeout(limits, 101, "step_timeout")
    assert_refusal(info.value, INVALID, "InvalidParam.Timeout", "step_timeout", "5", "100")


# --- client token --------------------------------------------------------------------------


def test_client_token_empty_means_none() -> None:
    assert check_client_token("") == ""


def test_client_token_of_64_printable_characters_passes() -> None:
    printable = "".join(chr(c) for c in range(0x21, 0x7F))  # 94 characters
    assert check_client_token(printable[:64]) == printable[:64]
    assert check_client_token(printable[30:94]) == printable[30:94]


def test_client_token_of_65_characters_fails() -> None:
    with pytest.raises(KairosError) as info:
        check_client_token("a" * 65)
    assert_refusal(
        info.value, INVALID, "InvalidParam.ClientToken", "client_token", "client_token", "64"
    )


@pytest.mark.parametrize("token", ["é", "token-ü", "a\x00b", "a\tb", "a\nb", "\x7f", "a b"])
def test_client_token_must_be_printable_ascii(token: str) -> None:
    with pytest.raises(KairosError) as info:
        check_client_token(token)
    assert_refusal(info.value, INVALID, "InvalidParam.ClientToken", "client_token", "ASCII")


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=64))
def test_client_token_any_printable_up_to_64_passes(token: str) -> None:
    assert check_client_token(token) == token


# --- page size -----------------------------------------------------------------------------


def test_page_size_zero_means_ten() -> None:
    assert check_page_size(0) == 10


@pytest.mark.parametrize("size", [1, 2, 10, 49, 50])
def test_page_size_one_to_fifty_passes(size: int) -> None:
    assert check_page_size(size) == size


@pytest.mark.parametrize("size", [51, 100, -1])
def test_page_size_outside_fails(size: int) -> None:
    with pytest.raises(KairosError) as info:
        check_page_size(size)
    assert_refusal(info.value, INVALID, "InvalidParam.MaxResults", "max_results", "50", str(size))


# --- instance ids --------------------------------------------------------------------------


def _ids(n: int) -> list[str]:
    return [f"i-{k:04d}" for k in range(n)]


def test_fifty_instances_pass_fifty_one_fail() -> None:
    assert check_instance_ids(Limits(), _ids(50)) == _ids(50)
    with pytest.raises(KairosError) as info:
        check_instance_ids(Limits(), _ids(51))
    assert_refusal(info.value, INVALID, "InvalidParam.InstanceId", "instance_ids", "51", "50")


def test_instance_limit_is_configurable() -> None:
    assert check_instance_ids(Limits(max_instances_per_call=2), _ids(2)) == _ids(2)
    with pytest.raises(KairosError):
        check_instance_ids(Limits(max_instances_per_call=2), _ids(3))


def test_duplicates_count_once_and_order_is_kept() -> None:
    ids = ["i-b", "i-a", " i-b", "i-a ", "i-c"]
    assert check_instance_ids(Limits(), ids) == ["i-b", "i-a", "i-c"]
    assert check_instance_ids(Limits(), _ids(50) * 2) == _ids(50)


def test_empty_instance_id_fails() -> None:
    for ids in (["i-a", ""], ["  "]):
        with pytest.raises(KairosError) as info:
            check_instance_ids(Limits(), ids)
        assert_refusal(info.value, INVALID, "InvalidParam.InstanceId", "instance_ids", "empty")


def test_instance_ids_required_unless_optional() -> None:
    with pytest.raises(KairosError) as info:
        check_instance_ids(Limits(), [])
    assert_refusal(info.value, INVALID, "InvalidParam.InstanceId", "instance_ids", "required")
    assert check_instance_ids(Limits(), [], required=False) == []


# --- content -------------------------------------------------------------------------------


def test_plain_text_content_is_utf8_bytes() -> None:
    assert decode_content("echo ü", base64_encoded=False) == "echo ü".encode()


def test_base64_content_is_decoded() -> None:
    script = b"#!/bin/sh\necho \xff\n"
    assert decode_content(base64.b64encode(script).decode(), base64_encoded=True) == script


@pytest.mark.parametrize("encoded", [False, True])
def test_empty_content_fails(encoded: bool) -> None:
    with pytest.raises(KairosError) as info:
        decode_content("", base64_encoded=encoded)
    assert_refusal(
        info.value, INVALID, "InvalidParam.CommandContent", "command_content", "required"
    )


@pytest.mark.parametrize(
    "content",
    ["YQ", "Y", "====", "ZWNobw=!", "echo hi", "YQ==YQ==", "é", "ZWNo*G8="],
)
def test_invalid_base64_fails(content: str) -> None:
    with pytest.raises(KairosError) as info:
        decode_content(content, base64_encoded=True)
    assert_refusal(info.value, INVALID, "InvalidParam.CommandContent", "command_content", "Base64")


def test_base64_size_arithmetic() -> None:
    assert [base64_size(n) for n in range(8)] == [0, 4, 4, 4, 8, 8, 8, 12]
    assert base64_size(13_824) == 18 * KIB
    assert base64_size(13_825) == 18 * KIB + 4
    assert base64_size(18_432) == 24 * KIB


@given(st.binary(max_size=300))
def test_base64_size_is_the_encoded_length(raw: bytes) -> None:
    assert base64_size(len(raw)) == len(base64.b64encode(raw))


@pytest.mark.parametrize(
    ("limit", "largest"), [(18 * KIB, 13_824), (24 * KIB, 18_432), (32 * KIB, 24_576)]
)
def test_content_size_boundary(limit: int, largest: int) -> None:
    check_content_size(b"x" * largest, limit)
    with pytest.raises(KairosError) as info:
        check_content_size(b"x" * (largest + 1), limit)
    assert_refusal(
        info.value,
        INVALID,
        "InvalidParam.CommandContent",
        "command_content",
        str(limit),
        str(limit + 4),
        "Base64",
    )


def test_content_size_names_what_was_measured() -> None:
    with pytest.raises(KairosError) as info:
        check_content_size(b"x" * 100, 8, what="content")
    assert_refusal(info.value, INVALID, "InvalidParam.CommandContent", "content", "content")
