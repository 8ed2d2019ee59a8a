"""Quotas hold under concurrency: the check and the write are one statement."""

from __future__ import annotations

import asyncio

import grpc

from kairos.v1 import command_pb2, common_pb2, fleet_pb2, invocation_pb2
from scheduler.domain.limits import Limits
from scheduler.local import connect
from tests.service.conftest import ServerFactory
from tests.service.harness import Peer

CALLERS = 20


async def attributes(address: str) -> dict[str, tuple[int, int]]:
    kairos = connect(address)
    response = await kairos.fleet.DescribeAccountAttributes(
        fleet_pb2.DescribeAccountAttributesRequest()
    )
    return {a.name: (a.used, a.limit) for a in response.attributes}


async def test_command_quota_is_never_exceeded_by_concurrent_callers(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(max_commands=5))
    clients = [connect(address) for _ in range(CALLERS)]

    async def create(n: int) -> grpc.StatusCode:
        try:
            await clients[n].commands.CreateCommand(
                command_pb2.CreateCommandRequest(
                    name=f"c{n}",
                    type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                    command_content="true",
                )
            )
        except grpc.aio.AioRpcError as error:
            assert "limit" in (error.details() or "")
            return error.code()
        return grpc.StatusCode.OK

    codes = await asyncio.gather(*(create(n) for n in range(CALLERS)))
    assert codes.count(grpc.StatusCode.OK) == 5
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == CALLERS - 5
    listed = await clients[0].commands.DescribeCommands(command_pb2.DescribeCommandsRequest())
    assert listed.total_count == 5
    assert (await attributes(address))["MaxCommandCount"] == (5, 5)


async def test_daily_execution_quota_is_never_exceeded_by_concurrent_callers(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(max_daily_executions=7))
    peers = [Peer(address, f"i-{n}") for n in (1, 2)]
    for peer in peers:
        await peer.hello()
    clients = [connect(address) for _ in range(CALLERS)]

    async def run(n: int) -> grpc.StatusCode:
        try:
            await clients[n].invocations.RunCommand(
                invocation_pb2.RunCommandRequest(
                    type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                    command_content="true",
                    instance_ids=["i-1", "i-2"],
                )
            )
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    codes = await asyncio.gather(*(run(n) for n in range(CALLERS)))
    # Two executions a call: three calls fit in seven, the fourth would need eight.
    assert codes.count(grpc.StatusCode.OK) == 3
    assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == CALLERS - 3
    assert (await attributes(address))["MaxDailyExecutionCount"] == (6, 7)
    listed = await clients[0].invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 3
    for peer in peers:
        await peer.close()


async def test_run_command_without_keep_does_not_count_against_the_command_quota(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(max_commands=1))
    peer = Peer(address, "i-1")
    await peer.hello()
    kairos = connect(address)
    for keep in (False, False, True):
        await kairos.invocations.RunCommand(
            invocation_pb2.RunCommandRequest(
                name="kept" if keep else "",
                type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                command_content="true",
                instance_ids=["i-1"],
                keep_command=keep,
            )
        )
    listed = await kairos.commands.DescribeCommands(command_pb2.DescribeCommandsRequest())
    assert [c.name for c in listed.commands] == ["kept"]
    assert (await attributes(address))["MaxCommandCount"] == (1, 1)
    await peer.close()
