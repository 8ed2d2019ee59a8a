"""What one watcher is sent of one execution's output: pieces in order, and gaps. Pure.

A watcher follows each execution's output as one stream of byte offsets, in order:
live chunks as they come, an explicit gap wherever bytes were skipped (the live rate,
a lost notice, the output ``results`` does not keep), and, from the stored output,
whatever live did not show. By the time an execution is final, the watcher has been
given every byte its stored output holds (head and tail), with the rest counted as gaps.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Piece:
    """Bytes of the output at ``offset``."""

    offset: int
    data: bytes


@dataclass(frozen=True)
class Gap:
    """``skipped`` bytes at ``offset`` that the watcher is not given."""

    offset: int
    skipped: int


class OutputCursor:
    """How far a watcher has followed one execution's output."""

    def __init__(self) -> None:
        self.position = 0
        """Bytes of the output the watcher was given or told it skipped."""

    def live(self, offset: int, data: bytes) -> list[Piece | Gap]:
        """A chunk at ``offset``: what of it is new, after a gap if it starts further on."""
        end = offset + len(data)
        if end <= self.position or not data:
            return []
        sent: list[Piece | Gap] = []
        if offset > self.position:
            sent.append(Gap(self.position, offset - self.position))
            self.position = offset
        sent.append(Piece(self.position, data[self.position - offset :]))
        self.position = end
        return sent

    def stored(self, output: bytes, dropped: int, head: int) -> list[Piece | Gap]:
        """The stored output not given yet: head, then a gap for ``dropped``, then tail.

        ``head`` is how many bytes lead the stored output when some were dropped
        (the server keeps ``max_output // 2``); without a drop it holds the output whole.
        """
        if dropped <= 0:
            return self.live(0, output)
        tail = output[head:]
        total = len(output) + dropped
        # The gap before the tail comes with it (``live``); with no tail, on its own.
        return (
            self.live(0, output[:head]) + self.live(total - len(tail), tail) + self.skip_to(total)
        )

    def skip_to(self, offset: int) -> list[Piece | Gap]:
        """A gap up to ``offset`` if the watcher is not there yet."""
        if offset <= self.position:
            return []
        gap = Gap(self.position, offset - self.position)
        self.position = offset
        return [gap]
