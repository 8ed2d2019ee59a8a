"""The head-and-tail rule for stored output (SPEC §3: 24 KiB, head and tail kept)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.output import HEAD_BYTES, STORED_BYTES, TAIL_BYTES, HeadTail, head_tail


def test_limits_are_12_kib_each() -> None:
    assert (HEAD_BYTES, TAIL_BYTES, STORED_BYTES) == (12288, 12288, 24576)


@pytest.mark.parametrize("size", [0, 1, 12287, 12288, 12289, 24575, 24576])
def test_output_up_to_the_limit_is_kept_whole(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    assert head_tail(data) == (data, 0)


@pytest.mark.parametrize("size", [24577, 30000, 1_000_000])
def test_longer_output_keeps_head_and_tail(size: int) -> None:
    data = bytes(i % 251 for i in range(size))
    output, dropped = head_tail(data)
    assert output == data[:12288] + data[-12288:]
    assert dropped == size - 24576


def test_small_limits() -> None:
    assert head_tail(b"abcdefghij", head=2, tail=3) == (b"abhij", 5)
    assert head_tail(b"abcdefghij", head=0, tail=3) == (b"hij", 7)
    assert head_tail(b"abcdefghij", head=2, tail=0) == (b"ab", 8)
    assert head_tail(b"abcde", head=2, tail=3) == (b"abcde", 0)
    assert head_tail(b"", head=2, tail=3) == (b"", 0)


def test_negative_limits_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        HeadTail(head=-1)


def test_byte_by_byte_feeding_matches_one_feed() -> None:
    data = bytes(i % 256 for i in range(60_000))
    buffer = HeadTail()
    for i in range(len(data)):
        buffer.feed(data[i : i + 1])
    assert buffer.result() == head_tail(data)
    assert buffer.total == 60_000


def test_result_can_be_read_midway() -> None:
    buffer = HeadTail(head=2, tail=2)
    buffer.feed(b"abc")
    assert buffer.result() == (b"abc", 0)
    buffer.feed(b"defg")
    assert buffer.result() == (b"abfg", 3)


@given(
    chunks=st.lists(st.binary(max_size=64), max_size=40),
    head=st.integers(0, 40),
    tail=st.integers(0, 40),
)
def test_any_chunking_gives_the_same_result(chunks: list[bytes], head: int, tail: int) -> None:
    data = b"".join(chunks)
    buffer = HeadTail(head, tail)
    for chunk in chunks:
        buffer.feed(chunk)
    output, dropped = buffer.result()
    if len(data) <= head + tail:
        assert (output, dropped) == (data, 0)
    else:
        assert output == data[:head] + (data[-tail:] if tail else b"")
        assert dropped == len(data) - head - tail
    assert buffer.total == len(data)
