"""Every client RPC of a real server process under generated field values.

Strings (NUL, very long, any Unicode), enum numbers the API does not define,
out-of-range integers: each call is served or refused with a clear status,
never ``UNKNOWN``, ``INTERNAL`` or ``UNAVAILABLE``; a refused creating call
stores nothing; the server is still ``SERVING`` at the end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.descriptor import FieldDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kairos.v1 import (
    command_pb2,
    command_pb2_grpc,
    fleet_pb2,
    fleet_pb2_grpc,
    invocation_pb2,
    invocation_pb2_grpc,
)
from scheduler.local import Supervisor, free_port, until_serving

pytestmark = pytest.mark.e2e

BAD_CODES = {grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE}
CALL_TIMEOUT = 10.0

TEXT = st.one_of(
    st.sampled_from(["", "\x00", "i-1", "c-1", "t-1", "rate(10s)", "0 0 12 * * ?", "a\x00b"]),
    st.text(max_size=40),
    st.text(min_size=200, max_size=3000),
)
_INT_RANGES = {
    FieldDescriptor.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.CPPTYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.CPPTYPE_UINT64: (0, 2**64 - 1),
}


def _field_values(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return st.dictionaries(TEXT, TEXT, max_size=3)
    if field.type == FieldDescriptor.TYPE_STRING:
        single: st.SearchStrategy[Any] = TEXT
    elif field.type == FieldDescriptor.TYPE_ENUM:
        single = st.integers(min_value=-3, max_value=40)
    elif field.type == FieldDescriptor.TYPE_BOOL:
        single = st.booleans()
    elif field.cpp_type in _INT_RANGES:
        low, high = _INT_RANGES[field.cpp_type]
        single = st.one_of(st.integers(-5, 100_000), st.integers(low, high))
    else:
        raise AssertionError(f"no values for {field.full_name}: extend the fuzz test")
    return st.lists(single, max_size=3) if field.is_repeated else single


def requests_of(descriptor: Any) -> st.SearchStrategy[dict[str, Any]]:
    """Field values for a request message: any subset of its fields, each with any value."""
    return st.fixed_dictionaries(
        {}, optional={field.name: _field_values(field) for field in descriptor.fields}
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


Call = Callable[..., Any]


def _rpcs(channel: grpc.Channel) -> dict[str, tuple[Call, type[Any], bool]]:
    """Each unary client RPC: its stub method, request type and whether it creates."""
    commands = command_pb2_grpc.CommandServiceStub(channel)
    invocations = invocation_pb2_grpc.InvocationServiceStub(channel)
    fleet = fleet_pb2_grpc.FleetServiceStub(channel)
    return {
        "CreateCommand": (commands.CreateCommand, command_pb2.CreateCommandRequest, True),
        "ModifyCommand": (commands.ModifyCommand, command_pb2.ModifyCommandRequest, False),
        "DeleteCommand": (commands.DeleteCommand, command_pb2.DeleteCommandRequest, False),
        "DescribeCommands": (
            commands.DescribeCommands,
            command_pb2.DescribeCommandsRequest,
            False,
        ),
        "RunCommand": (invocations.RunCommand, invocation_pb2.RunCommandRequest, True),
        "InvokeCommand": (invocations.InvokeCommand, invocation_pb2.InvokeCommandRequest, True),
        "StopInvocation": (
            invocations.StopInvocation,
            invocation_pb2.StopInvocationRequest,
            False,
        ),
        "DescribeInvocations": (
            invocations.DescribeInvocations,
            invocation_pb2.DescribeInvocationsRequest,
            False,
        ),
        "DescribeInvocationResults": (
            invocations.DescribeInvocationResults,
            invocation_pb2.DescribeInvocationResultsRequest,
            False,
        ),
        "DescribeInstances": (
            fleet.DescribeInstances,
            fleet_pb2.DescribeInstancesRequest,
            False,
        ),
        "DescribeAgentStatus": (
            fleet.DescribeAgentStatus,
            fleet_pb2.DescribeAgentStatusRequest,
            False,
        ),
    }


def _stored(rpcs: dict[str, tuple[Call, type[Any], bool]]) -> tuple[int, int]:
    commands = rpcs["DescribeCommands"][0](
        command_pb2.DescribeCommandsRequest(), timeout=CALL_TIMEOUT
    )
    invocations = rpcs["DescribeInvocations"][0](
        invocation_pb2.DescribeInvocationsRequest(), timeout=CALL_TIMEOUT
    )
    return commands.total_count, invocations.total_count


NAMES = sorted(_rpcs(grpc.insecure_channel("localhost:1")))


def test_every_client_rpc_refuses_bad_values_cleanly(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        rpcs = _rpcs(channel)

        @settings(
            max_examples=400,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(data=st.data(), name=st.sampled_from(NAMES))
        def call_once(data: st.DataObject, name: str) -> None:
            method, request_type, creates = rpcs[name]
            fields = data.draw(requests_of(request_type.DESCRIPTOR), label=name)
            request = request_type(**fields)
            before = _stored(rpcs) if creates else None
            try:
                method(request, timeout=CALL_TIMEOUT)
            except grpc.RpcError as error:
                code = error.code()
                assert code not in BAD_CODES, f"{name}: {code} {error.details()}"
                if before is not None:
                    assert _stored(rpcs) == before, f"a refused {name} stored something"

        call_once()
        # WatchInvocation on whatever id: a clean refusal (or a watch), never a crash.
        watch = invocation_pb2_grpc.InvocationServiceStub(channel).WatchInvocation

        @settings(max_examples=60, deadline=None)
        @given(fields=requests_of(invocation_pb2.WatchInvocationRequest.DESCRIPTOR))
        def watch_once(fields: dict[str, Any]) -> None:
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
