"""The rules of an agent's Hello: what the dispatcher accepts before it stores anything. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import invalid
from scheduler.domain.protocol import MAX_EXECUTION_ID, is_execution_id

HELLO_LIMITS: Mapping[str, int] = {
    "instance_id": 64,
    "instance_name": 128,
    "agent_version": 64,
    "time_zone": 64,
    "boot_id": 64,
}
"""The longest value of each text field of Hello, in characters: its ``instances`` column's."""

MAX_HELD = 1000
"""Execution ids a Hello may list as held; an agent holding more lists none (no reconciling)."""


def check_hello(fields: Mapping[str, str]) -> None:
    """Refuse a Hello whose text ``fields`` (named as in the proto) break a rule.

    Each field fits its column and holds no NUL byte (PostgreSQL text cannot);
    the instance id is not blank. The error names the field as ``hello.<name>``.
    """
    for name, limit in HELLO_LIMITS.items():
        value = fields.get(name, "")
        code = (
            RefusalCode.INVALID_PARAM_INSTANCE_ID
            if name == "instance_id"
            else RefusalCode.INVALID_PARAM_HELLO
        )
        field_name = f"hello.{name}"
        if name == "instance_id" and not value.strip():
            raise invalid(code, field_name, "instance_id must be 1-64 characters, not blank")
        if len(value) > limit:
            raise invalid(
                code, field_name, f"{name} is {len(value)} characters; the limit is {limit}"
            )
        if "\x00" in value:
            raise invalid(code, field_name, f"{name} must not contain a NUL character")


def check_held(execution_ids: Sequence[str]) -> None:
    """Refuse a Hello whose list of held executions (``hello.held``) breaks a rule.

    At most ``MAX_HELD`` ids, each one that can be an execution id (``domain.protocol``).
    """
    field_name = "hello.held.execution_ids"
    if len(execution_ids) > MAX_HELD:
        raise invalid(
            RefusalCode.INVALID_PARAM_HELLO,
            field_name,
            f"held lists {len(execution_ids)} execution ids; the limit is {MAX_HELD} "
            "(list none instead)",
        )
    for execution_id in execution_ids:
        if not is_execution_id(execution_id):
            raise invalid(
                RefusalCode.INVALID_PARAM_HELLO,
                field_name,
                f"each execution id in held must be 1-{MAX_EXECUTION_ID} printable ASCII "
                "characters",
            )
