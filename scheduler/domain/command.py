"""Pure rules of creating and modifying commands (SPEC §3, §4)."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import CommandType, ContentEncoding
from scheduler.domain.errors import invalid
from scheduler.domain.limits import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_WORKING_DIR,
    Limits,
    check_content_size,
    check_length,
    check_timeout,
    decode_content,
)
from scheduler.domain.models import Command
from scheduler.domain.parameters import parameter_names


@dataclass(kw_only=True, frozen=True)
class CommandRequest:
    """The command fields of a CreateCommand or RunCommand request."""

    name: str
    description: str
    type: CommandType | None
    content: str
    encoding: ContentEncoding
    working_dir: str
    timeout: int
    enable_parameter: bool


@dataclass(kw_only=True, frozen=True)
class CommandChanges:
    """The fields a ModifyCommand request sets; None means unchanged."""

    name: str | None
    description: str | None
    timeout: int | None
    working_dir: str | None


def new_command(limits: Limits, request: CommandRequest, *, command_id: str, kept: bool) -> Command:
    """A validated command; ``kept`` is false for RunCommand without keep_command."""
    if request.type is None:
        raise invalid(RefusalCode.INVALID_PARAM_TYPE, "type", "type is required")
    name = check_length(
        RefusalCode.INVALID_PARAM_NAME, "name", request.name, MAX_NAME, required=kept
    )
    check_length(
        RefusalCode.INVALID_PARAM_DESCRIPTION, "description", request.description, MAX_DESCRIPTION
    )
    check_length(
        RefusalCode.INVALID_PARAM_WORKING_DIR, "working_dir", request.working_dir, MAX_WORKING_DIR
    )
    script = decode_content(
        request.content, base64_encoded=request.encoding is ContentEncoding.BASE64
    )
    check_content_size(script, limits.max_saved_content if kept else limits.max_unsaved_content)
    names = parameter_names(script, limits.max_parameters) if request.enable_parameter else []
    return Command(
        id=command_id,
        name=name or command_id,
        description=request.description,
        type=request.type,
        content=script,
        working_dir=request.working_dir,
        timeout=check_timeout(limits, request.timeout),
        enable_parameter=request.enable_parameter,
        parameter_names=names,
        kept=kept,
    )


def check_changes(limits: Limits, changes: CommandChanges) -> dict[str, object]:
    """The validated column values a ModifyCommand sets."""
    values: dict[str, object] = {}
    if changes.name is not None:
        values["name"] = check_length(
            RefusalCode.INVALID_PARAM_NAME, "name", changes.name, MAX_NAME, required=True
        )
    if changes.description is not None:
        values["description"] = check_length(
            RefusalCode.INVALID_PARAM_DESCRIPTION,
            "description",
            changes.description,
            MAX_DESCRIPTION,
        )
    if changes.working_dir is not None:
        values["working_dir"] = check_length(
            RefusalCode.INVALID_PARAM_WORKING_DIR,
            "working_dir",
            changes.working_dir,
            MAX_WORKING_DIR,
        )
    if changes.timeout is not None:
        values["timeout"] = check_timeout(limits, changes.timeout)
    return values
