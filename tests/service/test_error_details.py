"""Refusals on the wire: the status, its message and the google.rpc details, from real calls.

Each test makes a real gRPC call that the server refuses and decodes the
``grpc-status-details-bin`` trailer the interceptor sends: ``ErrorInfo`` on
every refusal, ``BadRequest`` on an invalid argument, ``QuotaFailure`` on an
exhausted quota, one status class after another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest

from kairos.v1 import agent_pb2, command_pb2, common_pb2, file_pb2, file_pb2_grpc, invocation_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer, make_offline
from tests.service.refusals import decode, refused, violations

SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT
Code = grpc.StatusCode


def run_request(**fields: Any) -> invocation_pb2.RunCommandRequest:
    values: dict[str, Any] = {"type": SHELL, "command_content": "true", "instance_ids": ["i-1"]}
    values.update(fields)
    return invocation_pb2.RunCommandRequest(**values)


def create_request(name: str, **fields: Any) -> command_pb2.CreateCommandRequest:
    return command_pb2.CreateCommandRequest(name=name, type=SHELL, command_content="true", **fields)


async def test_an_empty_instance_list_names_the_field(kairos: Kairos) -> None:
    refusal = await refused(kairos.invocations.RunCommand(run_request(instance_ids=[])))
    refusal.assert_code(
        Code.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_INSTANCE_ID, "instance_ids is required"
    )
    assert violations(refusal) == [("instance_ids", "instance_ids is required")]
    assert refusal.quota_failure is None


async def test_a_frequency_the_schedule_engine_refuses_names_the_field(
    kairos: Kairos, peers: list[Peer]
) -> None:
    refusal = await refused(kairos.invocations.RunCommand(run_request(frequency="rate(5s)")))
    message = "rate: interval 5s is shorter than the minimum of 10s"
    code = RefusalCode.INVALID_PARAM_FREQUENCY_INTERVAL_TOO_SHORT
    refusal.assert_code(Code.INVALID_ARGUMENT, code, message)
    assert refusal.info.reason == "InvalidParam.Frequency.IntervalTooShort"
    assert violations(refusal) == [("frequency", message)]
    assert refusal.quota_failure is None


async def test_the_command_quota_names_max_command_count(servers: ServerFactory) -> None:
    kairos = connect(await servers.start(limits=Limits(max_commands=1)))
    await kairos.commands.CreateCommand(create_request("first"))
    refusal = await refused(kairos.commands.CreateCommand(create_request("second")))
    message = "the account already has 1 saved commands, the limit; delete one first"
    refusal.assert_code(Code.RESOURCE_EXHAUSTED, RefusalCode.QUOTA_EXCEED_COMMAND, message)
    assert refusal.quota_failure is not None
    assert [(v.subject, v.description) for v in refusal.quota_failure.violations] == [
        ("MaxCommandCount", message)
    ]
    assert refusal.info.reason == "Quota.ExceedCommand"
    assert refusal.bad_request is None


async def test_the_daily_quota_names_max_daily_execution_count(servers: ServerFactory) -> None:
    address = await servers.start(limits=Limits(max_daily_executions=1))
    peers = [Peer(address, f"i-{n}") for n in (1, 2)]
    for peer in peers:
        await peer.hello()
    kairos = connect(address)
    refusal = await refused(kairos.invocations.RunCommand(run_request(instance_ids=["i-1", "i-2"])))
    message = "2 executions would exceed today's (UTC) limit of 1 executions"
    refusal.assert_code(Code.RESOURCE_EXHAUSTED, RefusalCode.INVOCATION_EXCEED_QUOTA, message)
    assert refusal.quota_failure is not None
    assert [(v.subject, v.description) for v in refusal.quota_failure.violations] == [
        ("MaxDailyExecutionCount", message)
    ]
    assert refusal.info.reason == "Invocation.ExceedQuota"
    assert refusal.bad_request is None
    for peer in peers:
        await peer.close()


async def test_an_unknown_command_carries_only_error_info(kairos: Kairos) -> None:
    request = invocation_pb2.InvokeCommandRequest(command_id="c-nope", instance_ids=["i-1"])
    refusal = await refused(kairos.invocations.InvokeCommand(request))
    refusal.assert_code(
        Code.NOT_FOUND, RefusalCode.INVALID_COMMAND_ID_NOT_FOUND, "command c-nope not found"
    )
    assert refusal.info.reason == "InvalidCommandId.NotFound"
    assert (refusal.bad_request, refusal.quota_failure) == (None, None)


async def test_an_offline_agent_is_a_failed_precondition(
    kairos: Kairos, peers: list[Peer], servers: ServerFactory
) -> None:
    await make_offline(servers.url, "i-2")
    refusal = await refused(kairos.invocations.RunCommand(run_request(instance_ids=["i-2"])))
    refusal.assert_code(
        Code.FAILED_PRECONDITION,
        RefusalCode.INVALID_INSTANCE_AGENT_OFFLINE,
        "the agents of these instances are offline (no heartbeat for 120 s): i-2",
    )
    assert (refusal.bad_request, refusal.quota_failure) == (None, None)


async def test_a_reused_client_token_is_already_exists(kairos: Kairos) -> None:
    await kairos.commands.CreateCommand(create_request("first", client_token="t-1"))
    refusal = await refused(
        kairos.commands.CreateCommand(create_request("second", client_token="t-1"))
    )
    refusal.assert_code(
        Code.ALREADY_EXISTS,
        RefusalCode.IDEMPOTENT_PARAMETER_MISMATCH,
        "client_token 't-1' was already used for a different CreateCommand request",
    )
    assert (refusal.bad_request, refusal.quota_failure) == (None, None)


async def test_refused_tokens_carry_error_info(servers: ServerFactory, tmp_path: Path) -> None:
    auth_file = tmp_path / "auth.toml"
    auth_file.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(auth_file=auth_file)
    describe = command_pb2.DescribeCommandsRequest()

    anonymous = await refused(connect(address).commands.DescribeCommands(describe))
    anonymous.assert_code(
        Code.UNAUTHENTICATED,
        RefusalCode.UNAUTHENTICATED,
        "missing or unknown token: send metadata 'authorization: Bearer <token>'",
    )
    agent = connect(address, "agent-a")
    wrong_role = await refused(agent.commands.DescribeCommands(describe, metadata=agent.metadata))
    wrong_role.assert_code(
        Code.PERMISSION_DENIED,
        RefusalCode.FORBIDDEN_TOKEN_ROLE,
        "this token's role may not call the client API",
    )
    for refusal in (anonymous, wrong_role):
        assert (refusal.bad_request, refusal.quota_failure) == (None, None)


async def test_a_refused_agent_stream_carries_the_details(kairos: Kairos) -> None:
    peer = Peer(kairos.address, "i-1")
    await peer.send(agent_pb2.AgentMessage(heartbeat=agent_pb2.Heartbeat()))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await peer.receive()
    refusal = decode(raised.value)
    refusal.assert_code(
        Code.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_HELLO, "the first message must be Hello"
    )
    assert violations(refusal) == [("hello", "the first message must be Hello")]
    await peer.close()


async def test_a_refused_send_file_names_its_field(kairos: Kairos) -> None:
    files = file_pb2_grpc.FileServiceStub(kairos.channel)
    refusal = await refused(files.SendFile(file_pb2.SendFileRequest(instance_ids=["i-1"])))
    refusal.assert_code(
        Code.INVALID_ARGUMENT, RefusalCode.INVALID_PARAM_FILE_NAME, "name is required"
    )
    assert violations(refusal) == [("name", "name is required")]
