"""The agent's request stream, and protocol 2 on the agent's side: which version a stream
speaks, and reports packed together into one Reports message.

Every gRPC message costs the server a fixed share of its time before it looks at
what the message says, so reports that are already waiting go out together.
Packing never waits for more: the writer takes only what is queued when gRPC is
ready for the next message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from kairos.v1 import agent_pb2
from scheduler.domain.protocol import MAX_REPORTS_PER_MESSAGE, REPORT_KINDS, speaks_reports

AGENT_PROTOCOL = 2
"""The newest protocol version this agent speaks (agent.proto documents each)."""
PACK_BYTES = 1024 * 1024
"""Bytes of reports in one Reports message, at most: well under gRPC's 4 MiB message
limit, whatever output chunks and results it carries."""


def spoken(welcome: agent_pb2.Welcome) -> int:
    """The version the stream speaks once ``welcome`` came: the server's choice, 1 from a
    server from before versions (unset), never more than this agent speaks."""
    return min(welcome.protocol or 1, AGENT_PROTOCOL)


def packs(message: agent_pb2.AgentMessage, protocol: int) -> bool:
    """Whether ``message`` may go in a Reports message on a stream of ``protocol``: a
    report (never Hello or Heartbeat), on version 2 or later."""
    return speaks_reports(protocol) and message.WhichOneof("kind") in REPORT_KINDS


async def request_stream(
    queue: asyncio.Queue[agent_pb2.AgentMessage | None], protocol: Callable[[], int]
) -> AsyncIterator[agent_pb2.AgentMessage]:
    """The request stream: messages from the queue until its end marker.

    Once the stream speaks protocol 2 (``protocol``), the reports queued when gRPC
    asks for the next message go out together in one Reports message (``Pack``), in
    their order; it never waits for more to come.
    """
    taken: list[agent_pb2.AgentMessage | None] = []  # taken from the queue, not yet sent
    while (message := taken.pop() if taken else await queue.get()) is not None:
        if packs(message, protocol()):
            pack = Pack(message)
            while not queue.empty():
                more = queue.get_nowait()
                if more is None or not packs(more, protocol()) or not pack.add(more):
                    taken.append(more)  # the next message, after this one
                    break
            message = pack.message()
        yield message


class Pack:
    """Reports that go out in one message: at most ``MAX_REPORTS_PER_MESSAGE`` and
    ``PACK_BYTES`` (one report more than that goes alone)."""

    __slots__ = ("_reports", "_size")

    def __init__(self, first: agent_pb2.AgentMessage) -> None:
        self._reports = [first]
        self._size = first.ByteSize()

    def add(self, message: agent_pb2.AgentMessage) -> bool:
        """Take ``message``, a report (``packs``), if it fits; False when it does not."""
        size = message.ByteSize()
        if len(self._reports) >= MAX_REPORTS_PER_MESSAGE or self._size + size > PACK_BYTES:
            return False
        self._reports.append(message)
        self._size += size
        return True

    def message(self) -> agent_pb2.AgentMessage:
        """The message to send: a lone report as it is, several in one Reports."""
        if len(self._reports) == 1:
            return self._reports[0]
        reports = [as_report(message) for message in self._reports]
        return agent_pb2.AgentMessage(reports=agent_pb2.Reports(reports=reports))


def as_report(message: agent_pb2.AgentMessage) -> agent_pb2.Report:
    """A report (``packs``) as a Reports message holds it."""
    kind = message.WhichOneof("kind")
    assert kind is not None  # a report: ``packs`` said so
    # A Report names each kind as AgentMessage does.
    return agent_pb2.Report(**{kind: getattr(message, kind)})
