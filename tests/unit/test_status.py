"""SPEC §7: a target's status from its executions, an invocation's from its targets.

Also the status sets of ``domain.enums`` that the store's SQL and checks are made of.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.enums import (
    ACTIVE_STATUSES,
    DISPATCH_STATUSES,
    EXECUTION_STATUSES,
    FAILURE_STATUSES,
    FINAL_STATUSES,
    INVOCATION_STATUSES,
    TARGET_STATUSES,
    InvocationStatus,
)
from scheduler.domain.status import (
    StatusChange,
    count_deltas,
    overall_status,
    presence_changed,
    target_status,
)

S = InvocationStatus
PER_INSTANCE = [s for s in S if s not in (S.STOPPED, S.PARTIAL_FAILED)]
ACTIVE = [S.PENDING, S.SCHEDULED, S.RUNNING, S.STOPPING]
FAILURES = [S.FAILED, S.ERROR, S.TIMEOUT, S.INVALID, S.ABORTED]
STOPPED_ONES = [S.CANCELLED, S.TERMINATED]
TERMINAL = [S.SUCCESS, *FAILURES, *STOPPED_ONES]

statuses = st.lists(st.sampled_from(PER_INSTANCE), min_size=1, max_size=30)
terminal_statuses = st.lists(st.sampled_from(TERMINAL), min_size=1, max_size=30)


def test_failure_statuses_are_the_spec_list() -> None:
    assert set(FAILURES) == FAILURE_STATUSES
    assert FAILURE_STATUSES <= FINAL_STATUSES
    assert not set(ACTIVE) & FINAL_STATUSES
    assert {s for s in S if s.is_final} == FINAL_STATUSES


@pytest.mark.parametrize(
    ("instances", "expected"),
    [
        ([S.SUCCESS], S.SUCCESS),
        ([S.SUCCESS] * 5, S.SUCCESS),
        ([S.SUCCESS, S.CANCELLED], S.SUCCESS),
        ([S.SUCCESS, S.TERMINATED, S.CANCELLED], S.SUCCESS),
        ([S.CANCELLED], S.STOPPED),
        ([S.TERMINATED], S.STOPPED),
        ([S.CANCELLED, S.TERMINATED, S.CANCELLED], S.STOPPED),
        ([S.SUCCESS, S.FAILED], S.PARTIAL_FAILED),
        ([S.FAILED, S.SUCCESS, S.CANCELLED], S.PARTIAL_FAILED),
        ([S.FAILED], S.FAILED),
        ([S.FAILED, S.CANCELLED], S.FAILED),
        ([S.TERMINATED, S.TIMEOUT], S.FAILED),
        ([S.PENDING, S.SCHEDULED, S.RUNNING, S.STOPPING, S.SUCCESS], S.PENDING),
        ([S.SCHEDULED, S.RUNNING, S.STOPPING, S.FAILED], S.SCHEDULED),
        ([S.RUNNING, S.STOPPING, S.SUCCESS, S.CANCELLED], S.RUNNING),
        ([S.STOPPING, S.SUCCESS, S.FAILED, S.TERMINATED], S.STOPPING),
        ([S.SUCCESS, S.PENDING], S.PENDING),
        ([S.CANCELLED, S.RUNNING], S.RUNNING),
    ],
)
def test_explicit_cases(instances: list[InvocationStatus], expected: InvocationStatus) -> None:
    assert overall_status(instances) is expected
    assert overall_status(reversed(instances)) is expected


@pytest.mark.parametrize("failure", FAILURES)
def test_each_failure_counts_as_a_failure(failure: InvocationStatus) -> None:
    assert overall_status([failure]) is S.FAILED
    assert overall_status([failure, S.CANCELLED, S.TERMINATED]) is S.FAILED
    assert overall_status([S.SUCCESS, failure]) is S.PARTIAL_FAILED
    assert overall_status([S.SUCCESS, failure, S.TERMINATED]) is S.PARTIAL_FAILED


def test_accepts_any_iterable_once() -> None:
    assert overall_status(iter([S.SUCCESS, S.FAILED])) is S.PARTIAL_FAILED
    assert overall_status(s for s in [S.RUNNING, S.SUCCESS]) is S.RUNNING


@given(statuses)
def test_precedence_of_unfinished_statuses(instances: list[InvocationStatus]) -> None:
    result = overall_status(instances)
    for active in ACTIVE:
        if active in instances:
            assert result is active
            return
        assert result is not active
    assert result in (S.SUCCESS, S.FAILED, S.PARTIAL_FAILED, S.STOPPED)


@given(terminal_statuses)
def test_terminal_rules(instances: list[InvocationStatus]) -> None:
    result = overall_status(instances)
    succeeded = S.SUCCESS in instances
    failed = any(s in FAILURE_STATUSES for s in instances)
    if succeeded and failed:
        assert result is S.PARTIAL_FAILED
    elif failed:
        assert result is S.FAILED
    elif succeeded:
        assert result is S.SUCCESS
    else:
        assert set(instances) <= set(STOPPED_ONES)
        assert result is S.STOPPED


@given(statuses, st.randoms(use_true_random=False))
def test_depends_only_on_which_statuses_occur(
    instances: list[InvocationStatus], rnd: random.Random
) -> None:
    shuffled = list(instances)
    rnd.shuffle(shuffled)
    result = overall_status(instances)
    assert overall_status(shuffled) is result
    assert overall_status(instances + instances) is result
    assert overall_status(sorted(set(instances))) is result


@given(terminal_statuses, st.sampled_from(STOPPED_ONES))
def test_adding_a_stopped_instance_never_changes_a_decided_outcome(
    instances: list[InvocationStatus], stopped: InvocationStatus
) -> None:
    result = overall_status(instances)
    if result is not S.STOPPED:
        assert overall_status([*instances, stopped]) is result


@given(terminal_statuses)
def test_overall_is_a_final_status(instances: list[InvocationStatus]) -> None:
    assert overall_status(instances).is_final


def test_status_sets_nest() -> None:
    assert DISPATCH_STATUSES <= ACTIVE_STATUSES <= EXECUTION_STATUSES
    assert {S.PENDING, S.RUNNING, S.STOPPING} == ACTIVE_STATUSES
    assert not ACTIVE_STATUSES & FINAL_STATUSES
    assert S.SCHEDULED not in EXECUTION_STATUSES
    assert EXECUTION_STATUSES <= TARGET_STATUSES <= INVOCATION_STATUSES
    assert set(S) == INVOCATION_STATUSES


@pytest.mark.parametrize("armed", [False, True])
@pytest.mark.parametrize("latest", sorted(ACTIVE_STATUSES))
def test_a_target_shows_its_unfinished_execution(latest: InvocationStatus, armed: bool) -> None:
    assert target_status(latest, armed=armed) is latest


@pytest.mark.parametrize("latest", [None, *sorted(EXECUTION_STATUSES - ACTIVE_STATUSES)])
def test_an_armed_target_without_an_unfinished_execution_is_scheduled(
    latest: InvocationStatus | None,
) -> None:
    assert target_status(latest, armed=True) is S.SCHEDULED


@pytest.mark.parametrize("latest", sorted(EXECUTION_STATUSES - ACTIVE_STATUSES))
def test_a_disarmed_target_keeps_its_last_outcome(latest: InvocationStatus) -> None:
    assert target_status(latest, armed=False) is latest


def test_a_disarmed_target_that_never_fired_is_cancelled() -> None:
    assert target_status(None, armed=False) is S.CANCELLED


@given(st.sampled_from([None, *sorted(EXECUTION_STATUSES)]), st.booleans())
def test_a_target_status_is_one_a_target_may_have(
    latest: InvocationStatus | None, armed: bool
) -> None:
    assert target_status(latest, armed=armed) in TARGET_STATUSES


def test_deltas_move_one_target_out_of_a_status_and_into_another() -> None:
    assert count_deltas(
        [
            StatusChange("inv-b", S.RUNNING, S.SUCCESS),
            StatusChange("inv-a", S.RUNNING, S.SUCCESS),
            StatusChange("inv-a", S.PENDING, S.RUNNING),
        ]
    ) == {
        ("inv-a", S.PENDING): -1,
        ("inv-a", S.SUCCESS): 1,
        ("inv-b", S.RUNNING): -1,
        ("inv-b", S.SUCCESS): 1,
    }


def test_deltas_that_cancel_out_are_left_out() -> None:
    swapped = [StatusChange("inv", S.RUNNING, S.PENDING), StatusChange("inv", S.PENDING, S.RUNNING)]
    assert count_deltas(swapped) == {}


changes = st.lists(
    st.builds(
        StatusChange,
        st.sampled_from(["inv-a", "inv-b"]),
        st.sampled_from(PER_INSTANCE),
        st.sampled_from(PER_INSTANCE),
    ),
    max_size=30,
)


def moved(
    instances: list[InvocationStatus], moves: list[StatusChange]
) -> tuple[dict[str, list[InvocationStatus]], list[StatusChange]]:
    """The targets of "inv-a" and "inv-b", both starting in ``instances``, after the moves
    that find a target of their old status; and those moves."""
    targets = {invoke_id: list(instances) for invoke_id in ("inv-a", "inv-b")}
    applied = []
    for move in moves:
        if move.old in targets[move.invocation_id]:
            targets[move.invocation_id].remove(move.old)
            targets[move.invocation_id].append(move.new)
            applied.append(move)
    return targets, applied


@given(statuses, changes)
def test_counts_changed_by_deltas_equal_counting_again(
    instances: list[InvocationStatus], moves: list[StatusChange]
) -> None:
    targets, applied = moved(instances, moves)
    counts = Counter({(i, s): n for i in targets for s, n in Counter(instances).items()})
    counts.update(count_deltas(applied))
    assert +counts == Counter(
        {(i, s): n for i, ts in targets.items() for s, n in Counter(ts).items()}
    )


@given(statuses, changes)
def test_only_invocations_whose_statuses_came_or_went_can_change_overall(
    instances: list[InvocationStatus], moves: list[StatusChange]
) -> None:
    before = overall_status(instances)
    targets, applied = moved(instances, moves)
    deltas = count_deltas(applied)
    after = Counter({(i, s): n for i, ts in targets.items() for s, n in Counter(ts).items()})
    crossed = presence_changed(deltas, after)
    for invoke_id, statuses in targets.items():
        present_then = set(instances)
        present_now = set(statuses)
        assert (invoke_id in crossed) == (present_then != present_now)
        if invoke_id not in crossed:
            assert overall_status(statuses) is before
