"""An agent's Hello is checked at the edge: a bad one ends the stream and stores nothing."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from kairos.v1 import agent_pb2, common_pb2, fleet_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.local import Kairos
from tests.service.harness import Peer
from tests.service.refusals import decode, violations

GOOD: dict[str, Any] = {
    "instance_id": "i-new",
    "instance_name": "web-1",
    "os_type": common_pb2.OS_TYPE_LINUX,
    "agent_version": "1.0.0",
    "time_zone": "Europe/Paris",
    "boot_id": "boot-1",
}
TOO_LONG = {
    "instance_id": 65,
    "instance_name": 129,
    "agent_version": 65,
    "time_zone": 65,
    "boot_id": 65,
}


async def refused_hello(kairos: Kairos, **fields: Any) -> tuple[RefusalCode, list[str]]:
    """Say a Hello with ``fields`` changed; the refusal's code and the fields it names."""
    values = {**GOOD, **fields}
    peer = Peer(kairos.address, values["instance_id"])
    await peer.send(agent_pb2.AgentMessage(hello=agent_pb2.Hello(**values)))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await peer.receive()
    await peer.close()
    refusal = decode(raised.value)
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    return RefusalCode(refusal.info.reason), [field for field, _ in violations(refusal)]


async def stored(kairos: Kairos) -> list[str]:
    response = await kairos.fleet.DescribeInstances(fleet_pb2.DescribeInstancesRequest())
    return [instance.instance_id for instance in response.instances]


@pytest.mark.parametrize("field", sorted(TOO_LONG))
async def test_an_over_long_field_is_refused_and_named(kairos: Kairos, field: str) -> None:
    code, fields = await refused_hello(kairos, **{field: "x" * TOO_LONG[field]})
    assert fields == [f"hello.{field}"]
    assert code is (
        RefusalCode.INVALID_PARAM_INSTANCE_ID
        if field == "instance_id"
        else RefusalCode.INVALID_PARAM_HELLO
    )
    assert await stored(kairos) == []


@pytest.mark.parametrize("field", sorted(TOO_LONG))
async def test_a_nul_character_is_refused_and_named(kairos: Kairos, field: str) -> None:
    _, fields = await refused_hello(kairos, **{field: "a\x00b"})
    assert fields == [f"hello.{field}"]
    assert await stored(kairos) == []


async def test_a_blank_instance_id_is_refused(kairos: Kairos) -> None:
    code, fields = await refused_hello(kairos, instance_id="   ")
    assert (code, fields) == (RefusalCode.INVALID_PARAM_INSTANCE_ID, ["hello.instance_id"])
    assert await stored(kairos) == []


async def test_an_unknown_os_type_is_refused(kairos: Kairos) -> None:
    code, fields = await refused_hello(kairos, os_type=42)
    assert (code, fields) == (RefusalCode.INVALID_PARAM_HELLO, ["hello.os_type"])
    assert await stored(kairos) == []


async def test_fields_at_their_limits_and_an_unspecified_os_are_accepted(kairos: Kairos) -> None:
    peer = Peer(kairos.address, "i" * 64)
    await peer.send(
        agent_pb2.AgentMessage(
            hello=agent_pb2.Hello(
                instance_id="i" * 64,
                instance_name="n" * 128,
                os_type=common_pb2.OS_TYPE_UNSPECIFIED,
                agent_version="v" * 64,
                time_zone="America/Argentina/ComodRivadavia",
                boot_id="b" * 64,
            )
        )
    )
    assert (await peer.receive()).WhichOneof("kind") == "welcome"
    response = await kairos.fleet.DescribeInstances(fleet_pb2.DescribeInstancesRequest())
    [instance] = response.instances
    assert (instance.instance_name, instance.os_type, instance.time_zone) == (
        "n" * 128,
        common_pb2.OS_TYPE_LINUX,
        "America/Argentina/ComodRivadavia",
    )
    await peer.close()
