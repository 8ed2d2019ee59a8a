"""Translation between protobuf messages and the domain, in one place."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import command_pb2, common_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.enums import (
    CommandType,
    ContentEncoding,
    InvocationStatus,
    OsType,
    ParameterType,
    RepeatMode,
    ResourceType,
)
from scheduler.domain.errors import invalid
from scheduler.domain.parameter_types import ParameterDefinition
from scheduler.domain.tags import Tag

E = TypeVar("E", bound=StrEnum)

# Proto enum values are the domain member names behind a prefix:
# REPEAT_MODE_DRY_RUN <-> RepeatMode.DRY_RUN, value 0 is "unspecified".
_PREFIXES: dict[type[StrEnum], tuple[str, object]] = {
    InvocationStatus: ("INVOCATION_STATUS_", common_pb2.InvocationStatus),
    RepeatMode: ("REPEAT_MODE_", common_pb2.RepeatMode),
    CommandType: ("COMMAND_TYPE_", common_pb2.CommandType),
    ContentEncoding: ("CONTENT_ENCODING_", common_pb2.ContentEncoding),
    OsType: ("OS_TYPE_", common_pb2.OsType),
    ResourceType: ("RESOURCE_TYPE_", common_pb2.ResourceType),
    ParameterType: ("PARAMETER_TYPE_", command_pb2.ParameterType),
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


def parameter_definition_to_proto(
    definition: ParameterDefinition,
) -> command_pb2.ParameterDefinition:
    """A common command's typed parameter as DescribeCommands shows it (issue 13, item 4)."""
    return command_pb2.ParameterDefinition(
        name=definition.name,
        description=definition.description,
        type=to_proto(definition.type),  # type: ignore[arg-type]
        default_value=definition.default,
        required=definition.default is None,
        possible_values=definition.allowed_values,
        pattern_allowed=definition.pattern,
        min_value=definition.minimum,
        max_value=definition.maximum,
    )


def tags_from_proto(tags: Iterable[common_pb2.Tag]) -> list[Tag]:
    """The domain tags of repeated ``Tag`` fields, in request order."""
    return [Tag(t.key, t.value) for t in tags]


def tags_to_proto(tags: Mapping[str, str]) -> list[common_pb2.Tag]:
    """Repeated ``Tag`` fields of a resource's tags, by key."""
    return [common_pb2.Tag(key=k, value=v) for k, v in sorted(tags.items())]


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
