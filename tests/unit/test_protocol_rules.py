"""The rules of an agent's messages after Hello: what breaks the protocol, and what does not."""

from __future__ import annotations

import pytest
from sqlalchemy import String

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.ids import execution_id
from scheduler.domain.protocol import MAX_EXECUTION_ID, MESSAGE_KINDS, check_message
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
