"""Every client RPC of a real server process under generated field values.

Strings (NUL, very long, any Unicode), enum numbers the API does not define,
out-of-range integers: each call is served or refused with a clear status,
never ``UNKNOWN``, ``INTERNAL`` or ``UNAVAILABLE``; any refused call
stores nothing (every table is as it was); the server is still ``SERVING``
at the end. The RPCs are read from the services' descriptors, so a new one is
fuzzed without a change here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import psycopg
import pytest
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from kairos.v1 import (
    agent_pb2,
    command_pb2,
    common_pb2,
    file_pb2,
    fleet_pb2,
    invocation_pb2,
    invocation_pb2_grpc,
)
from scheduler.local import Supervisor, free_port, until_serving
from scheduler.store.tables import dispatchers, metadata

pytestmark = pytest.mark.e2e

SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT
BAD_CODES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE}
CALL_TIMEOUT = 10.0

TEXT = st.one_of(
    st.sampled_from(["", "\x00", "i-1", "c-1", "t-1", "rate(10s)", "0 0 12 * * ?", "a\x00b"]),
    st.text(max_size=40),
    st.text(min_size=200, max_size=3000),
)
TIMESTAMP = Timestamp.DESCRIPTOR.full_name
_INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}


def _field_values(field: FieldDescriptor, ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    text = st.one_of(ids, TEXT)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return st.dictionaries(text, text, max_size=3)
    if field.type == FieldDescriptor.TYPE_STRING:
        single: st.SearchStrategy[Any] = text
    elif field.type == FieldDescriptor.TYPE_ENUM:
        single = st.integers(min_value=-3, max_value=40)
    elif field.type == FieldDescriptor.TYPE_BYTES:
        single = st.one_of(st.binary(max_size=64), st.binary(min_size=30_000, max_size=40_000))
    elif field.type == FieldDescriptor.TYPE_BOOL:
        single = st.booleans()
    elif field.message_type is not None and field.message_type.full_name == TIMESTAMP:
        # Any seconds and nanos: most are not a valid instant (beyond year 9999, nanos
        # beyond a second), which must be refused as invalid arguments too.
        single = st.builds(
            Timestamp,
            seconds=st.one_of(st.integers(0, 4_102_444_800), st.integers(-(2**63), 2**63 - 1)),
            nanos=st.one_of(st.integers(0, 999_999_999), st.integers(-(2**31), 2**31 - 1)),
        )
    elif field.message_type is not None:
        # Any other message: its own fields, each with any value (as a dict).
        single = requests_of(field.message_type, ids)
    elif field.cpp_type in _INT_RANGES:
        low, high = _INT_RANGES[field.cpp_type]
        single = st.one_of(st.integers(-5, 100_000), st.integers(low, high))
    else:
        raise AssertionError(f"no values for {field.full_name}: extend the fuzz test")
    return st.lists(single, max_size=3) if field.is_repeated else single


def requests_of(descriptor: Any, ids: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Field values for a request message: any subset of its fields, each with any value
    (a text field sometimes one of the real or well-formed ``ids``)."""
    return st.fixed_dictionaries(
        {}, optional={field.name: _field_values(field, ids) for field in descriptor.fields}
    )


@pytest.fixture
def address(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A `kairos server` process on the test's database, without agents."""
    supervisor = Supervisor(tmp_path / "logs")
    server = supervisor.start_server(f"127.0.0.1:{free_port()}", database_url=database_url)
    try:
        asyncio.run(supervisor.supervise(until_serving(server.address, within=60)))
        yield server.address
    finally:
        supervisor.stop_all()


CLIENT_SERVICES = [
    command_pb2.DESCRIPTOR.services_by_name["CommandService"],
    invocation_pb2.DESCRIPTOR.services_by_name["InvocationService"],
    fleet_pb2.DESCRIPTOR.services_by_name["FleetService"],
    file_pb2.DESCRIPTOR.services_by_name["FileService"],
]
"""Every client service; each of their unary RPCs is fuzzed, WatchInvocation on its own."""


class Rpc(NamedTuple):
    path: str
    request_type: type[Message]


def _unary_rpcs() -> dict[str, Rpc]:
    rpcs = {}
    for service in CLIENT_SERVICES:
        for method in service.methods:
            if method.server_streaming:
                continue
            request_type = GetMessageClass(method.input_type)
            rpcs[method.name] = Rpc(f"/{service.full_name}/{method.name}", request_type)
    return rpcs


RPCS = _unary_rpcs()
NAMES = sorted(RPCS)


def _call(channel: grpc.Channel, name: str, request: Message) -> Any:
    rpc = RPCS[name]
    method = channel.unary_unary(
        rpc.path,
        request_serializer=rpc.request_type.SerializeToString,
        response_deserializer=lambda data: data,
    )
    return method(request, timeout=CALL_TIMEOUT)


LIVENESS_TABLES = {dispatchers.name}
"""Rows the server renews by itself while it runs (its dispatcher lease), not by calls."""


def _stored(database_url: str) -> dict[str, frozenset[str]]:
    """Every row of every table (but the server's lease), as text: what a refused call
    must leave as it was."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return {
            table.name: frozenset(
                row[0]
                for row in conn.execute(
                    sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table.name))
                )
            )
            for table in metadata.sorted_tables
            if table.name not in LIVENESS_TABLES
        }


def test_every_client_rpc_is_fuzzed() -> None:
    served = {"CommandService", "InvocationService", "FleetService", "FileService"}
    declared = {
        service.name
        for module in (command_pb2, invocation_pb2, fleet_pb2, file_pb2, agent_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
    }
    # Only the agent's stream is left out (tests/service/test_agent_fuzz.py covers it).
    assert declared - {"AgentService"} == served == {s.name for s in CLIENT_SERVICES}
    assert "DescribeAccountAttributes" in NAMES and "WatchInvocation" not in NAMES


def test_every_client_rpc_refuses_bad_values_cleanly(address: str, database_url: str) -> None:
    with grpc.insecure_channel(address) as channel:
        # A real command, so that calls naming it get past "not found".
        created = command_pb2.CreateCommandResponse.FromString(
            _call(
                channel,
                "CreateCommand",
                command_pb2.CreateCommandRequest(
                    name="seed", type=SHELL, command_content="echo {{who}}", enable_parameter=True
                ),
            )
        )
        ids = st.sampled_from([created.command_id, "c-" + "0" * 24, "t-" + "0" * 24])

        @settings(
            max_examples=400,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(data=st.data(), name=st.sampled_from(NAMES))
        def call_once(data: st.DataObject, name: str) -> None:
            request_type = RPCS[name].request_type
            fields = data.draw(requests_of(request_type.DESCRIPTOR, ids), label=name)
            request = request_type(**fields)
            before = _stored(database_url)
            try:
                _call(channel, name, request)
            except grpc.RpcError as error:
                code = error.code()
                assert code not in BAD_CODES, f"{name}: {code} {error.details()}"
                assert _stored(database_url) == before, f"a refused {name} stored something"

        call_once()
        # WatchInvocation on whatever id: a clean refusal (or a watch), never a crash.
        watch = invocation_pb2_grpc.InvocationServiceStub(channel).WatchInvocation

        @settings(max_examples=60, deadline=None)
        @given(data=st.data())
        def watch_once(data: st.DataObject) -> None:
            descriptor = invocation_pb2.WatchInvocationRequest.DESCRIPTOR
            fields = data.draw(requests_of(descriptor, ids))
            try:
                next(iter(watch(invocation_pb2.WatchInvocationRequest(**fields), timeout=3)))
            except StopIteration:
                pass
            except grpc.RpcError as error:
                code = error.code()
                assert code not in BAD_CODES, f"WatchInvocation: {code} {error.details()}"

        watch_once()
        health: Any = health_pb2_grpc.HealthStub(channel)
        status = health.Check(health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT).status
        assert status == health_pb2.HealthCheckResponse.SERVING
