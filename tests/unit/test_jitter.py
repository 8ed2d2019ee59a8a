"""A target's jitter offset: in its window, the same at every call, spread over the window."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.jitter import MAX_JITTER, jitter_offset

IDS = st.text(st.characters(exclude_characters="\0"), min_size=1, max_size=64)
WINDOWS = st.integers(min_value=0, max_value=MAX_JITTER)


@given(IDS, IDS, WINDOWS)
def test_the_offset_lies_in_the_window(invocation_id: str, instance_id: str, window: int) -> None:
    offset = jitter_offset(invocation_id, instance_id, window)
    assert timedelta(0) <= offset <= timedelta(seconds=window)


@given(IDS, IDS, WINDOWS)
def test_the_offset_is_the_same_at_every_call(
    invocation_id: str, instance_id: str, window: int
) -> None:
    assert jitter_offset(invocation_id, instance_id, window) == jitter_offset(
        invocation_id, instance_id, window
    )


def test_the_offset_does_not_depend_on_the_process() -> None:
    # Python's own hash() of a string changes with every process (PYTHONHASHSEED): a
    # target must keep its slot across restarts and ticker replicas. Pinned values.
    assert jitter_offset("t-1", "i-1", 60) == timedelta(milliseconds=36_650)
    assert jitter_offset("t-1", "i-2", 3600) == timedelta(milliseconds=24_984)


def test_no_window_is_no_offset() -> None:
    assert jitter_offset("t-1", "i-1", 0) == timedelta(0)


def test_the_ids_are_not_merely_concatenated() -> None:
    assert jitter_offset("t-ab", "c", 3600) != jitter_offset("t-a", "bc", 3600)


@given(IDS, st.integers(min_value=10, max_value=MAX_JITTER))
def test_two_hundred_targets_spread_over_every_quarter_of_the_window(
    invocation_id: str, window: int
) -> None:
    offsets = [jitter_offset(invocation_id, f"i-{n}", window) for n in range(200)]
    quarter = timedelta(seconds=window) / 4
    per_quarter = [0, 0, 0, 0]
    for offset in offsets:
        per_quarter[min(int(offset / quarter), 3)] += 1
    # 50 expected in each; fewer than 20 has a probability of about 1e-7.
    assert min(per_quarter) >= 20, per_quarter
    assert len(set(offsets)) >= 190


@given(IDS, IDS)
def test_another_invocation_gives_the_node_another_slot(
    instance_id: str, invocation_id: str
) -> None:
    # Not a rule for every pair (slots may collide), but never the same for all.
    offsets = {jitter_offset(f"{invocation_id}-{n}", instance_id, MAX_JITTER) for n in range(8)}
    assert len(offsets) > 1
