"""`kairos run|invoke|stop|invocations|results`: invocations and what they did."""

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import command_pb2, common_pb2, invocation_pb2
from scheduler.cli.client import Client, fetch_pages
from scheduler.cli.connection import repeated_flags
from scheduler.cli.errors import CliError, UsageError
from scheduler.cli.flags import collect_parameters
from scheduler.cli.naming import enum_word
from scheduler.cli.output import (
    decode_output,
    format_time,
    print_json,
    print_page_hint,
    render_fields,
    render_table,
)
from scheduler.cli.parameters import declared_in, warn_missing
from scheduler.cli.script import load_script
from scheduler.cli.tags import tags_text, to_tags
from scheduler.cli.watch import exit_code_text, follow, is_final, result_summary
from scheduler.domain.models import SETTINGS_FIELDS


def run(args: argparse.Namespace) -> int:
    """RunCommand with the script after `--` (or `--file`); `--watch` then follows it."""
    if args.keep_command and not args.name:
        raise UsageError("--keep-command needs --name")
    script = load_script(
        text=" ".join(args.script) if args.script else None,
        path=args.file,
        is_base64=args.base64,
    )
    request = invocation_pb2.RunCommandRequest(
        name=args.name or "",
        description=args.description or "",
        type=args.type,
        command_content=script.content,
        content_encoding=script.encoding,
        enable_parameter=args.enable_parameter,
        keep_command=args.keep_command,
        **invocation_fields(args),
    )
    if args.enable_parameter:
        warn_missing(declared_in(script), request.parameters)
    with Client.from_args(args) as client:
        response = client.run_command(request)
        created = [("invoke_id", response.invoke_id), ("command_id", response.command_id)]
        return _report_created(client, args, response, created)


def invoke(args: argparse.Namespace) -> int:
    """InvokeCommand of a saved command; `--watch` then follows it."""
    request = invocation_pb2.InvokeCommandRequest(
        command_id=args.command_id, **invocation_fields(args)
    )
    with Client.from_args(args) as client:
        command = _saved_command(client, args.command_id)
        if command is not None and command.enable_parameter:
            warn_missing(command.parameter_names, request.parameters)
        response = client.invoke_command(request)
        return _report_created(client, args, response, [("invoke_id", response.invoke_id)])


def _saved_command(client: Client, command_id: str) -> command_pb2.Command | None:
    """The saved command, to tell its parameters; None when it cannot be read (the
    invocation's own call then says why)."""
    try:
        listed = client.describe_commands(
            command_pb2.DescribeCommandsRequest(command_id=command_id)
        )
    except CliError:
        return None
    return listed.commands[0] if listed.commands else None


def invocation_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields `run` and `invoke` share, from `add_invocation_flags` flags.

    The settings' flags are named after the settings (``SETTINGS_FIELDS``); a flag
    not given leaves its field at the request's default.
    """
    given = {name: getattr(args, name) for name in SETTINGS_FIELDS} | {
        "parameters": collect_parameters(args.parameters),
        "instance_ids": args.instance_ids,
        "client_token": args.client_token,
        "resource_tags": to_tags(args.selector) if args.selector else None,
        "tags": to_tags(args.tags) if args.tags else None,
        # Jitter and bounds (`add_window_flags`).
        "max_jitter": args.max_jitter,
        "start_time": _timestamp(args.start_time),
        "end_time": _timestamp(args.end_time),
    }
    return {name: value for name, value in given.items() if value is not None}


def _timestamp(moment: datetime | None) -> Timestamp | None:
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def stop(args: argparse.Namespace) -> int:
    """StopInvocation on some or (without `-i`) all of its instances; one already finished
    is left alone, saying so (exit 0: what was asked for holds)."""
    request = invocation_pb2.StopInvocationRequest(
        invoke_id=args.invoke_id, instance_ids=args.instance_ids or []
    )
    with Client.from_args(args) as client:
        finished = _finished(client, args.invoke_id, args.instance_ids or [])
        if finished is not None:
            print(f"{finished}: nothing to stop", file=sys.stderr)
            if args.json:
                print_json({"invoke_id": args.invoke_id, "already_finished": True})
            return 0
        response = client.stop_invocation(request)
    if args.json:
        print_json(response)
    else:
        which = ", ".join(args.instance_ids) if args.instance_ids else "all instances"
        print(f"stop requested for {args.invoke_id} ({which})")
    return 0


def _finished(client: Client, invoke_id: str, instance_ids: list[str]) -> str | None:
    """What says the invocation (or the named instances of it) has finished; None while
    something is left to stop, or when it cannot be read (the stop's own call says why)."""
    try:
        listed = client.describe_invocations(
            invocation_pb2.DescribeInvocationsRequest(invoke_id=invoke_id)
        )
    except CliError:
        return None
    if not listed.invocations:
        return None
    [invocation] = listed.invocations
    if not instance_ids:
        if not is_final(invocation.invocation_status):
            return None
        status = enum_word(common_pb2.InvocationStatus, invocation.invocation_status)
        return f"invocation {invoke_id} is already finished ({status})"
    statuses = {i.instance_id: i.invocation_status for i in invocation.instances}
    if not all(i in statuses and is_final(statuses[i]) for i in instance_ids):
        return None
    return f"invocation {invoke_id} has already finished on {', '.join(instance_ids)}"


def describe(args: argparse.Namespace) -> int:
    """DescribeInvocations as a table, with each invocation's instances on request."""
    request = invocation_pb2.DescribeInvocationsRequest(
        invoke_id=args.invoke_id or "",
        command_id=args.command_id or "",
        instance_id=args.instance_id or "",
        invocation_status=args.status or "INVOCATION_STATUS_UNSPECIFIED",
        max_results=args.max_results or 0,
        next_token=args.next_token or "",
        tags=to_tags(args.selector or []),
    )
    with Client.from_args(args) as client:
        response = fetch_pages(client.describe_invocations, request, every=args.all)
    if args.json:
        print_json(response)
        return 0
    print(render_invocations(response.invocations))
    if args.invoke_id or args.instances:
        for invocation in response.invocations:
            window = render_window(invocation)
            if window:
                print(f"\n{invocation.invoke_id} {window}")
            print(f"\n{invocation.invoke_id} instances:")
            print(render_invocation_instances(invocation))
    print_page_hint(len(response.invocations), response.total_count, response.next_token)
    return 0


def results(args: argparse.Namespace) -> int:
    """DescribeInvocationResults: a status table, then each instance's output."""
    request = invocation_pb2.DescribeInvocationResultsRequest(
        invoke_id=args.invoke_id,
        instance_id=args.instance_id or "",
        include_history=args.history,
        max_results=args.max_results or 0,
        next_token=args.next_token or "",
    )
    with Client.from_args(args) as client:
        response = fetch_pages(client.describe_invocation_results, request, every=args.all)
    if args.json:
        print_json(response)
        return 0
    print(render_results(response.results, history=args.history))
    for result in response.results:
        if result.output or result.dropped:
            print(f"\n{render_output(result, history=args.history)}", end="")
    print_page_hint(len(response.results), response.total_count, response.next_token)
    return 0


def render_invocations(invocations: Sequence[invocation_pb2.Invocation]) -> str:
    """The invocation list table; DONE counts instances in a final status."""
    return render_table(
        [
            "INVOKE ID",
            "COMMAND ID",
            "NAME",
            "STATUS",
            "REPEAT",
            "FREQUENCY",
            "CREATED",
            "DONE",
            "SELECTOR",
            "TAGS",
            "RATE",
        ],
        [
            [
                invocation.invoke_id,
                invocation.command_id,
                invocation.command_name,
                _status(invocation),
                enum_word(common_pb2.RepeatMode, invocation.repeat_mode),
                invocation.frequency,
                format_time(invocation.creation_time),
                _done(invocation.instances),
                tags_text(invocation.resource_tags),
                tags_text(invocation.tags),
                rate_control(invocation),
            ]
            for invocation in invocations
        ],
    )


def render_window(invocation: invocation_pb2.Invocation) -> str:
    """`jitter up to 300 s, from …, until …`: what of these an invocation has; "" for none."""
    parts = []
    if invocation.max_jitter:
        parts.append(f"jitter up to {invocation.max_jitter} s")
    if invocation.HasField("start_time"):
        parts.append(f"from {format_time(invocation.start_time)}")
    if invocation.HasField("end_time"):
        parts.append(f"until {format_time(invocation.end_time)}")
    return ", ".join(parts)


def render_invocation_instances(invocation: invocation_pb2.Invocation) -> str:
    """One invocation's targets: status, next fire and the skips of its schedule; for an
    invocation by selector, whether each instance matches it now (SELECTED)."""
    by_selector = bool(invocation.resource_tags)
    headers = [
        "INSTANCE",
        "STATUS",
        "NEXT FIRE",
        "REPEATS",
        "OVERLAP SKIPS",
        "MISFIRE SKIPS",
        "PAUSED SKIPS",
        "UPDATED",
    ]
    rows = []
    for instance in invocation.instances:
        row: list[object] = [
            instance.instance_id,
            enum_word(common_pb2.InvocationStatus, instance.invocation_status),
            format_time(instance.next_fire_time),
            instance.repeats,
            instance.overlap_skips,
            instance.misfire_skips,
            instance.paused_skips,
            format_time(instance.update_time),
        ]
        if by_selector:
            row.append("yes" if instance.selected else "no")
        rows.append(row)
    return render_table([*headers, *(["SELECTED"] if by_selector else [])], rows)


def render_results(results: Sequence[invocation_pb2.InvocationResult], *, history: bool) -> str:
    """Per-instance status table; with `history` one row per run with its repeat number."""
    headers = ["INSTANCE", "STATUS", "EXIT", "ERROR", "START", "FINISH"]
    if history:
        headers[1:1] = ["RUN", "SCHEDULED"]
    rows = []
    for result in results:
        row: list[object] = [
            result.instance_id,
            enum_word(common_pb2.InvocationStatus, result.invocation_status),
            exit_code_text(result),
            result.error_code,
            format_time(result.start_time),
            format_time(result.finish_time),
        ]
        if history:
            row[1:1] = [result.repeats, format_time(result.scheduled_time)]
        rows.append(row)
    return render_table(headers, rows)


def render_output(result: invocation_pb2.InvocationResult, *, history: bool) -> str:
    """One result's output under a `==> i-1: Success (exit 0) <==` header, ending in a newline."""
    run = f" run {result.repeats}" if history else ""
    text = decode_output(result.output)
    if text and not text.endswith("\n"):
        text += "\n"
    if result.dropped:
        # Stored output keeps the head and the tail; say how much is missing.
        text += f"[… {result.dropped} bytes dropped between head and tail …]\n"
    return f"==> {result.instance_id}{run}: {result_summary(result)} <==\n{text}"


def _report_created(
    client: Client,
    args: argparse.Namespace,
    response: invocation_pb2.RunCommandResponse | invocation_pb2.InvokeCommandResponse,
    created: list[tuple[str, str]],
) -> int:
    if args.watch:
        if not args.json:
            print(render_fields(created), flush=True)
        return follow(client, response.invoke_id, json_mode=args.json, extra=dict(created))
    if args.json:
        print_json(response)
    else:
        print(render_fields(created))
        # The connection flags given again, so that the hint works as printed.
        flags = repeated_flags(args)
        print(
            f"(follow with: kairos watch {response.invoke_id}{flags}; "
            f"results: kairos results {response.invoke_id}{flags})",
            file=sys.stderr,
        )
    return 0


def rate_control(invocation: invocation_pb2.Invocation) -> str:
    """The invocation's rolling rate control in a few words: `max 25%, errors 1`, or `-`."""
    words = [
        f"{label}{value}"
        for label, value in (
            ("max ", invocation.max_concurrency),
            ("errors ", invocation.max_errors),
        )
        if value
    ]
    return ", ".join(words) or "-"


def _status(invocation: invocation_pb2.Invocation) -> str:
    """The overall status; a paused invocation says so beside it (``Scheduled (paused)``)."""
    status = enum_word(common_pb2.InvocationStatus, invocation.invocation_status)
    return f"{status} (paused)" if invocation.paused else status


def _done(instances: Sequence[invocation_pb2.InvocationInstance]) -> str:
    done = sum(1 for instance in instances if is_final(instance.invocation_status))
    return f"{done}/{len(instances)}"
