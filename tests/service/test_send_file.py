"""SendFile and DescribeSendFileResults over real gRPC, against real agent streams: a file
task is an invocation (refusals store nothing, client_token, quota, tenancy), delivered as a
Task with its file, shown with the seven statuses."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from grpc import StatusCode as Code
from sqlalchemy import text

from kairos.v1 import agent_pb2, common_pb2, file_pb2, fleet_pb2, invocation_pb2, tag_pb2
from scheduler.domain.codes import ExecutionErrorCode, QuotaName, RefusalCode
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from scheduler.store.database import create_engine
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer
from tests.service.plays import receive_task, report
from tests.service.refusals import refused, violations

Status = common_pb2.InvocationStatus


def send_request(**fields: Any) -> file_pb2.SendFileRequest:
    values: dict[str, Any] = {
        "instance_ids": ["i-1"],
        "name": "app.conf",
        "target_dir": "/etc/app",
        "content": "key=value\n",
    }
    values.update(fields)
    return file_pb2.SendFileRequest(**values)


async def stored_counts(url: str) -> tuple[int, int, int, int]:
    """Rows of invocations, send_files, executions and daily usage: what a refusal must
    leave as it was."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM invocations), "
                        "(SELECT count(*) FROM send_files), (SELECT count(*) FROM executions), "
                        "(SELECT coalesce(sum(executions), 0) FROM daily_usage)"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    return (row[0], row[1], row[2], row[3])


async def describe(kairos: Kairos, **fields: Any) -> file_pb2.DescribeSendFileResultsResponse:
    response: file_pb2.DescribeSendFileResultsResponse = await kairos.files.DescribeSendFileResults(
        file_pb2.DescribeSendFileResultsRequest(**fields), metadata=kairos.metadata
    )
    return response


async def test_a_file_task_is_delivered_with_its_file_and_reported_like_a_script(
    kairos: Kairos, peers: list[Peer]
) -> None:
    content = bytes(range(256))
    sent = await kairos.files.SendFile(
        send_request(
            instance_ids=["i-1", "i-2"],
            content=base64.b64encode(content).decode(),
            content_type=common_pb2.CONTENT_ENCODING_BASE64,
            file_mode="0640",
            file_owner="nobody",
            file_group="nogroup",
            overwrite=True,
            timeout=3,
            description="the app's settings",
        )
    )
    assert sent.invoke_id.startswith("f-") and len(sent.invoke_id) == 26
    first, second = await receive_task(peers[0]), await receive_task(peers[1])
    assert first.invoke_id == sent.invoke_id
    assert first.HasField("file")
    assert first.file == agent_pb2.FileTask(
        name="app.conf",
        target_dir="/etc/app",
        content=content,
        mode=0o640,
        owner="nobody",
        group="nogroup",
        overwrite=True,
    )
    assert first.timeout == 10  # raised to 10
    assert b"upgrade" in first.script  # an agent without SendFile fails, never runs content
    pending = await describe(kairos, invoke_id=sent.invoke_id)
    [task] = pending.invocations
    assert task.invocation_status == Status.INVOCATION_STATUS_PENDING
    await report(peers[0], first, Status.INVOCATION_STATUS_SUCCESS)
    await peers[1].send(
        agent_pb2.AgentMessage(
            result=agent_pb2.ExecutionResult(
                execution_id=second.execution_id,
                status=Status.INVOCATION_STATUS_FAILED,
                error_code=ExecutionErrorCode.FILE_EXIST,
                error_info="/etc/app/app.conf exists and overwrite is false",
            )
        )
    )
    assert (await peers[1].receive()).WhichOneof("kind") == "result_ack"
    described = await describe(kairos, invoke_id=sent.invoke_id)
    [task] = described.invocations
    assert (task.name, task.description, task.target_dir, task.file_mode) == (
        "app.conf",
        "the app's settings",
        "/etc/app",
        "0640",
    )
    assert (task.file_owner, task.file_group, task.overwrite) == ("nobody", "nogroup", True)
    assert task.HasField("creation_time")
    # Some got it, some did not: PartialFailed reads Failed for a file task.
    assert task.invocation_status == Status.INVOCATION_STATUS_FAILED
    assert [(i.instance_id, i.invocation_status, i.error_code) for i in task.instances] == [
        ("i-1", Status.INVOCATION_STATUS_SUCCESS, ""),
        ("i-2", Status.INVOCATION_STATUS_FAILED, "FileExist"),
    ]
    assert task.instances[1].error_info == "/etc/app/app.conf exists and overwrite is false"
    assert task.instances[0].HasField("start_time") and task.instances[0].HasField("finish_time")
    # Still an invocation: its results and the invocation by id are there.
    results = await kairos.invocations.DescribeInvocationResults(
        invocation_pb2.DescribeInvocationResultsRequest(invoke_id=sent.invoke_id)
    )
    assert results.total_count == 2


async def test_defaults_are_cloud_assistants(kairos: Kairos, peers: list[Peer]) -> None:
    sent = await kairos.files.SendFile(send_request())
    task = await receive_task(peers[0])
    assert (task.file.mode, task.file.owner, task.file.group, task.file.overwrite) == (
        0o644,
        "root",
        "root",
        False,
    )
    assert task.timeout == 60
    [described] = (await describe(kairos, invoke_id=sent.invoke_id)).invocations
    assert (described.file_mode, described.file_owner, described.file_group) == (
        "0644",
        "root",
        "root",
    )


@pytest.mark.parametrize(
    ("fields", "code", "field", "message"),
    [
        ({"name": "../passwd"}, RefusalCode.INVALID_PARAM_FILE_NAME, "name", "plain file name"),
        ({"name": ""}, RefusalCode.INVALID_PARAM_FILE_NAME, "name", "name is required"),
        ({"target_dir": "etc/app"}, RefusalCode.INVALID_PARAM_TARGET_DIR, "target_dir", "absolute"),
        (
            {"target_dir": "/etc/../root"},
            RefusalCode.INVALID_PARAM_TARGET_DIR,
            "target_dir",
            "normalised",
        ),
        (
            {"content": "x" * 24_577},
            RefusalCode.INVALID_PARAM_CONTENT,
            "content",
            "32772 bytes once Base64-encoded; the limit is 32768 bytes",
        ),
        (
            {"content": "%%%", "content_type": common_pb2.CONTENT_ENCODING_BASE64},
            RefusalCode.INVALID_PARAM_CONTENT,
            "content",
            "not valid Base64",
        ),
        ({"file_mode": "999"}, RefusalCode.INVALID_PARAM_FILE_MODE, "file_mode", "octal"),
        ({"file_owner": "bad user"}, RefusalCode.INVALID_PARAM_FILE_OWNER, "file_owner", "POSIX"),
        ({"file_group": "-g"}, RefusalCode.INVALID_PARAM_FILE_GROUP, "file_group", "POSIX"),
        ({"timeout": 100_000}, RefusalCode.INVALID_PARAM_TIMEOUT, "timeout", "86400"),
        ({"client_token": "x" * 65}, RefusalCode.INVALID_PARAM_CLIENT_TOKEN, "client_token", "64"),
        (
            {"resource_tags": [common_pb2.Tag(key="role", value="web")]},
            RefusalCode.INVALID_RESOURCE_TAG_CONFLICT_WITH_INSTANCE_IDS,
            "resource_tags",
            "not both",
        ),
        (
            {"instance_ids": []},
            RefusalCode.INVALID_PARAM_INSTANCE_ID,
            "instance_ids",
            "instance_ids",
        ),
    ],
)
async def test_a_bad_request_is_refused_by_field_and_stores_nothing(
    servers: ServerFactory,
    fields: dict[str, Any],
    code: RefusalCode,
    field: str,
    message: str,
) -> None:
    address = await servers.start()
    kairos = connect(address)
    peer = Peer(address, "i-1")
    await peer.hello()
    before = await stored_counts(servers.url)
    refusal = await refused(kairos.files.SendFile(send_request(**fields)))
    assert (refusal.status, refusal.info.reason) == (Code.INVALID_ARGUMENT, code.value)
    [(named, description)] = violations(refusal)
    assert named == field
    assert message in description
    assert await stored_counts(servers.url) == before
    await peer.close()
    await kairos.channel.close()


async def test_an_unknown_or_offline_instance_is_refused_and_stores_nothing(
    servers: ServerFactory,
) -> None:
    address = await servers.start()
    kairos = connect(address)
    refusal = await refused(kairos.files.SendFile(send_request(instance_ids=["i-none"])))
    assert (refusal.status, refusal.info.reason) == (
        Code.NOT_FOUND,
        RefusalCode.INVALID_INSTANCE_NOT_FOUND.value,
    )
    assert await stored_counts(servers.url) == (0, 0, 0, 0)
    await kairos.channel.close()


async def test_the_same_client_token_returns_the_first_task(
    kairos: Kairos, peers: list[Peer]
) -> None:
    first = await kairos.files.SendFile(send_request(client_token="push-1"))
    again = await kairos.files.SendFile(send_request(client_token="push-1"))
    assert again.invoke_id == first.invoke_id
    assert (await describe(kairos)).total_count == 1
    refusal = await refused(
        kairos.files.SendFile(send_request(client_token="push-1", content="other\n"))
    )
    assert (refusal.status, refusal.info.reason) == (
        Code.ALREADY_EXISTS,
        RefusalCode.IDEMPOTENT_PARAMETER_MISMATCH.value,
    )


async def test_file_tasks_count_towards_the_daily_execution_quota(
    servers: ServerFactory,
) -> None:
    address = await servers.start(limits=Limits(max_daily_executions=3))
    kairos = connect(address)
    peers = [Peer(address, f"i-{n}") for n in (1, 2, 3)]
    for peer in peers:
        await peer.hello()
    await kairos.files.SendFile(send_request(instance_ids=["i-1", "i-2"]))
    attributes = await kairos.fleet.DescribeAccountAttributes(
        fleet_pb2.DescribeAccountAttributesRequest()
    )
    used = {a.name: a.used for a in attributes.attributes}
    assert used[QuotaName.MAX_DAILY_EXECUTION_COUNT.value] == 2
    refusal = await refused(kairos.files.SendFile(send_request(instance_ids=["i-2", "i-3"])))
    assert (refusal.status, refusal.info.reason) == (
        Code.RESOURCE_EXHAUSTED,
        RefusalCode.INVOCATION_EXCEED_QUOTA.value,
    )
    assert (await describe(kairos)).total_count == 1
    for peer in peers:
        await peer.close()
    await kairos.channel.close()


async def test_file_tasks_are_their_accounts_own(servers: ServerFactory, tmp_path: Path) -> None:
    auth_file = tmp_path / "auth.toml"
    auth_file.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(auth_file=auth_file)
    a, b = connect(address, "client-a"), connect(address, "client-b")
    agent = Peer(address, "i-a", token="agent-a")
    await agent.hello()
    sent = await a.files.SendFile(send_request(instance_ids=["i-a"]), metadata=a.metadata)
    assert (await describe(a)).total_count == 1
    assert (await describe(b)).total_count == 0
    assert (await describe(b, invoke_id=sent.invoke_id)).total_count == 0
    refusal = await refused(
        b.files.SendFile(send_request(instance_ids=["i-a"]), metadata=b.metadata)
    )
    assert (refusal.status, refusal.info.reason) == (
        Code.NOT_FOUND,
        RefusalCode.INVALID_INSTANCE_NOT_FOUND.value,
    )
    await agent.close()


async def test_describe_filters_and_pages(kairos: Kairos, peers: list[Peer]) -> None:
    sent = [
        (
            await kairos.files.SendFile(send_request(name=f"f{n}", instance_ids=[f"i-{n % 2 + 1}"]))
        ).invoke_id
        for n in range(5)
    ]
    newest_first = sent[::-1]
    first = await describe(kairos, max_results=2)
    assert first.total_count == 5
    assert [t.invoke_id for t in first.invocations] == newest_first[:2]
    second = await describe(kairos, max_results=2, next_token=first.next_token)
    third = await describe(kairos, max_results=2, next_token=second.next_token)
    assert [t.invoke_id for t in [*second.invocations, *third.invocations]] == newest_first[2:]
    assert third.next_token == ""
    by_name = await describe(kairos, name="f3")
    assert [t.invoke_id for t in by_name.invocations] == [sent[3]]
    on_two = await describe(kairos, instance_id="i-2")
    assert [t.invoke_id for t in on_two.invocations] == [sent[3], sent[1]]
    assert all([i.instance_id for i in t.instances] == ["i-2"] for t in on_two.invocations)
    pending = await describe(kairos, invocation_status=Status.INVOCATION_STATUS_PENDING)
    assert pending.total_count == 5
    done = await describe(kairos, invocation_status=Status.INVOCATION_STATUS_SUCCESS)
    assert done.total_count == 0
    refusal = await refused(
        kairos.files.DescribeSendFileResults(
            file_pb2.DescribeSendFileResultsRequest(
                invocation_status=Status.INVOCATION_STATUS_PARTIAL_FAILED
            )
        )
    )
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_INVOCATION_STATUS.value
    assert violations(refusal)[0][0] == "invocation_status"


async def test_describe_invocations_lists_file_tasks_only_by_id(
    kairos: Kairos, peers: list[Peer]
) -> None:
    sent = await kairos.files.SendFile(send_request())
    run = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content="true",
            instance_ids=["i-1"],
        )
    )
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert [i.invoke_id for i in listed.invocations] == [run.invoke_id]
    named = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest(invoke_id=sent.invoke_id)
    )
    assert [i.invoke_id for i in named.invocations] == [sent.invoke_id]
    assert (await describe(kairos)).total_count == 1  # the script is no file task


async def test_a_file_task_by_tags_reaches_the_tagged_instances(
    kairos: Kairos, peers: list[Peer]
) -> None:
    await kairos.tags.TagResources(
        tag_pb2.TagResourcesRequest(
            resource_type=common_pb2.RESOURCE_TYPE_INSTANCE,
            resource_ids=["i-2", "i-3"],
            tags=[common_pb2.Tag(key="role", value="web")],
        )
    )
    sent = await kairos.files.SendFile(
        send_request(instance_ids=[], resource_tags=[common_pb2.Tag(key="role", value="web")])
    )
    [task] = (await describe(kairos, invoke_id=sent.invoke_id)).invocations
    assert [i.instance_id for i in task.instances] == ["i-2", "i-3"]
    assert (await receive_task(peers[1])).file.name == "app.conf"
