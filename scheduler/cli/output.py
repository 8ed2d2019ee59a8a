"""How operator commands print: aligned tables, UTC times and JSON documents."""

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

EMPTY = "-"


def render_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns aligned with two spaces, no trailing blanks; empty cells print `-`."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for column, text in enumerate(row):
            widths[column] = max(widths[column], len(text))
    lines = [headers, *cells]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def render_fields(fields: Sequence[tuple[str, object]]) -> str:
    """`key  value` lines with the values aligned, for one object."""
    width = max((len(key) for key, _ in fields), default=0)
    return "\n".join(f"{key.ljust(width)}  {_cell(value)}".rstrip() for key, value in fields)


def format_time(stamp: Timestamp) -> str:
    """UTC ISO-8601 to the second (`2026-11-22T05:30:00Z`); `""` when unset."""
    if stamp.seconds == 0 and stamp.nanos == 0:
        return ""
    return datetime.fromtimestamp(stamp.seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decode_output(data: bytes) -> str:
    """Script output as text: UTF-8, with undecodable bytes replaced."""
    return data.decode("utf-8", errors="replace")


def message_dict(message: Message) -> dict[str, Any]:
    """A message as JSON-ready data: proto field names, defaults included, bytes as Base64."""
    # Defaults are kept so that scripts can rely on `exit_code: 0` being present.
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def print_json(document: Message | Mapping[str, Any], out: TextIO | None = None) -> None:
    """Print one JSON document (a message or data built from `message_dict`)."""
    data = message_dict(document) if isinstance(document, Message) else document
    print(json.dumps(data, indent=2, ensure_ascii=False), file=out or sys.stdout)


def print_done(response: Message, json_output: bool, done: str) -> int:
    """Report a call that changes something: its response as JSON, or the one line
    ``done`` saying what it did; the command's exit status (0)."""
    if json_output:
        print_json(response)
    else:
        print(done)
    return 0


def print_page_hint(shown: int, total: int | None, next_token: str) -> None:
    """Tell the operator on stderr how to get the rest of a paged list, if any is left;
    ``total`` is None for a list the API does not count (ListTagResources)."""
    if next_token:
        counted = f"{shown}" if total is None else f"{shown} of {total}"
        print(
            f"({counted} shown; more with --next-token {next_token} or --all)",
            file=sys.stderr,
        )


def _cell(value: object) -> str:
    if value is None or value == "":
        return EMPTY
    return str(value)
