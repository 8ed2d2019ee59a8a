"""The agent protocol's versions, and what an agent may send after its Hello: what ends
its stream. Pure.

The versions (agent.proto documents each): Hello says the newest the agent
speaks, and the server speaks the lower of that and its own (``negotiated``).
Version 2 adds Reports, several reports in one message, and ResultAcks.

A message that breaks the protocol cannot be served and must not be guessed
at: bytes that are no message at all, a message of no kind this server
knows, a second Hello, an execution id that cannot be one, or a Reports
message that is empty, too long, holds an unset report or comes from an agent
that said it does not speak version 2. Everything else an agent says is served
within the server's own bounds (``domain.reports``), or ignored when it names
no execution of the agent's.
"""

from __future__ import annotations

import re

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import KairosError, invalid, precondition

SERVER_PROTOCOL = 2
"""The newest protocol version this server speaks."""
OLDEST_PROTOCOL = 1
"""The oldest version it still speaks: an agent that speaks only older ones is refused."""
REPORTS_PROTOCOL = 2
"""The first version with Reports (agent to server) and ResultAcks (server to agent)."""
MAX_REPORTS_PER_MESSAGE = 256
"""Reports in one Reports message, at most."""

REPORT_KINDS = ("ack", "started", "output", "result")
"""What an agent reports of its executions: alone, or packed in a Reports message."""
MESSAGE_KINDS = ("heartbeat", *REPORT_KINDS, "reports")
"""What an agent may send once it has said Hello."""
MAX_EXECUTION_ID = 40
"""Characters of an execution id (the executions column's size)."""

_EXECUTION_ID = re.compile(rf"[\x21-\x7e]{{1,{MAX_EXECUTION_ID}}}")


def is_execution_id(value: str) -> bool:
    """Whether ``value`` can be an execution id: 1-40 printable ASCII characters."""
    return _EXECUTION_ID.fullmatch(value) is not None


def negotiated(
    agent_protocol: int, *, oldest: int = OLDEST_PROTOCOL, newest: int = SERVER_PROTOCOL
) -> int:
    """The version the server speaks with an agent whose Hello says ``agent_protocol``
    (0, unset, is an agent from before versions: 1), between ``oldest`` and ``newest``.

    Negative is no version (``INVALID_ARGUMENT``); an agent that speaks only
    versions older than ``oldest`` is refused ``FAILED_PRECONDITION``: it must be
    upgraded, and guessing at what it means would be worse.
    """
    if agent_protocol < 0:
        raise invalid(
            RefusalCode.INVALID_PARAM_HELLO,
            "hello.protocol",
            f"protocol is {agent_protocol}; it must be a version (1 or more), or 0 for 1",
        )
    spoken = agent_protocol or 1
    if spoken < oldest:
        raise precondition(
            RefusalCode.CLIENT_NEED_UPGRADE,
            f"Hello.protocol is {agent_protocol}: the agent speaks protocol {spoken} and this "
            f"server speaks protocols {oldest} to {newest}; upgrade the agent",
        )
    return min(spoken, newest)


def speaks_reports(protocol: int) -> bool:
    """Whether Reports and ResultAcks may go over a stream of ``protocol``."""
    return protocol >= REPORTS_PROTOCOL


def check_reports(count: int, protocol: int) -> None:
    """Refuse a Reports message of ``count`` reports on a stream of ``protocol`` unless it
    is allowed: protocol 2 or later, 1 to ``MAX_REPORTS_PER_MESSAGE`` reports."""
    if not speaks_reports(protocol):
        raise invalid(
            RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
            "reports",
            f"Reports needs protocol {REPORTS_PROTOCOL}; this agent's Hello.protocol "
            f"says it speaks {protocol}",
        )
    if not 1 <= count <= MAX_REPORTS_PER_MESSAGE:
        raise invalid(
            RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
            "reports.reports",
            f"a Reports message holds 1-{MAX_REPORTS_PER_MESSAGE} reports; this one holds {count}",
        )


def check_report(index: int, kind: str | None, execution_id: str | None) -> str:
    """Return ``kind``, the case of the report at ``index`` of a Reports message (None when
    unset or unknown), unless the report breaks the protocol as the same message alone
    would (``check_message``). Fields are named ``reports.reports[<index>]…``."""
    at = f"reports.reports[{index}]"
    if kind not in REPORT_KINDS:
        raise invalid(
            RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
            at,
            f"each report must be set to one of {', '.join(REPORT_KINDS)}; report {index} is not",
        )
    return check_message(kind, execution_id, within=f"{at}.")


def check_message(kind: str | None, execution_id: str | None, *, within: str = "") -> str:
    """Return ``kind``, the oneof case of a message after Hello (None when unset or
    unknown), unless the message breaks the protocol; ``execution_id`` is the id it
    names (None for kinds without one).

    The execution id must be 1-40 printable ASCII characters, as every id the
    server gives out is: an unknown one is the caller's to ignore, a malformed one
    is no execution at all. The error names the field as ``<within><kind>.execution_id``.
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
            f"{within}{kind}.execution_id",
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
