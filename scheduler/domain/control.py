"""Pure rules of schedule control: which invocations may be paused, resumed, modified or
triggered, and what a ModifyInvocation changes (validated as at creation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from scheduler.domain.catalogue import is_common
from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import ContentEncoding, RepeatMode
from scheduler.domain.errors import invalid, precondition
from scheduler.domain.invocation import parameter_values, parse_schedule, resolve_repeat_mode
from scheduler.domain.limits import (
    MAX_FREQUENCY,
    Limits,
    check_content_size,
    check_instance_ids,
    check_length,
    check_timeout,
    decode_content,
)
from scheduler.domain.models import Command, InvocationSettings
from scheduler.domain.parameters import parameter_names
from scheduler.domain.tags import Tag, check_tags


@dataclass(frozen=True, kw_only=True)
class ModifyRequest:
    """What a ModifyInvocation asks for; None (or empty) leaves a field as it is."""

    frequency: str | None = None
    parameters: Mapping[str, str] | None = None
    timeout: int | None = None
    content: str | None = None
    encoding: ContentEncoding = ContentEncoding.PLAIN_TEXT
    add_instance_ids: list[str]
    remove_instance_ids: list[str]
    resource_tags: list[Tag] | None = None
    """A new selector (issue 12): given, it is never empty."""


@dataclass(frozen=True, kw_only=True)
class Modified:
    """The invocation's settings and command copy once a ModifyInvocation is applied."""

    settings: InvocationSettings
    command: Command
    replan: bool
    """The schedule changed: every armed target's next fire is planned again."""


def check_controllable(
    invoke_id: str,
    repeat_mode: RepeatMode,
    armed: int,
    *,
    operation: str,
    by_selector: bool = False,
    stopped: bool = False,
) -> None:
    """Refuse controlling a one-time invocation, or one with no armed target left.

    An invocation by selector that is not stopped stays controllable with no armed
    target: instances may match (and join) it later.
    """
    if repeat_mode.is_immediate:
        raise precondition(
            RefusalCode.INVALID_INVOCATION_REPEAT_MODE,
            f"invocation {invoke_id} runs once ({repeat_mode.value}): only periodic and "
            f"boot invocations can be {operation}",
        )
    if not armed and (stopped or not by_selector):
        raise precondition(
            RefusalCode.INVALID_INVOCATION_FINISHED,
            f"invocation {invoke_id} is finished (stopped, or its schedule is over): "
            f"it cannot be {operation}",
        )


def check_modify_request(limits: Limits, request: ModifyRequest) -> ModifyRequest:
    """The request with its instance ids checked: something to change, no id both added
    and removed. The values themselves are checked against the invocation (``modify``)."""
    added = check_instance_ids(
        limits, request.add_instance_ids, required=False, field="add_instance_ids"
    )
    removed = check_instance_ids(
        limits, request.remove_instance_ids, required=False, field="remove_instance_ids"
    )
    both = sorted(set(added) & set(removed))
    if both:
        raise invalid(
            RefusalCode.INVALID_PARAM_INSTANCE_ID,
            "add_instance_ids",
            f"instances both added and removed: {', '.join(both)}",
        )
    selector = request.resource_tags
    if selector is not None:
        check_tags(selector, "resource_tags.tags")
        if not selector:
            raise invalid(
                RefusalCode.INVALID_PARAM_MODIFY,
                "resource_tags.tags",
                "resource_tags is given with no tag: a selector needs at least one",
            )
    unchanged = (
        request.frequency,
        request.parameters,
        request.timeout,
        request.content,
        selector,
    ) == (None, None, None, None, None)
    if unchanged and not added and not removed:
        raise invalid(
            RefusalCode.INVALID_PARAM_MODIFY,
            "invoke_id",
            "ModifyInvocation sets none of frequency, parameters, timeout, command_content, "
            "add_instance_ids, remove_instance_ids and resource_tags",
        )
    return replace(request, add_instance_ids=added, remove_instance_ids=removed)


def check_retargeting(invoke_id: str, request: ModifyRequest, *, by_selector: bool) -> None:
    """Refuse changing how an invocation names its instances: one by instance ids takes
    no selector, one by selector no instance ids (its members follow the selector)."""
    if by_selector and (request.add_instance_ids or request.remove_instance_ids):
        field = "add_instance_ids" if request.add_instance_ids else "remove_instance_ids"
        raise precondition(
            RefusalCode.INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS,
            f"{field}: invocation {invoke_id} targets instances by selector; change its "
            "resource_tags instead",
        )
    if not by_selector and request.resource_tags is not None:
        raise precondition(
            RefusalCode.INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS,
            f"resource_tags: invocation {invoke_id} targets instances by id; change its "
            "add_instance_ids and remove_instance_ids instead",
        )


def modify(
    limits: Limits,
    settings: InvocationSettings,
    command: Command,
    request: ModifyRequest,
    *,
    created_at: datetime,
) -> Modified:
    """The settings and command copy ``request`` makes, each value validated as at creation.

    New content is the invocation's own copy (the saved command stays as it is), so
    RunCommand's limit applies. A new frequency is parsed as at creation (its grid
    anchored at the invocation's ``created_at``). With parameters enabled, new content defines the
    names: the values given (or, when none are given, the current values of names
    it still defines) must fit them.
    """
    frequency = settings.frequency
    if request.frequency is not None:
        frequency = request.frequency.strip()
        check_length(RefusalCode.INVALID_PARAM_FREQUENCY, "frequency", frequency, MAX_FREQUENCY)
        resolve_repeat_mode(settings.repeat_mode, frequency)
        parse_schedule(frequency, created_at=created_at)
    timeout = settings.timeout
    if request.timeout is not None:
        timeout = check_timeout(limits, request.timeout)
    if request.content is not None:
        if is_common(command.id):
            raise precondition(
                RefusalCode.INVALID_COMMAND_ID_COMMON_COMMAND,
                f"command_content: the invocation runs common command {command.id}, whose "
                "script cannot be changed; change its parameters, or run a script of your own",
            )
        script = decode_content(
            request.content, base64_encoded=request.encoding is ContentEncoding.BASE64
        )
        check_content_size(script, limits.max_unsaved_content)
        names = parameter_names(script, limits.max_parameters) if command.enable_parameter else []
        command = replace(command, content=script, parameter_names=names)
    given = request.parameters
    if given is None:
        given = {k: v for k, v in settings.parameters.items() if k in command.parameter_names}
    values = parameter_values(command, given)
    return Modified(
        settings=replace(settings, frequency=frequency, timeout=timeout, parameters=values),
        command=replace(command, timeout=timeout),
        replan=frequency != settings.frequency,
    )
