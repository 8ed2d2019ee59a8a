"""`kairos command create|list|modify|delete`: saved scripts."""

import argparse
import base64
import binascii
from collections.abc import Sequence

from kairos.v1 import command_pb2, common_pb2
from scheduler.cli.client import Client, fetch_pages
from scheduler.cli.errors import CliError, UsageError
from scheduler.cli.naming import enum_word
from scheduler.cli.output import (
    format_time,
    print_done,
    print_json,
    print_page_hint,
    render_fields,
    render_table,
)
from scheduler.cli.script import load_script
from scheduler.cli.tags import tags_text, to_tags
from scheduler.domain import catalogue


def create(args: argparse.Namespace) -> int:
    """CreateCommand; prints the new command id."""
    script = load_script(text=args.content, path=args.file, is_base64=args.base64)
    request = command_pb2.CreateCommandRequest(
        name=args.name,
        description=args.description or "",
        type=args.type,
        command_content=script.content,
        content_encoding=script.encoding,
        working_dir=args.working_dir or "",
        timeout=args.timeout or 0,
        enable_parameter=args.enable_parameter,
        client_token=args.client_token or "",
        tags=to_tags(args.tags or []),
    )
    with Client.from_args(args) as client:
        response = client.create_command(request)
    if args.json:
        print_json(response)
    else:
        print(render_fields([("command_id", response.command_id)]))
    return 0


def describe(args: argparse.Namespace) -> int:
    """DescribeCommands as a table; one command by `--id` is shown with its script."""
    request = command_pb2.DescribeCommandsRequest(
        command_id=args.command_id or "",
        name=args.name or "",
        type=args.type or "COMMAND_TYPE_UNSPECIFIED",
        max_results=args.max_results or 0,
        next_token=args.next_token or "",
        tags=to_tags(args.selector or []),
        provider=args.provider or "",
    )
    with Client.from_args(args) as client:
        response = fetch_pages(client.describe_commands, request, every=args.all)
    if args.json:
        print_json(response)
    elif args.command_id and len(response.commands) == 1:
        print(render_command(response.commands[0]))
    else:
        print(render_commands(response.commands))
        print_page_hint(len(response.commands), response.total_count, response.next_token)
    return 0


def show(args: argparse.Namespace) -> int:
    """One command, the account's or a common one (``Kairos-…``), with its parameters and
    script."""
    request = command_pb2.DescribeCommandsRequest(
        command_id=args.command_id,
        provider=catalogue.PROVIDER if catalogue.is_common(args.command_id) else "",
    )
    with Client.from_args(args) as client:
        response = client.describe_commands(request)
    if not response.commands:
        raise CliError(f"command {args.command_id} not found")
    if args.json:
        print_json(response.commands[0])
    else:
        print(render_command(response.commands[0]))
    return 0


def modify(args: argparse.Namespace) -> int:
    """ModifyCommand with only the fields given on the command line."""
    request = command_pb2.ModifyCommandRequest(command_id=args.command_id)
    # Optional fields: an unset one is left alone by the server, an empty one clears.
    if args.name is not None:
        request.name = args.name
    if args.description is not None:
        request.description = args.description
    if args.timeout is not None:
        request.timeout = args.timeout
    if args.working_dir is not None:
        request.working_dir = args.working_dir
    if len(request.ListFields()) == 1:
        raise UsageError(
            "nothing to modify: give --name, --description, --timeout or --working-dir"
        )
    with Client.from_args(args) as client:
        response = client.modify_command(request)
    return print_done(response, args.json, f"modified {args.command_id}")


def delete(args: argparse.Namespace) -> int:
    """DeleteCommand."""
    with Client.from_args(args) as client:
        response = client.delete_command(
            command_pb2.DeleteCommandRequest(command_id=args.command_id)
        )
    return print_done(response, args.json, f"deleted {args.command_id}")


def render_commands(commands: Sequence[command_pb2.Command]) -> str:
    """The command list table."""
    return render_table(
        ["COMMAND ID", "NAME", "TYPE", "TIMEOUT", "PARAMETERS", "CREATED", "INVOKED", "TAGS"],
        [
            [
                command.command_id,
                command.name,
                enum_word(common_pb2.CommandType, command.type),
                command.timeout,
                ",".join(command.parameter_names),
                format_time(command.creation_time),
                command.invoke_times,
                tags_text(command.tags),
            ]
            for command in commands
        ],
    )


def render_command(command: command_pb2.Command) -> str:
    """One command's fields followed by its script, decoded from Base64."""
    fields = render_fields(
        [
            ("command_id", command.command_id),
            ("name", command.name),
            ("description", command.description),
            ("type", enum_word(common_pb2.CommandType, command.type)),
            ("working_dir", command.working_dir),
            ("timeout", command.timeout),
            ("enable_parameter", str(command.enable_parameter).lower()),
            ("parameter_names", ", ".join(command.parameter_names)),
            ("creation_time", format_time(command.creation_time)),
            ("invoke_times", command.invoke_times),
            *([("provider", command.provider)] if command.provider else []),
        ]
    )
    parameters = (
        f"\n\n{render_parameters(command.parameter_definitions)}"
        if command.parameter_definitions
        else ""
    )
    return f"{fields}{parameters}\n\n{_decoded(command.command_content).rstrip()}"


def render_parameters(definitions: Sequence[command_pb2.ParameterDefinition]) -> str:
    """A common command's typed parameters: type, default (or required), rule, description."""
    return render_table(
        ["PARAMETER", "TYPE", "DEFAULT", "RULE", "DESCRIPTION"],
        [
            [
                d.name,
                enum_word(command_pb2.ParameterType, d.type),
                d.default_value if d.HasField("default_value") else "(required)",
                _rule(d),
                d.description,
            ]
            for d in definitions
        ],
    )


def _rule(definition: command_pb2.ParameterDefinition) -> str:
    if definition.possible_values:
        return "one of " + ", ".join(definition.possible_values)
    if definition.HasField("min_value") or definition.HasField("max_value"):
        low = definition.min_value if definition.HasField("min_value") else "…"
        high = definition.max_value if definition.HasField("max_value") else "…"
        return f"{low}-{high}"
    if definition.pattern_allowed:
        return f"matches {definition.pattern_allowed}"
    return "-"


def _decoded(content: str) -> str:
    # The API always returns content in Base64; show the text, or the Base64
    # itself when it is not valid (better than hiding it).
    try:
        return base64.b64decode(content, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return content
