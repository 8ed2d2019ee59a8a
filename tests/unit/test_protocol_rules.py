"""The agent protocol's versions, and the rules of an agent's messages after Hello: what
breaks the protocol, and what does not."""

from __future__ import annotations

import pytest
from sqlalchemy import String

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.ids import execution_id
from scheduler.domain.protocol import (
    MAX_EXECUTION_ID,
    MAX_REPORTS_PER_MESSAGE,
    MESSAGE_KINDS,
    OLDEST_PROTOCOL,
    REPORT_KINDS,
    SERVER_PROTOCOL,
    check_message,
    check_report,
    check_reports,
    negotiated,
)
from scheduler.store.tables import executions
from tests.unit.expect import assert_refusal


def test_the_id_limit_is_the_columns_length() -> None:
    column = executions.c.id.type
    assert isinstance(column, String)
    assert column.length == MAX_EXECUTION_ID


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_every_kind_with_an_id_the_server_gives_out_is_served(kind: str) -> None:
    assert check_message(kind, execution_id()) == kind


@pytest.mark.parametrize("given", ["e-barrier", "x" * MAX_EXECUTION_ID, "!~"])
def test_an_unknown_but_well_formed_id_is_served(given: str) -> None:
    assert check_message("result", given) == "result"


def test_a_heartbeat_names_no_execution() -> None:
    assert check_message("heartbeat", None) == "heartbeat"


@pytest.mark.parametrize(
    ("kind", "field"), [("hello", "hello"), (None, "kind"), ("shutdown", "kind")]
)
def test_a_second_hello_or_a_message_of_no_known_kind_is_refused(
    kind: str | None, field: str
) -> None:
    with pytest.raises(KairosError) as raised:
        check_message(kind, None)
    assert_refusal(
        raised.value, ErrorKind.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_AGENT_MESSAGE, field
    )


@pytest.mark.parametrize(
    "given", ["", " ", "e-\x00", "x" * (MAX_EXECUTION_ID + 1), "é", "e 1", "e-\n"]
)
def test_an_id_that_cannot_be_one_is_refused_naming_the_field(given: str) -> None:
    with pytest.raises(KairosError) as raised:
        check_message("output", given)
    assert_refusal(
        raised.value,
        ErrorKind.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
        "output.execution_id",
        "1-40 printable ASCII",
    )


def test_the_server_speaks_the_lower_of_the_agents_version_and_its_own() -> None:
    assert (SERVER_PROTOCOL, OLDEST_PROTOCOL) == (2, 1)
    assert negotiated(0) == 1  # an agent from before versions
    assert negotiated(1) == 1
    assert negotiated(2) == 2
    assert negotiated(9) == SERVER_PROTOCOL


def test_an_agent_older_than_the_oldest_version_is_told_to_upgrade() -> None:
    with pytest.raises(KairosError) as raised:
        negotiated(0, oldest=2, newest=3)
    assert_refusal(
        raised.value,
        ErrorKind.FAILED_PRECONDITION,
        RefusalCode.CLIENT_NEED_UPGRADE,
        None,
        "Hello.protocol is 0",
        "protocols 2 to 3",
        "upgrade the agent",
    )
    assert negotiated(2, oldest=2, newest=3) == 2


def test_a_negative_version_is_no_version() -> None:
    with pytest.raises(KairosError) as raised:
        negotiated(-1)
    assert_refusal(
        raised.value,
        ErrorKind.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_HELLO,
        "hello.protocol",
        "protocol is -1",
    )


@pytest.mark.parametrize("count", [1, MAX_REPORTS_PER_MESSAGE])
def test_a_reports_message_of_1_to_256_reports_is_served_on_protocol_2(count: int) -> None:
    check_reports(count, 2)


@pytest.mark.parametrize(
    ("count", "protocol", "field", "rule"),
    [
        (0, 2, "reports.reports", "1-256 reports; this one holds 0"),
        (MAX_REPORTS_PER_MESSAGE + 1, 2, "reports.reports", "this one holds 257"),
        (1, 1, "reports", "Reports needs protocol 2"),
    ],
)
def test_an_empty_or_too_long_reports_message_or_one_on_protocol_1_is_refused(
    count: int, protocol: int, field: str, rule: str
) -> None:
    with pytest.raises(KairosError) as raised:
        check_reports(count, protocol)
    assert_refusal(
        raised.value,
        ErrorKind.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
        field,
        rule,
    )


@pytest.mark.parametrize("kind", REPORT_KINDS)
def test_each_report_is_checked_as_the_same_message_alone(kind: str) -> None:
    assert check_report(3, kind, execution_id()) == kind
    with pytest.raises(KairosError) as raised:
        check_report(3, kind, "e-\x00")
    assert_refusal(
        raised.value,
        ErrorKind.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
        f"reports.reports[3].{kind}.execution_id",
    )


@pytest.mark.parametrize("kind", [None, "heartbeat", "hello", "reports"])
def test_a_report_that_is_unset_or_no_report_is_refused(kind: str | None) -> None:
    with pytest.raises(KairosError) as raised:
        check_report(0, kind, None)
    assert_refusal(
        raised.value,
        ErrorKind.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_AGENT_MESSAGE,
        "reports.reports[0]",
        "each report must be set to one of ack, started, output, result; report 0 is not",
    )
