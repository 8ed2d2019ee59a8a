"""Proto <-> domain translation: enum bijections and the idempotency fingerprint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import cast

import pytest
from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from kairos.v1 import command_pb2, common_pb2, file_pb2, invocation_pb2
from scheduler.domain.enums import (
    CommandType,
    ContentEncoding,
    InvocationStatus,
    OsType,
    RepeatMode,
    ResourceType,
)
from scheduler.rpc.convert import from_proto, request_hash, timestamp, to_proto

ENUMS: list[tuple[type[StrEnum], EnumDescriptor]] = [
    (InvocationStatus, common_pb2.DESCRIPTOR.enum_types_by_name["InvocationStatus"]),
    (RepeatMode, common_pb2.DESCRIPTOR.enum_types_by_name["RepeatMode"]),
    (CommandType, common_pb2.DESCRIPTOR.enum_types_by_name["CommandType"]),
    (ContentEncoding, common_pb2.DESCRIPTOR.enum_types_by_name["ContentEncoding"]),
    (OsType, common_pb2.DESCRIPTOR.enum_types_by_name["OsType"]),
    (ResourceType, common_pb2.DESCRIPTOR.enum_types_by_name["ResourceType"]),
]
ENUM_IDS = [enum.__name__ for enum, _ in ENUMS]

# Every creating request carries a client_token (SPEC §2).
CREATING_REQUESTS: list[type[Message]] = [
    command_pb2.CreateCommandRequest,
    invocation_pb2.InvokeCommandRequest,
    invocation_pb2.RunCommandRequest,
    file_pb2.SendFileRequest,
]


@pytest.mark.parametrize(("enum", "proto"), ENUMS, ids=ENUM_IDS)
def test_enum_mapping_is_a_bijection(enum: type[StrEnum], proto: EnumDescriptor) -> None:
    specified = {v.number for v in proto.values if v.number != 0}
    images = [to_proto(member) for member in enum]
    assert len(set(images)) == len(images), "two members map to one proto value"
    assert set(images) == specified, "proto values and domain members differ"
    for member in enum:
        assert from_proto(enum, to_proto(member)) is member
    for number in specified:
        found = from_proto(enum, number)
        assert found is not None
        assert to_proto(found) == number


@pytest.mark.parametrize(("enum", "proto"), ENUMS, ids=ENUM_IDS)
def test_names_follow_the_prefix_rule(enum: type[StrEnum], proto: EnumDescriptor) -> None:
    [unspecified] = [v.name for v in proto.values if v.number == 0]
    prefix = unspecified.removesuffix("UNSPECIFIED")
    for member in enum:
        assert proto.values_by_number[to_proto(member)].name == prefix + member.name


@pytest.mark.parametrize(("enum", "proto"), ENUMS, ids=ENUM_IDS)
def test_unspecified_and_unknown_values_are_none(
    enum: type[StrEnum], proto: EnumDescriptor
) -> None:
    assert from_proto(enum, 0) is None
    assert from_proto(enum, max(v.number for v in proto.values) + 1) is None
    assert from_proto(enum, -1) is None
    assert from_proto(enum, 2**31 - 1) is None


def test_a_mapping_for_each_enum_of_common_proto() -> None:
    assert {p.name for _, p in ENUMS} == set(common_pb2.DESCRIPTOR.enum_types_by_name)


def test_repeat_mode_unspecified_stays_none_for_the_domain_to_resolve() -> None:
    assert from_proto(RepeatMode, common_pb2.REPEAT_MODE_UNSPECIFIED) is None
    assert from_proto(RepeatMode, common_pb2.REPEAT_MODE_DRY_RUN) is RepeatMode.DRY_RUN
    assert to_proto(InvocationStatus.PARTIAL_FAILED) == common_pb2.INVOCATION_STATUS_PARTIAL_FAILED


# --- timestamps ----------------------------------------------------------------------------


def test_timestamp() -> None:
    assert timestamp(None) is None
    moment = datetime(2026, 3, 1, 12, 0, 1, 500000, tzinfo=UTC)
    stamp = timestamp(moment)
    assert stamp is not None
    assert (stamp.seconds, stamp.nanos) == (int(moment.timestamp()), 500_000_000)
    shanghai = moment.astimezone(timezone(timedelta(hours=8)))
    assert timestamp(shanghai) == stamp


# --- request_hash --------------------------------------------------------------------------


def _different(field: FieldDescriptor, message: Message) -> None:
    """Give ``field`` of ``message`` a non-default value."""
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        getattr(message, field.name)["k"] = _scalar(field.message_type.fields_by_name["value"])
    elif field.is_repeated and field.message_type is not None:
        getattr(message, field.name).add()
    elif field.is_repeated:
        getattr(message, field.name).append(_scalar(field))
    elif field.message_type is not None:
        getattr(message, field.name).SetInParent()
    else:
        setattr(message, field.name, _scalar(field))


def _scalar(field: FieldDescriptor) -> object:
    if field.type == FieldDescriptor.TYPE_STRING:
        return "x"
    if field.type == FieldDescriptor.TYPE_BYTES:
        return b"x"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return True
    if field.type == FieldDescriptor.TYPE_ENUM:
        return 1
    if field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return 1.5
    return 7


@pytest.mark.parametrize("request_type", CREATING_REQUESTS, ids=lambda t: t.__name__)
def test_hash_ignores_client_token_only(request_type: type[Message]) -> None:
    fields = request_type.DESCRIPTOR.fields
    assert "client_token" in {f.name for f in fields}
    base = request_type()
    with_token = request_type()
    with_token.client_token = "token-1"  # type: ignore[attr-defined]
    other_token = request_type()
    other_token.client_token = "token-2"  # type: ignore[attr-defined]
    assert request_hash(base) == request_hash(with_token) == request_hash(other_token)
    for field in fields:
        if field.name == "client_token":
            continue
        changed = request_type()
        _different(cast(FieldDescriptor, field), changed)
        assert request_hash(changed) != request_hash(base), field.name
        changed.client_token = "token-1"  # type: ignore[attr-defined]
        assert request_hash(changed) != request_hash(with_token), field.name


def test_hash_does_not_change_the_request() -> None:
    request = invocation_pb2.InvokeCommandRequest(command_id="c-1", client_token="tok")
    request_hash(request)
    assert request.client_token == "tok"


def test_hash_is_stable_across_map_order() -> None:
    first = invocation_pb2.InvokeCommandRequest(command_id="c-1")
    first.parameters["a"] = "1"
    first.parameters["b"] = "2"
    second = invocation_pb2.InvokeCommandRequest(command_id="c-1")
    second.parameters["b"] = "2"
    second.parameters["a"] = "1"
    assert request_hash(first) == request_hash(second)


def test_hash_distinguishes_values_and_order_of_lists() -> None:
    def invoke(*ids: str) -> str:
        return request_hash(invocation_pb2.InvokeCommandRequest(command_id="c", instance_ids=ids))

    assert invoke("i-a", "i-b") != invoke("i-b", "i-a")
    assert invoke("i-a") != invoke("i-b")
    a = invocation_pb2.InvokeCommandRequest(parameters={"k": "1"})
    b = invocation_pb2.InvokeCommandRequest(parameters={"k": "2"})
    assert request_hash(a) != request_hash(b)


def test_hash_fits_the_idempotency_column() -> None:
    digest = request_hash(command_pb2.CreateCommandRequest(name="n"))
    assert len(digest) == 64
    assert set(digest) <= set("0123456789abcdef")
