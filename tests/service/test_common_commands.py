"""The common commands over gRPC (issue 13, item 4): listed for every account, outside the
quota, not theirs to change, invoked by name with typed values and defaults."""

from __future__ import annotations

import base64
from pathlib import Path

import grpc
import pytest

from kairos.v1 import command_pb2, common_pb2, invocation_pb2, tag_pb2
from scheduler.domain.codes import RefusalCode
from scheduler.domain.limits import Limits
from scheduler.local import Kairos, connect
from tests.service.conftest import ServerFactory
from tests.service.harness import TWO_ACCOUNTS_AUTH, Peer
from tests.service.plays import invocation, receive_task
from tests.service.refusals import refused, violations
from tests.service.test_quotas import attributes

COMMON = [
    "Kairos-CheckDiskSpace",
    "Kairos-CleanupLogs",
    "Kairos-CollectDiagnostics",
    "Kairos-RestartService",
    "Kairos-UpdatePackages",
]


async def common(kairos: Kairos, **fields: object) -> command_pb2.DescribeCommandsResponse:
    request = command_pb2.DescribeCommandsRequest(provider="kairos", **fields)  # type: ignore[arg-type]
    response: command_pb2.DescribeCommandsResponse = await kairos.commands.DescribeCommands(
        request, metadata=kairos.metadata
    )
    return response


async def invoke(kairos: Kairos, command_id: str, **fields: object) -> str:
    request = invocation_pb2.InvokeCommandRequest(
        command_id=command_id,
        instance_ids=["i-1"],
        **fields,  # type: ignore[arg-type]
    )
    response = await kairos.invocations.InvokeCommand(request, metadata=kairos.metadata)
    return str(response.invoke_id)


async def test_every_account_sees_the_common_commands_with_their_parameters(
    servers: ServerFactory, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.toml"
    auth.write_text(TWO_ACCOUNTS_AUTH)
    address = await servers.start(auth_file=auth)
    for token in ("client-a", "client-b"):
        client = connect(address, token)
        listed = await common(client, max_results=50)
        assert [c.command_id for c in listed.commands] == COMMON
        assert listed.total_count == len(COMMON)
        assert all(c.provider == "kairos" and c.name == c.command_id for c in listed.commands)
        # Without a provider an account sees only its own commands, as in Cloud Assistant.
        own = await client.commands.DescribeCommands(
            command_pb2.DescribeCommandsRequest(), metadata=client.metadata
        )
        assert own.total_count == 0
    disk = (await common(client, command_id="Kairos-CheckDiskSpace")).commands[0]
    assert base64.b64decode(disk.command_content).startswith(b"# Kairos-CheckDiskSpace")
    assert list(disk.parameter_names) == ["path", "threshold", "dryRun"]
    path, threshold, dry_run = disk.parameter_definitions
    assert (path.type, path.default_value, path.required) == (
        command_pb2.PARAMETER_TYPE_STRING,
        "/",
        False,
    )
    assert (threshold.type, threshold.default_value, threshold.min_value, threshold.max_value) == (
        command_pb2.PARAMETER_TYPE_INTEGER,
        "90",
        1,
        100,
    )
    assert (dry_run.type, dry_run.default_value) == (command_pb2.PARAMETER_TYPE_BOOLEAN, "false")
    assert all(d.description for d in disk.parameter_definitions)
    service = (await common(client, name="Kairos-RestartService")).commands[0]
    assert service.parameter_definitions[0].required
    assert not service.parameter_definitions[0].HasField("default_value")


async def test_the_common_commands_page_like_any_listing(kairos: Kairos) -> None:
    seen: list[str] = []
    token = ""
    while True:
        page = await common(kairos, max_results=2, next_token=token)
        assert page.total_count == len(COMMON)
        seen += [c.command_id for c in page.commands]
        token = page.next_token
        if not token:
            break
    assert seen == COMMON
    tagged = await common(kairos, tags=[common_pb2.Tag(key="env")])
    assert (tagged.total_count, list(tagged.commands)) == (0, [])


async def test_an_unknown_provider_is_refused(kairos: Kairos) -> None:
    refusal = await refused(
        kairos.commands.DescribeCommands(command_pb2.DescribeCommandsRequest(provider="aliyun"))
    )
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert refusal.info.reason == RefusalCode.INVALID_PARAM_PROVIDER
    assert [field for field, _ in violations(refusal)] == ["provider"]


async def test_common_commands_are_outside_the_command_quota(servers: ServerFactory) -> None:
    address = await servers.start(limits=Limits(max_commands=1))
    kairos = connect(address)
    peer = Peer(address, "i-1")
    await peer.hello()
    await kairos.commands.CreateCommand(
        command_pb2.CreateCommandRequest(
            name="mine", type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT, command_content="true"
        )
    )
    assert (await attributes(address))["MaxCommandCount"] == (1, 1)
    # The account's one slot is taken; the common commands are still listed and invoked.
    assert (await common(kairos)).total_count == len(COMMON)
    await invoke(kairos, "Kairos-CollectDiagnostics")
    assert (await attributes(address))["MaxCommandCount"] == (1, 1)
    await peer.close()


@pytest.mark.parametrize("done", ["modified", "deleted"])
async def test_a_common_command_cannot_be_modified_or_deleted(kairos: Kairos, done: str) -> None:
    call = (
        kairos.commands.ModifyCommand(
            command_pb2.ModifyCommandRequest(command_id="Kairos-CheckDiskSpace", name="mine")
        )
        if done == "modified"
        else kairos.commands.DeleteCommand(
            command_pb2.DeleteCommandRequest(command_id="Kairos-CheckDiskSpace")
        )
    )
    refusal = await refused(call)
    refusal.assert_code(
        grpc.StatusCode.FAILED_PRECONDITION,
        RefusalCode.INVALID_COMMAND_ID_COMMON_COMMAND,
        "command_id: Kairos-CheckDiskSpace is a common command, shipped with Kairos and shared "
        f"by every account; it cannot be {done}",
    )
    still = (await common(kairos, command_id="Kairos-CheckDiskSpace")).commands[0]
    assert still.name == "Kairos-CheckDiskSpace"


async def test_invoked_by_name_with_defaults_and_values_quoted(
    kairos: Kairos, peers: list[Peer]
) -> None:
    invoke_id = await invoke(
        kairos, "Kairos-CheckDiskSpace", parameters={"threshold": "095", "path": "/it's"}
    )
    task = await receive_task(peers[0])
    assert task.command_id == "Kairos-CheckDiskSpace"
    assert b"path='/it'\\''s'\nthreshold='95'\ndry_run='false'\n" in task.script
    made = await invocation(kairos, invoke_id)
    assert made.command_id == "Kairos-CheckDiskSpace"
    assert dict(made.parameters) == {"path": "/it's", "threshold": "95", "dryRun": "false"}
    # Invocations of a common command count no invocation of any account's command.
    listed = await common(kairos, command_id="Kairos-CheckDiskSpace")
    assert listed.commands[0].invoke_times == 0


@pytest.mark.parametrize(
    ("command_id", "parameters", "field"),
    [
        ("Kairos-CheckDiskSpace", {"threshold": "0"}, "parameters.threshold"),
        ("Kairos-CheckDiskSpace", {"threshold": "101"}, "parameters.threshold"),
        ("Kairos-CheckDiskSpace", {"threshold": "ninety"}, "parameters.threshold"),
        ("Kairos-CheckDiskSpace", {"path": "relative"}, "parameters.path"),
        ("Kairos-CheckDiskSpace", {"dryRun": "yes"}, "parameters.dryRun"),
        ("Kairos-RestartService", {}, "parameters.serviceName"),
        ("Kairos-RestartService", {"serviceName": "x; reboot"}, "parameters.serviceName"),
        ("Kairos-CleanupLogs", {"age": "0"}, "parameters.age"),
        ("Kairos-CleanupLogs", {"path": "/"}, "parameters.path"),
        ("Kairos-CleanupLogs", {"pattern": "../*"}, "parameters.pattern"),
        ("Kairos-UpdatePackages", {"reboot": "true"}, "parameters"),
    ],
)
async def test_bad_values_are_refused_before_anything_is_stored(
    kairos: Kairos,
    peers: list[Peer],
    command_id: str,
    parameters: dict[str, str],
    field: str,
) -> None:
    refusal = await refused(invoke(kairos, command_id, parameters=parameters))
    assert refusal.status == grpc.StatusCode.INVALID_ARGUMENT
    assert [name for name, _ in violations(refusal)] == [field]
    assert refusal.info.reason in (
        RefusalCode.INVALID_PARAM_PARAMETER_VALUE,
        RefusalCode.INVALID_PARAM_PARAMETERS,
    )
    listed = await kairos.invocations.DescribeInvocations(
        invocation_pb2.DescribeInvocationsRequest()
    )
    assert listed.total_count == 0


async def test_an_unknown_common_command_is_not_found(kairos: Kairos, peers: list[Peer]) -> None:
    refusal = await refused(invoke(kairos, "Kairos-Nope"))
    assert refusal.status == grpc.StatusCode.NOT_FOUND
    assert refusal.info.reason == RefusalCode.INVALID_COMMAND_ID_NOT_FOUND


async def test_a_periodic_invocation_keeps_the_rules_when_modified(
    kairos: Kairos, peers: list[Peer]
) -> None:
    invoke_id = await invoke(
        kairos,
        "Kairos-RestartService",
        frequency="rate(1h)",
        parameters={"serviceName": "cron", "dryRun": "true"},
    )

    async def modify(**fields: object) -> None:
        await kairos.invocations.ModifyInvocation(
            invocation_pb2.ModifyInvocationRequest(invoke_id=invoke_id, **fields)  # type: ignore[arg-type]
        )

    await modify(parameters=invocation_pb2.ParameterValues(values={"serviceName": "nginx"}))
    assert dict((await invocation(kairos, invoke_id)).parameters) == {
        "serviceName": "nginx",
        "dryRun": "false",
    }
    bad = await refused(
        modify(parameters=invocation_pb2.ParameterValues(values={"serviceName": "$(reboot)"}))
    )
    assert [name for name, _ in violations(bad)] == ["parameters.serviceName"]
    mine = await refused(modify(command_content="echo mine"))
    assert mine.status == grpc.StatusCode.FAILED_PRECONDITION
    assert mine.info.reason == RefusalCode.INVALID_COMMAND_ID_COMMON_COMMAND
    assert dict((await invocation(kairos, invoke_id)).parameters)["serviceName"] == "nginx"


async def test_a_common_command_takes_no_tags(kairos: Kairos) -> None:
    # Tags are an account's own, on its own resources: a common command is none of them.
    refusal = await refused(
        kairos.tags.TagResources(
            tag_pb2.TagResourcesRequest(
                resource_type=common_pb2.RESOURCE_TYPE_COMMAND,
                resource_ids=["Kairos-CheckDiskSpace"],
                tags=[common_pb2.Tag(key="env", value="prod")],
            )
        )
    )
    assert refusal.status == grpc.StatusCode.NOT_FOUND
    assert refusal.info.reason == RefusalCode.INVALID_RESOURCE_ID_NOT_FOUND
