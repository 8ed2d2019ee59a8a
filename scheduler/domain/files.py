"""Pure rules of file tasks (SendFile, Cloud Assistant's): the request's checks, the file's
description as the agent gets it, and the seven statuses a file task shows.

A file task is an invocation in every other respect (``operations.files``): these are
only what is file-specific.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import CommandType, ContentEncoding, InvocationStatus
from scheduler.domain.errors import invalid
from scheduler.domain.limits import (
    MAX_DESCRIPTION,
    Limits,
    check_content_size,
    check_length,
    check_timeout,
    decode_content,
)
from scheduler.domain.models import Command

MAX_FILE_NAME = 255
"""Bytes of a file name (UTF-8): Linux's NAME_MAX."""
MAX_TARGET_DIR = 255
"""Characters of a target directory (the column's size)."""
MAX_CONTENT = 32_768
"""Bytes of a file's content once Base64-encoded (Cloud Assistant's 32 KB)."""
MAX_ACCOUNT_NAME = 32
"""Characters of a user or group name (useradd's limit)."""
DEFAULT_MODE = "0644"
DEFAULT_OWNER = "root"
DEFAULT_GROUP = "root"
DEFAULT_TIMEOUT = 60
"""Seconds a file task may take when the request gives none (Cloud Assistant's)."""
MIN_TIMEOUT = 10
"""A shorter timeout is raised to this rather than refused (Cloud Assistant's rule)."""
MAX_MODE = 0o7777

_MODE = re.compile(r"[0-7]{3,4}")
# POSIX's portable user names, as useradd checks them: no leading hyphen.
_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*")


@dataclass(frozen=True, kw_only=True)
class FileSpec:
    """Where and how the agent writes the file (its bytes travel as the execution's script)."""

    name: str
    target_dir: str
    mode: int
    owner: str
    group: str
    overwrite: bool


@dataclass(frozen=True, kw_only=True)
class SendFileRequest:
    """The file-specific fields of a SendFile request, as sent."""

    name: str
    description: str
    target_dir: str
    content: str
    content_type: ContentEncoding
    file_mode: str
    file_owner: str
    file_group: str
    overwrite: bool
    timeout: int


@dataclass(frozen=True, kw_only=True)
class FileTask:
    """A checked SendFile request: the file, its bytes and the task's timeout."""

    spec: FileSpec
    description: str
    content: bytes
    timeout: int


def check_send_file(limits: Limits, request: SendFileRequest) -> FileTask:
    """Validate every file field of a SendFile request, defaults applied; refusals name
    the field (``INVALID_ARGUMENT``)."""
    check_length(
        RefusalCode.INVALID_PARAM_DESCRIPTION, "description", request.description, MAX_DESCRIPTION
    )
    spec = FileSpec(
        name=check_file_name(request.name),
        target_dir=check_target_dir(request.target_dir),
        mode=parse_mode(request.file_mode or DEFAULT_MODE),
        owner=check_account_name(
            RefusalCode.INVALID_PARAM_FILE_OWNER, "file_owner", request.file_owner or DEFAULT_OWNER
        ),
        group=check_account_name(
            RefusalCode.INVALID_PARAM_FILE_GROUP, "file_group", request.file_group or DEFAULT_GROUP
        ),
        overwrite=request.overwrite,
    )
    return FileTask(
        spec=spec,
        description=request.description,
        content=decode_file_content(request.content, request.content_type),
        timeout=file_timeout(limits, request.timeout),
    )


FILE_COMMAND_NAME = "SendFile"
"""The command name a file task's invocation carries: it has no command of its own."""


def file_command(task: FileTask) -> Command:
    """The command a file task is an invocation of: never stored (no id; nothing counts
    against the command quota), its content the file's bytes, run nowhere as a script."""
    return Command(
        id="",
        name=FILE_COMMAND_NAME,
        description=task.description,
        type=CommandType.RUN_SHELL_SCRIPT,
        content=task.content,
        working_dir="",
        timeout=task.timeout,
        enable_parameter=False,
        parameter_names=[],
        kept=False,
    )


def is_plain_name(name: str) -> bool:
    """Whether ``name`` names a file in a directory and nothing else: not empty, not ``.``
    or ``..``, no ``/`` or NUL, at most 255 bytes."""
    return (
        name not in ("", ".", "..")
        and "/" not in name
        and "\0" not in name
        and len(name.encode()) <= MAX_FILE_NAME
    )


def check_file_name(name: str) -> str:
    """A plain file name (``is_plain_name``); the refusal says which rule it breaks."""

    def refuse(rule: str) -> Exception:
        return invalid(RefusalCode.INVALID_PARAM_FILE_NAME, "name", f"name {rule}")

    if not name:
        raise refuse("is required")
    size = len(name.encode())
    if size > MAX_FILE_NAME:
        raise refuse(f"is {size} bytes long; the limit is {MAX_FILE_NAME}")
    if not is_plain_name(name):
        raise refuse(f"must be a plain file name (no '/' or NUL, not '.' or '..'), got {name!r}")
    return name


def is_normal_directory(path: str) -> bool:
    """Whether ``path`` is absolute and normalised: ``/``, or ``/`` and components that are
    neither empty nor ``.`` nor ``..``."""
    if path == "/":
        return True
    parts = path.split("/")
    return parts[0] == "" and all(part not in ("", ".", "..") for part in parts[1:])


def check_target_dir(target_dir: str) -> str:
    """An absolute, normalised directory of at most 255 characters."""
    check_length(
        RefusalCode.INVALID_PARAM_TARGET_DIR,
        "target_dir",
        target_dir,
        MAX_TARGET_DIR,
        required=True,
    )
    if "\0" in target_dir or not is_normal_directory(target_dir):
        raise invalid(
            RefusalCode.INVALID_PARAM_TARGET_DIR,
            "target_dir",
            "target_dir must be an absolute, normalised directory (starting with '/', no "
            f"'//', '.' or '..' component, no trailing '/'), got {target_dir!r}",
        )
    return target_dir


def parse_mode(file_mode: str) -> int:
    """The permission bits of an octal ``file_mode`` of 3 or 4 digits (at most 07777)."""
    if not _MODE.fullmatch(file_mode):
        raise invalid(
            RefusalCode.INVALID_PARAM_FILE_MODE,
            "file_mode",
            f"file_mode must be 3 or 4 octal digits such as 0644 (at most 7777), got {file_mode!r}",
        )
    return int(file_mode, 8)


def format_mode(mode: int) -> str:
    """A mode as SendFile shows it: four octal digits."""
    return f"{mode:04o}"


def check_account_name(code: RefusalCode, field_name: str, name: str) -> str:
    """A POSIX user or group name: letters, digits, ``_``, ``.`` and ``-`` (not first), at
    most 32 characters."""
    if len(name) > MAX_ACCOUNT_NAME or not _ACCOUNT_NAME.fullmatch(name):
        raise invalid(
            code,
            field_name,
            f"{field_name} must be a POSIX name of at most {MAX_ACCOUNT_NAME} letters, digits, "
            f"'_', '.' and '-' (not first), got {name!r}",
        )
    return name


def decode_file_content(content: str, content_type: ContentEncoding) -> bytes:
    """The file's bytes: ``content`` itself, or strictly decoded from Base64; not empty and
    at most 32,768 bytes once Base64-encoded."""
    data = decode_content(
        content,
        base64_encoded=content_type is ContentEncoding.BASE64,
        what="content",
        code=RefusalCode.INVALID_PARAM_CONTENT,
        encoding="content_type is Base64",
    )
    check_content_size(data, MAX_CONTENT, what="content", code=RefusalCode.INVALID_PARAM_CONTENT)
    return data


def file_timeout(limits: Limits, timeout: int) -> int:
    """The task's timeout: 60 s when none is given, under 10 s raised to 10 s, at most the
    server's maximum."""
    if timeout == 0:
        return DEFAULT_TIMEOUT
    if 0 < timeout < MIN_TIMEOUT:
        return MIN_TIMEOUT
    return check_timeout(limits, timeout)


FILE_STATUSES: tuple[InvocationStatus, ...] = (
    InvocationStatus.PENDING,
    InvocationStatus.RUNNING,
    InvocationStatus.SUCCESS,
    InvocationStatus.FAILED,
    InvocationStatus.INVALID,
    InvocationStatus.ABORTED,
    InvocationStatus.TIMEOUT,
)
"""The statuses a file task shows, overall and per instance (Cloud Assistant's)."""

_SHOWN_AS: dict[InvocationStatus, InvocationStatus] = {
    InvocationStatus.SCHEDULED: InvocationStatus.PENDING,
    InvocationStatus.STOPPING: InvocationStatus.RUNNING,
    InvocationStatus.ERROR: InvocationStatus.FAILED,
    InvocationStatus.PARTIAL_FAILED: InvocationStatus.FAILED,
    InvocationStatus.CANCELLED: InvocationStatus.ABORTED,
    InvocationStatus.TERMINATED: InvocationStatus.ABORTED,
    InvocationStatus.STOPPED: InvocationStatus.ABORTED,
}


def file_status(status: InvocationStatus) -> InvocationStatus:
    """How a file task shows an invocation or execution status: one of ``FILE_STATUSES``.

    The agent could not write (``Error``) or only some instances got the file
    (``PartialFailed``) read ``Failed``; stopped in any way reads ``Aborted``; a stop not yet
    confirmed is still ``Running``.
    """
    return _SHOWN_AS.get(status, status)


def statuses_shown_as(shown: InvocationStatus) -> list[InvocationStatus]:
    """Every status that ``file_status`` shows as ``shown``: what a filter by it matches.
    Refused unless ``shown`` is one of ``FILE_STATUSES``."""
    if shown not in FILE_STATUSES:
        raise invalid(
            RefusalCode.INVALID_PARAM_INVOCATION_STATUS,
            "invocation_status",
            "invocation_status must be one of "
            + ", ".join(status.value for status in FILE_STATUSES)
            + f" for a file task, got {shown.value}",
        )
    return sorted(
        (s for s in InvocationStatus if file_status(s) is shown), key=list(InvocationStatus).index
    )
