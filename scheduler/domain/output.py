"""Stored output of one execution: the head and the tail, with the middle counted.

The agent keeps its output this way, and the server applies the same rule to
whatever an agent reports. SPEC §3 keeps at most 24 KiB per execution. Longer output keeps its first
12 KiB and its last 12 KiB; the bytes in between are dropped and counted.
Pure: no I/O, no clock.
"""

from __future__ import annotations

HEAD_BYTES = 12 * 1024
TAIL_BYTES = 12 * 1024
STORED_BYTES = HEAD_BYTES + TAIL_BYTES


class HeadTail:
    """Accumulates a byte stream and keeps only its head and tail.

    Memory stays bounded by ``head + tail`` bytes whatever the stream length.
    """

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        if head < 0 or tail < 0:
            raise ValueError("head and tail sizes must not be negative")
        self._head_limit = head
        self._tail_limit = tail
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0

    @property
    def total(self) -> int:
        """Bytes fed so far."""
        return self._total

    def feed(self, data: bytes) -> None:
        """Append ``data`` to the stream."""
        self._total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data or self._tail_limit == 0:
            return
        self._tail += data
        # Trim only once the tail has grown well past its limit, so that a
        # stream of tiny writes does not copy the tail on every call.
        if len(self._tail) > 2 * self._tail_limit:
            del self._tail[: len(self._tail) - self._tail_limit]

    def result(self) -> tuple[bytes, int]:
        """Return ``(stored output, dropped byte count)`` for the stream so far."""
        tail = bytes(self._tail[-self._tail_limit :]) if self._tail_limit else b""
        return bytes(self._head) + tail, self._total - len(self._head) - len(tail)


def head_tail(data: bytes, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> tuple[bytes, int]:
    """Return ``(stored output, dropped byte count)`` for a whole output."""
    buffer = HeadTail(head, tail)
    buffer.feed(data)
    return buffer.result()
