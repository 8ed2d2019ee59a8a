"""The rules of what an agent may send after its Hello: what ends its stream. Pure.

A message that breaks the protocol cannot be served and must not be guessed
at: bytes that are no message at all, a message of no kind this server
knows, a second Hello, or an execution id that cannot be one. Everything
else an agent says is served within the server's own bounds
(``domain.reports``), or ignored when it names no execution of the agent's.
"""

from __future__ import annotations

import re

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import KairosError, invalid

MESSAGE_KINDS = ("heartbeat", "ack", "started", "output", "result")
"""What an agent may send once it has said Hello."""
MAX_EXECUTION_ID = 40
"""Characters of an execution id (the executions column's size)."""

_EXECUTION_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_EXECUTION_ID}}}")


def is_execution_id(value: str) -> bool:
    """Whether ``value`` can be an execution id: 1-40 printable ASCII characters."""
    return _EXECUTION_ID.fullmatch(value) is not None


def check_message(kind: str | None, execution_id: str | None) -> str:
    """Return ``kind``, the oneof case of a message after Hello (None when unset or
    unknown), unless the message breaks the protocol; ``execution_id`` is the id it
    names (None for kinds without one).

    The execution id must be 1-40 printable ASCII characters, as every id the
    server gives out is: an unknown one is the caller's to ignore, a malformed one
    is no execution at all. The error names the field as ``<kind>.execution_id``.
    """
    if kind == "hello":
        raise invalid(
            RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
            "hello",
            "Hello is sent once, as the first message of a stream",
        )
    if kind not in MESSAGE_KINDS:
        raise invalid(
            RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
            "kind",
            f"the message is none of {', '.join(MESSAGE_KINDS)}",
        )
    if execution_id is not None and not is_execution_id(execution_id):
        raise invalid(
            RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
            f"{kind}.execution_id",
            f"{kind}.execution_id must be 1-{MAX_EXECUTION_ID} printable ASCII characters",
        )
    return kind


def undecodable() -> KairosError:
    """The refusal of bytes that do not decode as an agent's message."""
    return invalid(
        RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
        "message",
        "the message does not decode as an AgentMessage",
    )
