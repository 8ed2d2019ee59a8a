"""Translation between protobuf messages and the domain, in one place."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import common_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import (
    CommandType,
    ContentEncoding,
    InvocationStatus,
    OsType,
    RepeatMode,
)
from scheduler.domain.errors import invalid

E = TypeVar("E", bound=StrEnum)

# Proto enum values are the domain member names behind a prefix:
# REPEAT_MODE_DRY_RUN <-> RepeatMode.DRY_RUN, value 0 is "unspecified".
_PREFIXES: dict[type[StrEnum], tuple[str, object]] = {
    InvocationStatus: ("INVOCATION_STATUS_", common_pb2.InvocationStatus),
    RepeatMode: ("REPEAT_MODE_", common_pb2.RepeatMode),
    CommandType: ("COMMAND_TYPE_", common_pb2.CommandType),
    ContentEncoding: ("CONTENT_ENCODING_", common_pb2.ContentEncoding),
    OsType: ("OS_TYPE_", common_pb2.OsType),
}


def from_proto(enum: type[E], value: int) -> E | None:
    """The domain member of a proto enum value; None for UNSPECIFIED or unknown values."""
    prefix, wrapper = _PREFIXES[enum]
    try:
        name: str = wrapper.Name(value)  # type: ignore[attr-defined]
    except ValueError:
        return None
    member = name.removeprefix(prefix)
    return enum[member] if member in enum.__members__ else None


def to_proto(member: StrEnum) -> int:
    """The proto enum value of a domain member."""
    prefix, wrapper = _PREFIXES[type(member)]
    value: int = wrapper.Value(prefix + member.name)  # type: ignore[attr-defined]
    return value


def timestamp(moment: datetime | None) -> Timestamp | None:
    """A protobuf Timestamp, or None (field left unset) for no time."""
    if moment is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def instant(request: Message, field_name: str, code: RefusalCode) -> datetime | None:
    """A request's Timestamp field as an aware UTC instant; None when it is not set.

    A Timestamp out of its own range (seconds beyond year 9999, nanos beyond a
    second) is refused as ``code`` naming the field, never a server fault.
    """
    if not request.HasField(field_name):
        return None
    stamp: Timestamp = getattr(request, field_name)
    try:
        return stamp.ToDatetime(tzinfo=UTC)
    except ValueError as error:
        raise invalid(code, field_name, f"{field_name} is not a valid instant: {error}") from None


def request_hash(request: Message) -> str:
    """A fingerprint of a request without its client_token, for idempotency checks."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("client_token")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()
