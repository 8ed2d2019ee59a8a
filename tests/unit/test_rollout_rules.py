"""Rolling rate control's pure rules: the limits' spelling, their resolution, the next step."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.domain.codes import ExecutionErrorCode, RefusalCode
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.models import PlannedExecution
from scheduler.domain.rollout import (
    FAILURE_STATUSES,
    FireProgress,
    FireStep,
    check_max_concurrency,
    check_max_errors,
    concurrency_of,
    errors_allowed,
    first_slice,
    next_step,
)

from .expect import assert_refusal

INVALID = ErrorKind.INVALID_ARGUMENT
MAX_CONCURRENCY = RefusalCode.INVALID_PARAM_MAX_CONCURRENCY
MAX_ERRORS = RefusalCode.INVALID_PARAM_MAX_ERRORS

targets = st.integers(min_value=0, max_value=100_000)
percents = st.integers(min_value=0, max_value=100)


@pytest.mark.parametrize("text", ["", "1", "10", "9999999", "1%", "25%", "99%", "100%"])
def test_valid_max_concurrency_is_kept_as_written(text: str) -> None:
    assert check_max_concurrency(text) == text


@pytest.mark.parametrize("text", ["", "0", "1", "9999999", "0%", "1%", "100%"])
def test_valid_max_errors_is_kept_as_written(text: str) -> None:
    assert check_max_errors(text) == text


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("0", "too small"),
        ("0%", "too small"),
        ("101%", "malformed"),
        ("-1", "malformed"),
        ("+5", "malformed"),
        (" 5", "malformed"),
        ("5 ", "malformed"),
        ("5 %", "malformed"),
        ("1.5", "malformed"),
        ("2.5%", "malformed"),
        ("05", "malformed"),
        ("05%", "malformed"),
        ("%", "malformed"),
        ("ten", "malformed"),
        ("١٠", "malformed"),  # Arabic-Indic digits: not ASCII digits
        ("10000000", "characters long"),
    ],
)
def test_malformed_max_concurrency_is_refused_naming_the_field_and_rule(
    text: str, why: str
) -> None:
    with pytest.raises(KairosError) as caught:
        check_max_concurrency(text)
    assert_refusal(caught.value, INVALID, MAX_CONCURRENCY, "max_concurrency", why)


@pytest.mark.parametrize("text", ["-0", "101%", "1e3", "0x10", "7%%", "50%x"])
def test_malformed_max_errors_is_refused(text: str) -> None:
    with pytest.raises(KairosError) as caught:
        check_max_errors(text)
    assert_refusal(caught.value, INVALID, MAX_ERRORS, "max_errors", "max_errors")


@given(st.text(max_size=9))
def test_any_text_is_accepted_exactly_when_it_spells_a_limit(text: str) -> None:
    # The rule written out another way: digits without a leading zero, or such a
    # number 0-100 followed by one %, at most 7 characters.
    digits = text.removesuffix("%")
    well_formed = (
        len(text) <= 7
        and digits.isascii()
        and digits.isdigit()
        and (digits == "0" or not digits.startswith("0"))
        and (not text.endswith("%") or int(digits) <= 100)
    )
    for check, minimum in ((check_max_concurrency, 1), (check_max_errors, 0)):
        ok = text == "" or (well_formed and int(digits) >= minimum)
        try:
            check(text)
        except KairosError:
            assert not ok, text
        else:
            assert ok, text


def test_no_limit_resolves_to_none() -> None:
    assert concurrency_of("", 10) is None
    assert errors_allowed("", 10) is None


@given(st.integers(min_value=1, max_value=9_999_999), targets)
def test_a_count_is_the_count_whatever_the_targets(count: int, n: int) -> None:
    assert concurrency_of(str(count), n) == count
    assert errors_allowed(str(count), n) == count


@given(st.integers(min_value=1, max_value=100), targets)
def test_a_concurrency_percentage_rounds_up_and_is_at_least_one(percent: int, n: int) -> None:
    resolved = concurrency_of(f"{percent}%", n)
    assert resolved == max(1, math.ceil(Fraction(percent * n, 100)))
    assert resolved is not None and resolved >= 1
    # Never more than the fire has (when it has any): 100% is all of them.
    assert resolved <= max(n, 1)


@given(percents, targets)
def test_an_errors_percentage_rounds_down(percent: int, n: int) -> None:
    resolved = errors_allowed(f"{percent}%", n)
    assert resolved == math.floor(Fraction(percent * n, 100))
    assert resolved is not None and 0 <= resolved <= n


@pytest.mark.parametrize(
    ("text", "n", "concurrency", "errors"),
    [("10%", 1000, 100, 100), ("10%", 5, 1, 0), ("25%", 10, 3, 2), ("100%", 7, 7, 7)],
)
def test_percentages_of_some_fires(text: str, n: int, concurrency: int, errors: int) -> None:
    assert concurrency_of(text, n) == concurrency
    assert errors_allowed(text, n) == errors


def test_failures_are_final_statuses_other_than_success_and_the_operators_stops() -> None:
    assert (
        frozenset(
            {
                InvocationStatus.FAILED,
                InvocationStatus.ERROR,
                InvocationStatus.TIMEOUT,
                InvocationStatus.INVALID,
                InvocationStatus.ABORTED,
                # Overall only, but an agent may report it for an execution.
                InvocationStatus.PARTIAL_FAILED,
            }
        )
        == FAILURE_STATUSES
    )


progress = st.builds(
    lambda n, running, failed, held: FireProgress(
        targets=n, running=running, failed=failed, held=held
    ),
    st.integers(0, 200),
    st.integers(0, 200),
    st.integers(0, 200),
    st.integers(0, 200),
)
limits = st.sampled_from(["", "0", "1", "2", "5", "10%", "50%", "100%"])


@given(progress, limits.filter(lambda t: t not in {"0"}), limits)
def test_a_step_releases_into_the_room_left_or_cancels_past_the_errors(
    fire: FireProgress, max_concurrency: str, max_errors: str
) -> None:
    step = next_step(fire, max_concurrency=max_concurrency, max_errors=max_errors)
    allowed = errors_allowed(max_errors, fire.targets)
    limit = concurrency_of(max_concurrency, fire.targets)
    if allowed is not None and fire.failed > allowed:
        assert step == FireStep(release=0, cancel_held=fire.held > 0)
        return
    assert not step.cancel_held
    assert 0 <= step.release <= fire.held
    if limit is None:
        assert step.release == fire.held
    else:
        # Never past the limit, and as far as it (and what is held) allows.
        assert fire.running + step.release <= max(limit, fire.running)
        assert step.release == max(0, min(fire.held, limit - fire.running))


def plans(*statuses: InvocationStatus) -> list[PlannedExecution]:
    # Listed out of instance id order: the slice follows instance ids, not the list.
    return [
        PlannedExecution(id=f"e-{n}", instance_id=f"i-{n:02}", script=b"", status=status)
        for n, status in reversed(list(enumerate(statuses, 1)))
    ]


def test_a_new_fire_releases_its_first_instances_by_id_and_holds_the_rest() -> None:
    sliced = first_slice(
        plans(*[InvocationStatus.PENDING] * 5), max_concurrency="40%", max_errors=""
    )
    assert {plan.instance_id: go for plan, go in sliced} == {
        "i-01": True,
        "i-02": True,
        "i-03": False,
        "i-04": False,
        "i-05": False,
    }
    assert all(plan.status is InvocationStatus.PENDING for plan, _ in sliced)


def test_without_rate_control_everything_is_released() -> None:
    sliced = first_slice(plans(*[InvocationStatus.PENDING] * 3), max_concurrency="", max_errors="0")
    assert all(go for _, go in sliced)


def test_a_new_fire_already_past_its_errors_cancels_what_it_would_hold() -> None:
    pending = InvocationStatus.PENDING
    sliced = first_slice(
        plans(InvocationStatus.INVALID, pending, pending), max_concurrency="1", max_errors="0"
    )
    by_instance = {plan.instance_id: (plan, go) for plan, go in sliced}
    invalid, _ = by_instance["i-01"]
    assert invalid.status is InvocationStatus.INVALID
    for instance_id in ("i-02", "i-03"):
        plan, go = by_instance[instance_id]
        assert not go
        assert (plan.status, plan.error_code) == (
            InvocationStatus.CANCELLED,
            ExecutionErrorCode.MAX_ERRORS_EXCEEDED,
        )
