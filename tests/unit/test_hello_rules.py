"""The rules of an agent's Hello: lengths of the instances table, no NUL, an instance id."""

from __future__ import annotations

import pytest
from sqlalchemy import String

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import ErrorKind, KairosError
from scheduler.domain.hello import HELLO_LIMITS, check_hello
from scheduler.store.tables import instances
from tests.unit.expect import assert_refusal

COLUMNS = {
    "instance_id": "id",
    "instance_name": "name",
    "agent_version": "agent_version",
    "time_zone": "time_zone",
    "boot_id": "boot_id",
}
GOOD = {
    "instance_id": "i-1",
    "instance_name": "web",
    "agent_version": "1.0",
    "time_zone": "UTC",
    "boot_id": "b",
}


def code_of(field: str) -> RefusalCode:
    if field == "instance_id":
        return RefusalCode.INVALID_PARAM_INSTANCE_ID
    return RefusalCode.INVALID_PARAM_HELLO


def test_the_limits_are_the_columns_lengths() -> None:
    assert set(HELLO_LIMITS) == set(COLUMNS)
    for field, column in COLUMNS.items():
        kind = instances.c[column].type
        assert isinstance(kind, String)
        assert HELLO_LIMITS[field] == kind.length, field


def test_a_good_hello_passes() -> None:
    check_hello(GOOD)
    check_hello({name: "x" * limit for name, limit in HELLO_LIMITS.items()})


@pytest.mark.parametrize("field", sorted(HELLO_LIMITS))
def test_a_field_over_its_limit_is_refused(field: str) -> None:
    with pytest.raises(KairosError) as raised:
        check_hello({**GOOD, field: "x" * (HELLO_LIMITS[field] + 1)})
    assert_refusal(
        raised.value, ErrorKind.INVALID_ARGUMENT, code_of(field), f"hello.{field}", "limit"
    )


@pytest.mark.parametrize("field", sorted(HELLO_LIMITS))
def test_a_nul_character_is_refused(field: str) -> None:
    with pytest.raises(KairosError) as raised:
        check_hello({**GOOD, field: "a\x00"})
    assert_refusal(
        raised.value, ErrorKind.INVALID_ARGUMENT, code_of(field), f"hello.{field}", "NUL"
    )


@pytest.mark.parametrize("instance_id", ["", "  ", "\t"])
def test_a_blank_instance_id_is_refused(instance_id: str) -> None:
    with pytest.raises(KairosError) as raised:
        check_hello({**GOOD, "instance_id": instance_id})
    assert_refusal(
        raised.value,
        ErrorKind.INVALID_ARGUMENT,
        RefusalCode.INVALID_PARAM_INSTANCE_ID,
        "hello.instance_id",
    )
