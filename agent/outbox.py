"""Messages from the agent to the dispatcher, over whichever stream is live right now."""

from __future__ import annotations

import asyncio

from kairos.v1 import agent_pb2

# Queued messages beyond which live output is dropped (about 4 MiB of chunks).
OUTPUT_BACKLOG = 256


class Outbox:
    """Sends on the current stream; with no stream, drops the message.

    Dropping is safe: results stay in the spool and are replayed after the
    next Hello, and live output is best effort (the result carries the
    stored output).
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[agent_pb2.AgentMessage | None] | None = None

    def attach(self) -> asyncio.Queue[agent_pb2.AgentMessage | None]:
        """Start a stream; return the queue its writer drains (None ends the stream)."""
        self.detach()
        self._queue = asyncio.Queue()
        return self._queue

    def detach(self) -> None:
        """End the current stream, if any."""
        if self._queue is not None:
            self._queue.put_nowait(None)
            self._queue = None

    def send(self, message: agent_pb2.AgentMessage) -> None:
        """Queue ``message`` on the current stream, or drop it when there is none.

        Live output is also dropped while the stream is backed up, so a slow
        link costs bounded memory; its offsets tell the dispatcher what it missed.
        """
        if self._queue is None:
            return
        if message.WhichOneof("kind") == "output" and self._queue.qsize() >= OUTPUT_BACKLOG:
            return
        self._queue.put_nowait(message)
