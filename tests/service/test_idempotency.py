"""client_token: the same request returns the first result, a different one is refused."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from sqlalchemy import text

from kairos.v1 import command_pb2, common_pb2, invocation_pb2
from scheduler.local import Kairos
from scheduler.store.database import create_engine
from tests.service.harness import Peer


def create(name: str, token: str) -> command_pb2.CreateCommandRequest:
    return command_pb2.CreateCommandRequest(
        name=name,
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="true",
        client_token=token,
    )


async def test_same_token_same_request_creates_once(kairos: Kairos) -> None:
    responses = await asyncio.gather(
        *(kairos.commands.CreateCommand(create("once", "token-1")) for _ in range(10))
    )
    assert len({r.command_id for r in responses}) == 1
    listed = await kairos.commands.DescribeCommands(command_pb2.DescribeCommandsRequest())
    assert listed.total_count == 1


async def test_same_token_different_request_is_already_exists(kairos: Kairos) -> None:
    await kairos.commands.CreateCommand(create("first", "token-2"))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.commands.CreateCommand(create("second", "token-2"))
    assert raised.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "IdempotentParameterMismatch" in (raised.value.details() or "")
    listed = await kairos.commands.DescribeCommands(command_pb2.DescribeCommandsRequest())
    assert [c.name for c in listed.commands] == ["first"]


async def test_run_command_token_returns_the_same_invocation(
    kairos: Kairos, peers: list[Peer]
) -> None:
    request = invocation_pb2.RunCommandRequest(
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="true",
        instance_ids=["i-1"],
        client_token="run-1",
    )
    first = await kairos.invocations.RunCommand(request)
    again = await kairos.invocations.RunCommand(request)
    assert (again.command_id, again.invoke_id) == (first.command_id, first.invoke_id)
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 1


async def test_a_failed_call_does_not_burn_its_token(kairos: Kairos) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await kairos.invocations.InvokeCommand(
            invocation_pb2.InvokeCommandRequest(
                command_id="c-missing", instance_ids=["i-1"], client_token="retry-me"
            )
        )
    created = await kairos.commands.CreateCommand(create("later", "retry-me"))
    assert created.command_id


async def test_a_token_older_than_a_day_is_forgotten(
    kairos: Kairos, peers: list[Peer], database_url: str
) -> None:
    request = invocation_pb2.RunCommandRequest(
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="true",
        instance_ids=["i-1"],
        client_token="daily-1",
    )
    first = await kairos.invocations.RunCommand(request)
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'")
        )
    await engine.dispose()

    again = await kairos.invocations.RunCommand(request)
    assert again.invoke_id != first.invoke_id
    # Claimed afresh: from now on the token returns the new invocation.
    assert (await kairos.invocations.RunCommand(request)).invoke_id == again.invoke_id
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 2
