"""Checks every client request gets before any servicer sees it."""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from scheduler.domain.codes import RefusalCode
from scheduler.domain.errors import invalid

_NUL = "\x00"


def check_request(message: Message, prefix: str = "") -> None:
    """Refuse a request with a NUL character in a text field or an unknown enum value.

    PostgreSQL text cannot hold NUL, and no field of the API has a use for it;
    an enum value this server does not know would otherwise read as "unspecified".
    Refused here, neither reaches an operation. Nested messages, repeated fields
    and map keys and values are all checked; the refusal names the field.
    """
    for field, value in message.ListFields():
        name = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            _check_map(name, value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            for index, item in enumerate(_items(field, value)):
                check_request(item, f"{name}[{index}]." if _repeated(field) else f"{name}.")
        elif field.type == FieldDescriptor.TYPE_STRING:
            for item in _items(field, value):
                _check_string(name, item)
        elif field.type == FieldDescriptor.TYPE_ENUM:
            for item in _items(field, value):
                _check_enum(field, name, item)


def _check_map(name: str, entries: Any) -> None:
    for key, value in entries.items():
        _check_string(name, key)
        if isinstance(value, Message):
            check_request(value, f"{name}[{key}].")
        elif isinstance(value, str):
            _check_string(f"{name}[{key}]", value)


def _check_enum(field: FieldDescriptor, name: str, value: int) -> None:
    enum = field.enum_type
    assert enum is not None  # an enum field always has its type
    if value not in enum.values_by_number:
        known = ", ".join(v.name for v in enum.values)
        raise invalid(
            RefusalCode.INVALID_PARAM_ENUM,
            name,
            f"{name} is {value}, not a value of {enum.name} ({known})",
        )


def _check_string(name: str, value: str) -> None:
    if _NUL in value:
        raise invalid(
            RefusalCode.INVALID_PARAM_NUL_CHARACTER,
            name,
            f"{name} contains a NUL character, which no text field may hold",
        )


def _repeated(field: FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def _items(field: FieldDescriptor, value: Any) -> list[Any]:
    return list(value) if _repeated(field) else [value]
