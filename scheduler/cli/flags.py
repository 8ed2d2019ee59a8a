"""Flags shared by several operator subcommands, and their value parsers.

This module is imported to build the parser, so it stays light: no gRPC, no
protobuf at import time (`kairos --help` should not pay for them).
"""

import argparse
import importlib
import re
from collections.abc import Callable
from datetime import UTC, datetime

from agent.servers import check_address
from agent.tls import add_server_trust_flags
from scheduler.cli.errors import UsageError

DEFAULT_SERVER = "127.0.0.1:50051"

Handler = Callable[[argparse.Namespace], int]

COMMAND_TYPE_ALIASES = {
    "shell": "COMMAND_TYPE_RUN_SHELL_SCRIPT",
    "powershell": "COMMAND_TYPE_RUN_POWER_SHELL_SCRIPT",
    "bat": "COMMAND_TYPE_RUN_BAT_SCRIPT",
}


def handler(target: str) -> Handler:
    """A subcommand function named `module:function`, imported only when it runs."""
    module_name, _, function_name = target.partition(":")

    def run(args: argparse.Namespace) -> int:
        function = getattr(importlib.import_module(module_name), function_name)
        return int(function(args))

    return run


def connection_flags() -> argparse.ArgumentParser:
    """A parent parser with `--context`, `--server`, `--token`, TLS and `--json`: the root
    parser's and every API subcommand's (`parents=[...]`), so they go before or after it.

    No flag has a default: one not given stays absent from the parsed arguments, so a
    subcommand never overwrites what was given before it, and `connection.resolve`
    looks the rest up (environment, context, defaults). The root parser sets `json`.
    """
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection and output")
    group.add_argument(
        "--context",
        metavar="NAME",
        help="a context of the config file (`kairos config get-contexts`; env KAIROS_CONTEXT; "
        "default: its current context)",
    )
    group.add_argument(
        "--server",
        metavar="HOST:PORT",
        help=f"Kairos server address (env KAIROS_SERVER, then the context; default "
        f"{DEFAULT_SERVER})",
    )
    group.add_argument(
        "--token",
        help="bearer token sent as `authorization` metadata (env KAIROS_TOKEN, then the "
        "context's token file)",
    )
    add_server_trust_flags(group)
    group.add_argument(
        "--json", action="store_true", help="print one JSON document instead of tables"
    )
    for action in parent._actions:  # --ca-file's would read KAIROS_CA_FILE now
        action.default = argparse.SUPPRESS
    return parent


def add_paging_flags(parser: argparse.ArgumentParser) -> None:
    """`--max-results`, `--next-token` and `--all` for a list subcommand."""
    parser.add_argument(
        "--max-results", type=int_in(1, 50), metavar="N", help="page size, 1-50 (server default 10)"
    )
    parser.add_argument("--next-token", metavar="TOKEN", help="continue after a previous page")
    parser.add_argument("--all", action="store_true", help="fetch every page")


def add_instances_flag(parser: argparse._ActionsContainer, *, required: bool) -> None:
    """`-i/--instance-ids i-1,i-2`, repeatable; the values land flattened in `instance_ids`."""
    parser.add_argument(
        "-i",
        "--instance-ids",
        dest="instance_ids",
        metavar="ID[,ID...]",
        type=instance_ids,
        action="extend",
        required=required,
        help="instance ids, comma separated or repeated",
    )


def add_placement_flags(parser: argparse.ArgumentParser) -> None:
    """`--working-dir` and `--timeout`, which commands and invocations both carry."""
    parser.add_argument("--working-dir", metavar="DIR", help="directory the script runs in")
    parser.add_argument(
        "--timeout", type=int_in(1, None), metavar="SECONDS", help="kill the script after this long"
    )


def add_script_flags(
    parser: argparse.ArgumentParser, *, sources: argparse._ActionsContainer | None = None
) -> None:
    """The flags of a script's content, shared by `command create` and `run`.

    `sources` is where `--file` goes: a mutually exclusive group when the script
    has another source flag (`--content`).
    """
    add_command_type_flag(parser, default="shell", help="script type (default shell)")
    (sources or parser).add_argument(
        "--file",
        metavar="PATH",
        type=local_path,
        help="read the script from a file (`-` for stdin)",
    )
    parser.add_argument(
        "--base64",
        action="store_true",
        help="the given content is already Base64-encoded (sent as such)",
    )
    parser.add_argument(
        "--enable-parameter",
        action="store_true",
        help="treat {{name}} placeholders as parameters",
    )
    parser.add_argument("--description", help="command description")


def add_command_type_flag(
    parser: argparse.ArgumentParser, *, default: str | None, help: str
) -> None:
    """`--type shell|powershell|bat` (Cloud Assistant's `RunShellScript`… also accepted)."""
    parser.add_argument(
        "--type",
        type=enum_arg("CommandType", COMMAND_TYPE_ALIASES),
        default=default,
        metavar="{shell,powershell,bat}",
        help=help,
    )


def add_invocation_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of an invocation, shared by `run` and `invoke`."""
    targets = parser.add_mutually_exclusive_group(required=True)
    add_instances_flag(targets, required=False)
    add_selector_flag(
        targets,
        help="instead of -i: the instances with these tags, like `kubectl -l` (a periodic or "
        "boot invocation takes in and lets go of instances as their tags change)",
    )
    add_tag_flag(parser, what="the invocation")
    add_placement_flags(parser)
    parser.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        metavar="NAME=VALUE",
        type=parameter,
        action="append",
        help="parameter value, repeatable",
    )
    parser.add_argument(
        "--repeat-mode",
        type=enum_arg("RepeatMode"),
        metavar="{once,dry-run,period,next-reboot-only,every-reboot}",
        help="when to run (default once, or period with --frequency)",
    )
    parser.add_argument(
        "--frequency",
        metavar="EXPR",
        help="schedule: rate(5m), at(2026-12-01 08:00:00 UTC) or a Quartz cron",
    )
    parser.add_argument("--username", help="user the script runs as (default root)")
    parser.add_argument(
        "--container-id",
        metavar="[RUNTIME://]ID",
        help="run inside this container (shell scripts only; --username and --working-dir do "
        "not apply): 64 hex characters, optionally after docker://, containerd:// or cri-o://",
    )
    parser.add_argument(
        "--container-name",
        metavar="NAME",
        help="run inside the container of this name (looked up in Docker, then the CRI); "
        "with --container-id, it must be that container's name",
    )
    add_rate_control_flags(parser)
    add_client_token_flag(parser)
    add_window_flags(parser)
    parser.add_argument(
        "--watch", action="store_true", help="then follow the invocation like `kairos watch`"
    )


def add_selector_flag(parser: argparse._ActionsContainer, *, help: str) -> None:
    """`-l/--selector key=value[,key=value]` (`key` alone: has the key; `\\,` a comma in a
    value), repeatable; the pairs land in `selector`."""
    parser.add_argument(
        "-l",
        "--selector",
        dest="selector",
        metavar="KEY=VALUE[,KEY=VALUE]",
        type=selector,
        action="extend",
        help=help,
    )


def add_tag_flag(parser: argparse.ArgumentParser, *, what: str) -> None:
    """`--tag key=value`, repeatable: tags of the resource created; they land in `tags`."""
    parser.add_argument(
        "--tag",
        dest="tags",
        metavar="KEY=VALUE",
        type=tag_pair,
        action="append",
        help=f"a tag of {what}, repeatable",
    )


RESOURCE_TYPES = ("instance", "command", "invocation", "activation")
"""The resource types that carry tags, as `kairos tag|untag|tags` name them."""


def resource_type(text: str) -> str:
    """`instance`, `instances`, `command`… as the singular word (argparse type)."""
    word = text.lower().removesuffix("s")
    if word not in RESOURCE_TYPES:
        raise argparse.ArgumentTypeError(
            f"unknown resource type {text!r} (one of: {', '.join(RESOURCE_TYPES)})"
        )
    return word


def tag_pair(text: str) -> tuple[str, str]:
    """Parse `key=value` (or `key`: an empty value) into a pair; the first `=` splits."""
    key, _, value = text.partition("=")
    if not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def selector(text: str) -> list[tuple[str, str]]:
    """Parse `a=1,b` into tag pairs. A tag value may hold commas: `\\,` is a comma in a
    key or value and `\\\\` a backslash; any other backslash stands for itself."""
    parts = [""]
    rest = iter(text)
    for char in rest:
        if char == "\\":
            following = next(rest, "")
            parts[-1] += following if following in (",", "\\") else char + following
        elif char == ",":
            parts.append("")
        else:
            parts[-1] += char
    return [tag_pair(part) for part in parts]


def add_rate_control_flags(parser: argparse.ArgumentParser) -> None:
    """`--max-concurrency`, `--max-errors`: rolling rate control of each fire."""
    parser.add_argument(
        "--max-concurrency",
        metavar="N|N%",
        help="at most this many (or this percentage) of a fire's instances pending or "
        "running at once, released in instance id order (default: all at once)",
    )
    parser.add_argument(
        "--max-errors",
        metavar="N|N%",
        help="once more than this many (or this percentage) of a fire's executions failed, "
        "cancel the ones not yet released (default: no limit)",
    )


def add_window_flags(parser: argparse.ArgumentParser) -> None:
    """`--jitter`, `--start` and `--end`: where a periodic invocation's fires fall."""
    parser.add_argument(
        "--jitter",
        dest="max_jitter",
        metavar="DURATION",
        type=duration,
        help="delay each instance's start by a stable offset of up to this long "
        "(90, 30s, 5m, 1h; at most half the schedule's interval and 1h)",
    )
    parser.add_argument(
        "--start",
        dest="start_time",
        metavar="RFC3339",
        type=instant,
        help="no fire before this instant (2026-12-24T00:00:00Z)",
    )
    parser.add_argument(
        "--end",
        dest="end_time",
        metavar="RFC3339",
        type=instant,
        help="no fire after this instant; the invocation then ends",
    )


def add_client_token_flag(parser: argparse.ArgumentParser) -> None:
    """`--client-token`: makes a creating call idempotent."""
    parser.add_argument(
        "--client-token",
        metavar="TOKEN",
        help="idempotency token (≤64 ASCII): a retry with it creates nothing new",
    )


def local_path(text: str) -> str:
    """A local file's name, as given (argparse type). Only opened, never sent nor printed
    on stdout, so it may be any bytes the file system takes: the parser does not require
    it to be UTF-8 (``main.KairosParser``), as it does of every other value."""
    return text


def host_port(text: str) -> str:
    """One `HOST:PORT` to listen on and connect to (argparse type); the port is 1-65535."""
    try:
        check_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def instance_ids(text: str) -> list[str]:
    """Parse `i-1,i-2` into ids; empty items are an error."""
    ids = [part.strip() for part in text.split(",")]
    if not all(ids):
        raise argparse.ArgumentTypeError(f"empty instance id in {text!r}")
    return ids


def parameter(text: str) -> tuple[str, str]:
    """Parse `name=value` (the value may contain `=` and be empty)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name.strip(), value


def collect_parameters(pairs: list[tuple[str, str]] | None) -> dict[str, str]:
    """The parameter map of repeated `--parameter` flags; a name given twice is an error."""
    parameters: dict[str, str] = {}
    for name, value in pairs or []:
        if name in parameters:
            raise UsageError(f"parameter {name!r} given twice")
        parameters[name] = value
    return parameters


MAX_WIRE_INT = 2**63 - 1
"""The largest number an int64 field of the API carries: above it, building the request
fails; the server says which smaller limit a field has."""


def int_in(low: int, high: int | None) -> Callable[[str], int]:
    """An argparse type accepting integers in `[low, high]` (`high=None`: up to what the
    API's int64 fields carry, ``MAX_WIRE_INT``)."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < low or value > (MAX_WIRE_INT if high is None else high):
            bounds = f"{low}-{MAX_WIRE_INT if high is None else high}"
            raise argparse.ArgumentTypeError(f"{value} is out of range ({bounds})")
        return value

    return convert


_UNITS = {"s": 1, "m": 60, "h": 3600}
_DIGITS = re.compile("[0-9]+")


def duration(text: str) -> int:
    """Whole seconds from `90`, `30s`, `5m` or `1h` (one unit, no spaces)."""
    number, unit = text, "s"
    if text[-1:].lower() in _UNITS:
        number, unit = text[:-1], text[-1].lower()
    if not _DIGITS.fullmatch(number):
        raise argparse.ArgumentTypeError(
            f"expected seconds or a duration like 30s, 5m, 1h: {text!r}"
        )
    seconds = int(number) * _UNITS[unit]
    if seconds > MAX_WIRE_INT:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range")
    return seconds


def instant(text: str) -> datetime:
    """An RFC 3339 instant with its offset (`2026-12-24T00:00:00Z`, `…+08:00`)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an RFC 3339 instant (2026-12-24T00:00:00Z): {text!r}"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset: add Z (UTC) or one like +08:00")
    try:
        return in_utc(moment, text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def in_utc(moment: datetime, text: str) -> datetime:
    """``moment`` (read from ``text``) in UTC, or ``ValueError`` naming the range: near year
    1 or 9999 an offset carries an instant out of what a datetime holds (and a protobuf
    Timestamp, whose range is the same years in UTC)."""
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range (years 1-9999 in UTC)") from None


def enum_arg(enum_name: str, aliases: dict[str, str] | None = None) -> Callable[[str], str]:
    """An argparse type turning a Cloud Assistant word into the value name of a kairos.v1 enum."""

    def convert(text: str) -> str:
        # Imported here, when a value is parsed, to keep building the parser cheap.
        from kairos.v1 import common_pb2
        from scheduler.cli.naming import parse_enum

        try:
            return parse_enum(getattr(common_pb2, enum_name), text, aliases)
        except UsageError as error:
            raise argparse.ArgumentTypeError(error.message) from None

    return convert
