"""The pure rules of file tasks (SendFile): every field's check, defaults, statuses."""

from __future__ import annotations

import base64
import posixpath
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import ContentEncoding, InvocationStatus
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.files import (
    FILE_STATUSES,
    MAX_CONTENT,
    SendFileRequest,
    check_account_name,
    check_file_name,
    check_send_file,
    check_target_dir,
    file_status,
    file_timeout,
    format_mode,
    is_normal_directory,
    parse_mode,
    statuses_shown_as,
)
from scheduler.domain.limits import Limits
from tests.unit.expect import assert_refusal

LIMITS = Limits()
REQUEST = SendFileRequest(
    name="app.conf",
    description="",
    target_dir="/etc/app",
    content="key=value\n",
    content_type=ContentEncoding.PLAIN_TEXT,
    file_mode="",
    file_owner="",
    file_group="",
    overwrite=False,
    timeout=0,
)


def refused(request: SendFileRequest) -> KairosError:
    with pytest.raises(KairosError) as raised:
        check_send_file(LIMITS, request)
    return raised.value


def test_defaults_are_cloud_assistants() -> None:
    task = check_send_file(LIMITS, REQUEST)
    assert (task.spec.mode, task.spec.owner, task.spec.group, task.spec.overwrite) == (
        0o644,
        "root",
        "root",
        False,
    )
    assert task.timeout == 60
    assert task.content == b"key=value\n"
    assert (task.spec.name, task.spec.target_dir) == ("app.conf", "/etc/app")


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"name": ""}, RefusalCode.INVALID_PARAM_FILE_NAME, "name"),
        ({"name": "a/b"}, RefusalCode.INVALID_PARAM_FILE_NAME, "name"),
        ({"name": ".."}, RefusalCode.INVALID_PARAM_FILE_NAME, "name"),
        ({"name": "."}, RefusalCode.INVALID_PARAM_FILE_NAME, "name"),
        ({"name": "a\0b"}, RefusalCode.INVALID_PARAM_FILE_NAME, "name"),
        ({"name": "x" * 256}, RefusalCode.INVALID_PARAM_FILE_NAME, "name"),
        ({"name": "é" * 128}, RefusalCode.INVALID_PARAM_FILE_NAME, "name"),
        ({"target_dir": ""}, RefusalCode.INVALID_PARAM_TARGET_DIR, "target_dir"),
        ({"target_dir": "etc/app"}, RefusalCode.INVALID_PARAM_TARGET_DIR, "target_dir"),
        ({"target_dir": "/etc/../root"}, RefusalCode.INVALID_PARAM_TARGET_DIR, "target_dir"),
        ({"target_dir": "/etc/"}, RefusalCode.INVALID_PARAM_TARGET_DIR, "target_dir"),
        ({"target_dir": "//etc"}, RefusalCode.INVALID_PARAM_TARGET_DIR, "target_dir"),
        ({"target_dir": "/" + "a" * 255}, RefusalCode.INVALID_PARAM_TARGET_DIR, "target_dir"),
        ({"content": ""}, RefusalCode.INVALID_PARAM_CONTENT, "content"),
        (
            {"content": "not base64!", "content_type": ContentEncoding.BASE64},
            RefusalCode.INVALID_PARAM_CONTENT,
            "content",
        ),
        ({"content": "x" * 24_577}, RefusalCode.INVALID_PARAM_CONTENT, "content"),
        ({"file_mode": "644x"}, RefusalCode.INVALID_PARAM_FILE_MODE, "file_mode"),
        ({"file_mode": "64"}, RefusalCode.INVALID_PARAM_FILE_MODE, "file_mode"),
        ({"file_mode": "08"}, RefusalCode.INVALID_PARAM_FILE_MODE, "file_mode"),
        ({"file_mode": "17777"}, RefusalCode.INVALID_PARAM_FILE_MODE, "file_mode"),
        ({"file_owner": "-root"}, RefusalCode.INVALID_PARAM_FILE_OWNER, "file_owner"),
        ({"file_owner": "a" * 33}, RefusalCode.INVALID_PARAM_FILE_OWNER, "file_owner"),
        ({"file_group": "wheel group"}, RefusalCode.INVALID_PARAM_FILE_GROUP, "file_group"),
        ({"timeout": -1}, RefusalCode.INVALID_PARAM_TIMEOUT, "timeout"),
        ({"timeout": 86_401}, RefusalCode.INVALID_PARAM_TIMEOUT, "timeout"),
        ({"description": "d" * 513}, RefusalCode.INVALID_PARAM_DESCRIPTION, "description"),
    ],
)
def test_each_bad_field_is_refused_by_name(
    changes: dict[str, object], code: RefusalCode, field: str
) -> None:
    error = refused(replace(REQUEST, **changes))  # type: ignore[arg-type]
    assert_refusal(error, ErrorKind.INVALID_ARGUMENT, code, field, field)


def test_content_limit_is_32768_bytes_once_base64_encoded() -> None:
    largest = b"x" * (MAX_CONTENT // 4 * 3)
    encoded = base64.b64encode(largest).decode()
    assert len(encoded) == MAX_CONTENT
    task = check_send_file(
        LIMITS, replace(REQUEST, content=encoded, content_type=ContentEncoding.BASE64)
    )
    assert task.content == largest
    over = base64.b64encode(largest + b"x").decode()
    error = refused(replace(REQUEST, content=over, content_type=ContentEncoding.BASE64))
    assert_refusal(error, ErrorKind.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_CONTENT, "content")


@given(st.integers(min_value=1, max_value=9))
def test_a_short_timeout_is_raised_to_ten(timeout: int) -> None:
    assert file_timeout(LIMITS, timeout) == 10


@given(st.integers(min_value=10, max_value=86_400))
def test_a_timeout_in_range_is_kept(timeout: int) -> None:
    assert file_timeout(LIMITS, timeout) == timeout


@given(st.integers(min_value=0, max_value=0o7777))
def test_modes_round_trip_through_their_octal_text(mode: int) -> None:
    assert parse_mode(format_mode(mode)) == mode
    assert parse_mode(f"{mode:03o}") == mode  # 3 digits where they suffice, 4 otherwise


@given(st.text(min_size=1, max_size=80))
def test_a_name_is_accepted_exactly_when_it_is_one_plain_path_component(name: str) -> None:
    plain = (
        "/" not in name
        and "\0" not in name
        and name not in (".", "..")
        and len(name.encode()) <= 255
    )
    try:
        assert check_file_name(name) == name
        accepted = True
    except KairosError:
        accepted = False
    assert accepted is plain
    if accepted:
        assert posixpath.basename(posixpath.join("/d", name)) == name


@given(st.lists(st.sampled_from(["a", "etc", ".", "..", "", "x y"]), max_size=6))
def test_a_directory_is_normal_when_normpath_keeps_it(parts: list[str]) -> None:
    path = "/" + "/".join(parts)
    normal = posixpath.normpath(path) == path and not path.startswith("//")
    assert is_normal_directory(path) is normal
    if normal:
        assert check_target_dir(path) == path


@given(st.from_regex(r"[A-Za-z0-9_.][A-Za-z0-9_.-]{0,31}", fullmatch=True))
def test_posix_names_are_accepted(name: str) -> None:
    assert check_account_name(RefusalCode.INVALID_PARAM_FILE_OWNER, "file_owner", name) == name


@given(st.sampled_from(list(InvocationStatus)))
def test_every_status_shows_as_one_of_the_seven(status: InvocationStatus) -> None:
    shown = file_status(status)
    assert shown in FILE_STATUSES
    assert status in statuses_shown_as(shown)


def test_the_seven_show_as_themselves_and_filters_cover_every_status() -> None:
    assert [file_status(s) for s in FILE_STATUSES] == list(FILE_STATUSES)
    covered = [s for shown in FILE_STATUSES for s in statuses_shown_as(shown)]
    assert sorted(covered) == sorted(InvocationStatus)
    assert statuses_shown_as(InvocationStatus.ABORTED) == [
        InvocationStatus.ABORTED,
        InvocationStatus.CANCELLED,
        InvocationStatus.TERMINATED,
        InvocationStatus.STOPPED,
    ]


def test_a_filter_by_a_status_no_file_task_shows_is_refused() -> None:
    with pytest.raises(KairosError) as raised:
        statuses_shown_as(InvocationStatus.PARTIAL_FAILED)
    assert_refusal(
        raised.value,
        ErrorKind.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_INVOCATION_STATUS,
        "invocation_status",
        "PartialFailed",
    )
