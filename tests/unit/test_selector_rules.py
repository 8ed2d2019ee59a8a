"""Which instances join or leave an invocation by selector, and the selector refusals."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import InvocationStatus, RepeatMode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.selectors import (
    Member,
    SelectorInvocation,
    check_selected,
    check_targeting,
    membership_moves,
)
from scheduler.domain.status import StatusChange, chained, count_deltas, overall_status
from scheduler.domain.tags import matches
from tests.factories import invocation_settings
from tests.unit.test_invocation_rules import NOW, instance

CREATED = NOW - timedelta(seconds=25)


def selector_invocation(
    mode: RepeatMode = RepeatMode.PERIOD, frequency: str = "rate(10s)"
) -> SelectorInvocation:
    return SelectorInvocation(
        id="t-1",
        selector={"env": "prod"},
        settings=invocation_settings(repeat_mode=mode, frequency=frequency),
        created_at=CREATED,
    )


tag_maps = st.dictionaries(st.sampled_from(["env", "team"]), st.sampled_from(["prod", "dev"]))
members = st.none() | st.builds(Member, armed=st.booleans(), repeats=st.integers(0, 2))


@given(tags=tag_maps, member=members, mode=st.sampled_from(list(RepeatMode)[1:4]))
def test_after_the_moves_exactly_the_matching_instances_are_armed(
    tags: dict[str, str], member: Member | None, mode: RepeatMode
) -> None:
    invocation = selector_invocation(mode)
    members_now = {} if member is None else {("t-1", "i-1"): member}
    moves = membership_moves([invocation], [instance("i-1")], {"i-1": tags}, members_now, now=NOW)
    armed_before = member is not None and member.armed
    armed_after = (armed_before or bool(moves.armed)) and not moves.left
    spent = mode is RepeatMode.NEXT_REBOOT_ONLY and member is not None and member.repeats > 0
    if matches(invocation.selector, tags):
        assert armed_after or (spent and not armed_before)
        assert not moves.left
    else:
        assert not armed_after and not moves.armed
    assert all(a.new == (member is None) for a in moves.armed)


def test_a_joining_target_fires_on_the_grid_of_the_invocation() -> None:
    moves = membership_moves(
        [selector_invocation()], [instance("i-1")], {"i-1": {"env": "prod"}}, {}, now=NOW
    )
    [arming] = moves.armed
    # Created 25 s ago on a 10 s grid: the next fire is 5 s from now, not 10.
    assert arming.next_fire_at == CREATED + timedelta(seconds=30)
    boot = membership_moves(
        [selector_invocation(RepeatMode.EVERY_REBOOT, "")],
        [instance("i-1")],
        {"i-1": {"env": "prod"}},
        {},
        now=NOW,
    )
    assert [(a.new, a.next_fire_at) for a in boot.armed] == [(True, None)]


def test_an_exhausted_schedule_takes_no_one_in() -> None:
    past = (NOW - timedelta(hours=1)).astimezone(UTC)
    invocation = selector_invocation(frequency=f"at({past:%Y-%m-%d %H:%M:%S})")
    moves = membership_moves([invocation], [instance("i-1")], {"i-1": {"env": "prod"}}, {}, now=NOW)
    assert moves.armed == [] and moves.left == []


def test_refusals() -> None:
    check_selected(3, limit=3, immediate=True, selector={"a": ""})
    check_selected(0, limit=3, immediate=False, selector={"a": ""})
    with pytest.raises(KairosError) as raised:
        check_selected(4, limit=3, immediate=False, selector={"a": ""})
    assert raised.value.code is RefusalCode.INVALID_RESOURCE_TAG_TOO_MANY_INSTANCES
    with pytest.raises(KairosError) as raised:
        check_selected(0, limit=3, immediate=True, selector={"a": "", "b": "c"})
    assert raised.value.kind is ErrorKind.NOT_FOUND
    assert raised.value.message.endswith("(a, b=c)")
    check_targeting(["i-1"], [])
    check_targeting([], ["x"])
    with pytest.raises(KairosError) as raised:
        check_targeting(["i-1"], ["x"])
    assert raised.value.code is RefusalCode.INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS


def test_a_live_selector_invocation_is_scheduled_whatever_its_targets() -> None:
    assert overall_status([], selecting=True) is InvocationStatus.SCHEDULED
    assert overall_status([InvocationStatus.SUCCESS], selecting=True) is InvocationStatus.SCHEDULED
    assert overall_status([InvocationStatus.PENDING], selecting=True) is InvocationStatus.PENDING
    assert overall_status([InvocationStatus.SUCCESS]) is InvocationStatus.SUCCESS


def test_a_created_then_fired_target_counts_once() -> None:
    created = StatusChange("t-1", None, InvocationStatus.SCHEDULED)
    fired = StatusChange("t-1", InvocationStatus.SCHEDULED, InvocationStatus.PENDING)
    assert count_deltas([chained(created, fired)]) == {("t-1", InvocationStatus.PENDING): 1}
    assert count_deltas([created]) == {("t-1", InvocationStatus.SCHEDULED): 1}
