"""The live rate (token buckets per execution) and a watcher's cursor over one output."""

from __future__ import annotations

import pytest

from scheduler.domain.live_rate import LiveRate, TokenBucket
from scheduler.domain.watched_output import Gap, OutputCursor, Piece


def test_a_bucket_starts_full_and_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=1000, burst=3000, now=0.0)
    assert bucket.take(2000, 0.0) == 2000
    assert bucket.take(2000, 0.0) == 1000  # the burst is spent: the rest is skipped
    assert bucket.take(100, 0.1) == 0  # skipping until half a second's worth is back
    assert bucket.take(1000, 0.6) == 600
    assert bucket.take(10_000, 100.0) == 3000  # never more than the burst at once


def test_a_bucket_refuses_a_rate_it_cannot_keep() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(rate=0, burst=10, now=0.0)


def test_the_stored_head_always_goes_live_whatever_the_rate() -> None:
    live = LiveRate(100, head=24 * 1024)
    sizes = [700] * 36  # 25,200 bytes at once: more than the head
    admitted = [live.admit("e-1", size, 0.0) for size in sizes]
    assert sum(admitted) == 24 * 1024
    assert live.admit("e-2", 5000, 0.0) == 5000  # each execution has its own bucket
    live.forget("e-1")
    assert live.admit("e-1", 5000, 0.0) == 5000  # a forgotten execution starts afresh


def test_a_cursor_gives_each_byte_once_and_announces_skips() -> None:
    cursor = OutputCursor()
    assert cursor.live(0, b"hello ") == [Piece(0, b"hello ")]
    assert cursor.live(0, b"hello wor") == [Piece(6, b"wor")]  # a resend: only what is new
    assert cursor.live(20, b"xyz") == [Gap(9, 11), Piece(20, b"xyz")]
    assert cursor.live(5, b"old") == []
    assert cursor.position == 23


def test_a_final_output_fills_head_and_tail_around_the_dropped_middle() -> None:
    output = bytes(range(256)) * 400  # 102,400 bytes, stored as 12 KiB head + 12 KiB tail
    head, tail = output[:12288], output[-12288:]
    dropped = len(output) - 24576
    cursor = OutputCursor()
    cursor.live(0, output[:5000])  # live showed the start, then the rate skipped the rest
    filled = cursor.stored(head + tail, dropped, 12288)
    assert filled == [
        Piece(5000, head[5000:]),
        Gap(12288, dropped),
        Piece(len(output) - 12288, tail),
    ]
    assert cursor.stored(head + tail, dropped, 12288) == []  # nothing twice


def test_a_final_output_seen_whole_live_adds_nothing() -> None:
    cursor = OutputCursor()
    cursor.live(0, b"x" * 30_000)
    assert cursor.stored(b"x" * 24_576, 30_000 - 24_576, 12_288) == []


def test_a_final_output_without_tail_still_counts_what_it_dropped() -> None:
    cursor = OutputCursor()
    assert cursor.stored(b"abc", 7, 12_288) == [Piece(0, b"abc"), Gap(3, 7)]
