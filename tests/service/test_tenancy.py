"""Tokens, roles and accounts: nobody sees or touches another account's resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kairos.v1 import command_pb2, common_pb2, fleet_pb2, invocation_pb2
from scheduler.local import connect
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth.toml"
    path.write_text(TWO_ACCOUNTS_AUTH)
    return path


async def test_accounts_are_isolated(servers: ServerFactory, auth_file: Path) -> None:
    address = await servers.start(auth_file=auth_file)
    a, b = connect(address, "client-a"), connect(address, "client-b")
    agent = Peer(address, "i-a", token="agent-a")
    await agent.hello()
    created = await a.commands.CreateCommand(
        command_pb2.CreateCommandRequest(
            name="mine", type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT, command_content="true"
        ),
        metadata=a.metadata,
    )
    listed = await b.commands.DescribeCommands(
        command_pb2.DescribeCommandsRequest(), metadata=b.metadata
    )
    assert listed.total_count == 0
    for call in (
        b.commands.DeleteCommand(
            command_pb2.DeleteCommandRequest(command_id=created.command_id), metadata=b.metadata
        ),
        b.invocations.InvokeCommand(
            invocation_pb2.InvokeCommandRequest(
                command_id=created.command_id, instance_ids=["i-a"]
            ),
            metadata=b.metadata,
        ),
        b.invocations.RunCommand(
            invocation_pb2.RunCommandRequest(
                type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                command_content="true",
                instance_ids=["i-a"],
            ),
            metadata=b.metadata,
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    seen_by_b = await b.fleet.DescribeAgentStatus(
        fleet_pb2.DescribeAgentStatusRequest(), metadata=b.metadata
    )
    assert seen_by_b.total_count == 0
    seen_by_a = await a.fleet.DescribeAgentStatus(
        fleet_pb2.DescribeAgentStatusRequest(), metadata=a.metadata
    )
    assert [i.instance_id for i in seen_by_a.instances] == ["i-a"]
    assert seen_by_a.instances[0].online
    await agent.close()


async def test_tokens_are_checked_when_the_call_opens(
    servers: ServerFactory, auth_file: Path
) -> None:
    address = await servers.start(auth_file=auth_file)
    request = command_pb2.DescribeCommandsRequest()
    anonymous = connect(address)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await anonymous.commands.DescribeCommands(request)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    unknown = connect(address, "nobody")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await unknown.commands.DescribeCommands(request, metadata=unknown.metadata)
    assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    agent_token = connect(address, "agent-a")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await agent_token.commands.DescribeCommands(request, metadata=agent_token.metadata)
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # A client token on the agent API is refused before any message is read.
    client_as_agent = Peer(address, "i-x", token="client-a")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client_as_agent.receive()
    assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await client_as_agent.close()
    # Probes send no token.
    health: Any = health_pb2_grpc.HealthStub(anonymous.channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service=""))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING
