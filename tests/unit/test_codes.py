"""The catalogue of codes: one definition per string, named by rule, listed in the docs."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from scheduler.domain.codes import ExecutionErrorCode, QuotaName, RefusalCode
from scheduler.domain.enums import InvocationStatus
from scheduler.domain.errors import ErrorKind
from scheduler.domain.invocation import FREQUENCY_CODES
from scheduler.schedule import ErrorCode

CONCEPTS = Path(__file__).resolve().parents[2] / "docs" / "concepts.md"
_ROW = re.compile(r"^\| `([^`]+)` \| `([^`]+)` \|", re.MULTILINE)


def section(heading: str) -> str:
    """The text of docs/concepts.md under ``heading`` up to the next heading."""
    text = CONCEPTS.read_text(encoding="utf-8")
    _, found, rest = text.partition(f"\n{heading}\n")
    assert found, f"no {heading!r} in {CONCEPTS}"
    return rest.split("\n#", 1)[0]


def table(heading: str) -> list[tuple[str, str]]:
    """The (code, status) rows of the table under ``heading``."""
    return _ROW.findall(section(heading))


def test_the_docs_list_every_refusal_code_with_its_grpc_status() -> None:
    rows = table("### Refusal codes")
    codes = [code for code, _ in rows]
    assert sorted(codes) == sorted(RefusalCode)
    assert {status for _, status in rows} <= {kind.name for kind in ErrorKind}


def test_the_docs_list_every_execution_error_code_with_its_status() -> None:
    rows = table("### Execution error codes")
    codes = [code for code, _ in rows]
    assert sorted(codes) == sorted(ExecutionErrorCode)
    assert {status for _, status in rows} <= set(InvocationStatus)


def test_the_docs_name_every_quota() -> None:
    errors = section("## Errors")
    for quota in QuotaName:
        assert f"`{quota}`" in errors


def test_every_schedule_engine_code_reaches_the_api_under_invalid_param_frequency() -> None:
    assert set(FREQUENCY_CODES) == set(ErrorCode)
    for engine_code, refusal in FREQUENCY_CODES.items():
        assert refusal == f"InvalidParam.Frequency.{engine_code.value}"


def test_no_string_is_defined_twice() -> None:
    values = [*RefusalCode, *ExecutionErrorCode, *QuotaName]
    assert len(values) == len(set(values))


@pytest.mark.parametrize("catalogue", [RefusalCode, ExecutionErrorCode, QuotaName])
def test_member_names_follow_their_values(catalogue: type[StrEnum]) -> None:
    # InvalidParam.MaxResults is INVALID_PARAM_MAX_RESULTS: a code's name is never a guess.
    for member in catalogue:
        words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", member.value.replace(".", "_"))
        assert member.name == words.upper(), member
