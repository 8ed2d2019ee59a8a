"""CommandService over gRPC against PostgreSQL: create, modify, delete, describe, limits."""

from __future__ import annotations

import base64

import grpc
import pytest

from kairos.v1 import command_pb2, common_pb2
from scheduler.local import Kairos
from scheduler.store.paging import encode_token

SHELL = common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT


def create_request(**fields: object) -> command_pb2.CreateCommandRequest:
    values: dict[str, object] = {"name": "hello", "type": SHELL, "command_content": "echo hi"}
    values.update(fields)
    return command_pb2.CreateCommandRequest(**values)  # type: ignore[arg-type]


async def describe(kairos: Kairos, **fields: object) -> command_pb2.DescribeCommandsResponse:
    request = command_pb2.DescribeCommandsRequest(**fields)  # type: ignore[arg-type]
    response: command_pb2.DescribeCommandsResponse = await kairos.commands.DescribeCommands(request)
    return response


async def test_create_and_describe_round_trip(kairos: Kairos) -> None:
    created = await kairos.commands.CreateCommand(
        create_request(
            description="says hello",
            command_content=base64.b64encode(b"echo {{ who }} from {{ACS::InstanceId}}").decode(),
            content_encoding=common_pb2.CONTENT_ENCODING_BASE64,
            working_dir="/tmp",
            timeout=60,
            enable_parameter=True,
        )
    )
    assert created.command_id.startswith("c-")
    found = await describe(kairos, command_id=created.command_id)
    assert found.total_count == 1
    command = found.commands[0]
    assert command.name == "hello"
    assert command.description == "says hello"
    assert base64.b64decode(command.command_content) == b"echo {{ who }} from {{ACS::InstanceId}}"
    assert list(command.parameter_names) == ["who"]
    assert (command.working_dir, command.timeout, command.enable_parameter) == ("/tmp", 60, True)
    assert command.HasField("creation_time")


async def test_default_timeout_is_an_hour(kairos: Kairos) -> None:
    created = await kairos.commands.CreateCommand(create_request())
    assert (await describe(kairos, command_id=created.command_id)).commands[0].timeout == 3600


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"name": "n" * 129}, "name is 129 characters long; the limit is 128"),
        ({"name": ""}, "name is required"),
        ({"description": "d" * 513}, "the limit is 512"),
        ({"working_dir": "/" * 201}, "the limit is 200"),
        ({"timeout": 9}, "timeout must be between 10 and 86400"),
        ({"timeout": 86_401}, "timeout must be between 10 and 86400"),
        ({"type": common_pb2.COMMAND_TYPE_UNSPECIFIED}, "type is required"),
        ({"command_content": ""}, "command_content is required"),
        ({"command_content": "x" * 13_825}, "the limit is 18432 bytes"),
        (
            {"command_content": "%%%", "content_encoding": common_pb2.CONTENT_ENCODING_BASE64},
            "not valid Base64",
        ),
        (
            {"command_content": "echo {{bad name}}", "enable_parameter": True},
            "parameter name 'bad name' is invalid",
        ),
        (
            {"command_content": "echo {{ACS::Nope}}", "enable_parameter": True},
            "unknown built-in parameter",
        ),
        (
            {
                "command_content": " ".join(f"{{{{p{n}}}}}" for n in range(21)),
                "enable_parameter": True,
            },
            "defines 21 parameters; the limit is 20",
        ),
        ({"client_token": "t" * 65}, "client_token must be at most 64"),
    ],
)
async def test_bad_input_is_refused_and_nothing_is_stored(
    kairos: Kairos, fields: dict[str, object], needle: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.commands.CreateCommand(create_request(**fields))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in (raised.value.details() or "")
    assert (await describe(kairos)).total_count == 0


async def test_content_at_the_limit_is_accepted(kairos: Kairos) -> None:
    # 13,824 bytes are exactly 18,432 once Base64-encoded.
    await kairos.commands.CreateCommand(create_request(command_content="x" * 13_824))
    assert (await describe(kairos)).total_count == 1


async def test_modify_changes_only_given_fields(kairos: Kairos) -> None:
    created = await kairos.commands.CreateCommand(create_request(description="old", timeout=60))
    await kairos.commands.ModifyCommand(
        command_pb2.ModifyCommandRequest(command_id=created.command_id, name="renamed", timeout=120)
    )
    command = (await describe(kairos, command_id=created.command_id)).commands[0]
    assert (command.name, command.description, command.timeout) == ("renamed", "old", 120)
    assert base64.b64decode(command.command_content) == b"echo hi"


async def test_modify_validates_and_names_unknown_commands(kairos: Kairos) -> None:
    created = await kairos.commands.CreateCommand(create_request())
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.commands.ModifyCommand(
            command_pb2.ModifyCommandRequest(command_id=created.command_id, timeout=5)
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.commands.ModifyCommand(
            command_pb2.ModifyCommandRequest(command_id="c-missing", name="x")
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    assert "c-missing" in (raised.value.details() or "")


async def test_delete_removes_and_frees_the_quota(kairos: Kairos) -> None:
    created = await kairos.commands.CreateCommand(create_request())
    await kairos.commands.DeleteCommand(
        command_pb2.DeleteCommandRequest(command_id=created.command_id)
    )
    assert (await describe(kairos)).total_count == 0
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await kairos.commands.DeleteCommand(
            command_pb2.DeleteCommandRequest(command_id=created.command_id)
        )
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_describe_filters_and_pages_newest_first(kairos: Kairos) -> None:
    ids = []
    for n in range(7):
        created = await kairos.commands.CreateCommand(create_request(name=f"c{n % 2}"))
        ids.append(created.command_id)
    seen: list[str] = []
    token = ""
    while True:
        page = await describe(kairos, max_results=3, next_token=token)
        assert page.total_count == 7
        seen += [c.command_id for c in page.commands]
        token = page.next_token
        if not token:
            break
    assert seen == list(reversed(ids))
    named = await describe(kairos, name="c1")
    assert named.total_count == 3
    assert {c.name for c in named.commands} == {"c1"}


@pytest.mark.parametrize(
    "fields",
    [
        {"max_results": 51},
        {"max_results": -1},
        {"next_token": "not-a-token"},
        # Well-formed, but with text no column holds: it reached the database (INTERNAL).
        {"next_token": encode_token(["2026-01-01T00:00:00+00:00", "c-\x00"])},
        {"next_token": encode_token(["2026-01-01T00:00:00+00:00", "c-\ud800"])},
    ],
)
async def test_describe_rejects_bad_paging(kairos: Kairos, fields: dict[str, object]) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await describe(kairos, **fields)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
