"""`kairos send-file` and `kairos file-results`: against a scripted API (what is sent and
printed) and against a real server and agent stream (what the server makes of it)."""

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import common_pb2, file_pb2
from scheduler.rpc.auth import open_access
from scheduler.server.app import running_server
from scheduler.server.config import ServerConfig
from scheduler.store.database import database_url as sqlalchemy_url
from tests.service.harness import Peer

from .cli_harness import ScriptedServer, kairos

CREATED = Timestamp(seconds=1795325400)  # 2026-11-22T05:30:00Z
FINISHED = Timestamp(seconds=1795325403)
S = common_pb2


async def test_send_file_sends_every_field(api: ScriptedServer, tmp_path: Path) -> None:
    local = tmp_path / "app.conf"
    local.write_text("port=8080\n")
    api.reply("FileService/SendFile", file_pb2.SendFileResponse(invoke_id="f-1"))
    outcome = await kairos(
        "send-file", "--server", api.address, "-i", "i-1,i-2", "--target-dir", "/etc/app",
        "--mode", "0640", "--owner", "nobody", "--group", "nogroup", "--overwrite",
        "--timeout", "30", "--description", "settings", "--client-token", "tok-1", str(local),
    )  # fmt: skip
    assert (outcome.code, outcome.out) == (0, "invoke_id  f-1\n")
    assert "kairos file-results f-1" in outcome.err
    [request] = api.requests("FileService/SendFile")
    assert request == file_pb2.SendFileRequest(
        instance_ids=["i-1", "i-2"],
        name="app.conf",
        description="settings",
        target_dir="/etc/app",
        content="port=8080\n",
        content_type=S.CONTENT_ENCODING_PLAIN_TEXT,
        file_mode="0640",
        file_owner="nobody",
        file_group="nogroup",
        overwrite=True,
        timeout=30,
        client_token="tok-1",
    )


async def test_a_binary_file_goes_base64_under_its_given_name_by_tags(
    api: ScriptedServer, tmp_path: Path
) -> None:
    local = tmp_path / "blob.bin"
    local.write_bytes(bytes(range(256)))
    api.reply("FileService/SendFile", file_pb2.SendFileResponse(invoke_id="f-2"))
    outcome = await kairos(
        "send-file", "--server", api.address, "-l", "role=web", "--target-dir", "/opt",
        "--name", "tool", str(local),
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    [request] = api.requests("FileService/SendFile")
    assert request.resource_tags == [common_pb2.Tag(key="role", value="web")]
    assert (request.name, request.content_type) == ("tool", S.CONTENT_ENCODING_BASE64)
    assert base64.b64decode(request.content) == bytes(range(256))
    assert (request.file_mode, request.file_owner, request.overwrite) == ("", "", False)


async def test_send_file_needs_targets_and_a_name_from_stdin(api: ScriptedServer) -> None:
    without_targets = await kairos(
        "send-file", "--server", api.address, "--target-dir", "/etc", "x"
    )
    assert without_targets.code == 2
    assert "-i/--instance-ids -l/--selector" in without_targets.err
    from_stdin = await kairos(
        "send-file", "--server", api.address, "-i", "i-1", "--target-dir", "/etc", "-"
    )
    assert (from_stdin.code, from_stdin.err) == (
        2,
        "error: --name is required when the file is read from stdin\n",
    )
    assert api.requests("FileService/SendFile") == []


async def test_file_results_shows_the_file_and_each_instance(api: ScriptedServer) -> None:
    api.reply(
        "FileService/DescribeSendFileResults",
        file_pb2.DescribeSendFileResultsResponse(
            invocations=[
                file_pb2.SendFileInvocation(
                    invoke_id="f-1",
                    name="app.conf",
                    target_dir="/etc/app",
                    file_mode="0640",
                    file_owner="root",
                    file_group="adm",
                    overwrite=False,
                    creation_time=CREATED,
                    invocation_status=S.INVOCATION_STATUS_FAILED,
                    instances=[
                        file_pb2.SendFileInstance(
                            instance_id="i-1",
                            invocation_status=S.INVOCATION_STATUS_SUCCESS,
                            start_time=CREATED,
                            finish_time=FINISHED,
                        ),
                        file_pb2.SendFileInstance(
                            instance_id="i-2",
                            invocation_status=S.INVOCATION_STATUS_FAILED,
                            error_code="FileExist",
                            error_info="/etc/app/app.conf exists and overwrite is false",
                            start_time=CREATED,
                            finish_time=FINISHED,
                        ),
                    ],
                )
            ],
            total_count=1,
        ),
    )
    outcome = await kairos("file-results", "f-1", "--server", api.address)
    assert outcome.code == 0, outcome.err
    [request] = api.requests("FileService/DescribeSendFileResults")
    assert request == file_pb2.DescribeSendFileResultsRequest(invoke_id="f-1")
    lines = outcome.out.splitlines()
    assert lines[:7] == [
        "invoke_id  f-1",
        "file       /etc/app/app.conf",
        "mode       0640",
        "owner      root:adm",
        "overwrite  no",
        "status     Failed",
        "created    2026-11-22T05:30:00Z",
    ]
    assert lines[8].split() == ["INSTANCE", "STATUS", "ERROR", "START", "FINISH", "INFO"]
    assert lines[9].split()[:3] == ["i-1", "Success", "-"]
    assert lines[10].split()[:3] == ["i-2", "Failed", "FileExist"]
    assert lines[10].endswith("/etc/app/app.conf exists and overwrite is false")


async def test_file_results_without_an_id_lists_with_filters(api: ScriptedServer) -> None:
    api.reply(
        "FileService/DescribeSendFileResults",
        file_pb2.DescribeSendFileResultsResponse(
            invocations=[
                file_pb2.SendFileInvocation(
                    invoke_id="f-9",
                    name="a.conf",
                    target_dir="/etc",
                    creation_time=CREATED,
                    invocation_status=S.INVOCATION_STATUS_RUNNING,
                    instances=[
                        file_pb2.SendFileInstance(
                            instance_id="i-1", invocation_status=S.INVOCATION_STATUS_SUCCESS
                        ),
                        file_pb2.SendFileInstance(
                            instance_id="i-2", invocation_status=S.INVOCATION_STATUS_RUNNING
                        ),
                    ],
                )
            ],
            total_count=3,
            next_token="tok",
        ),
    )
    outcome = await kairos(
        "file-results", "--server", api.address, "--status", "running", "--name", "a.conf",
        "--instance-id", "i-1", "--max-results", "1",
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    [request] = api.requests("FileService/DescribeSendFileResults")
    assert request == file_pb2.DescribeSendFileResultsRequest(
        instance_id="i-1",
        name="a.conf",
        invocation_status=S.INVOCATION_STATUS_RUNNING,
        max_results=1,
    )
    header, row = outcome.out.splitlines()
    assert header.split() == ["INVOKE_ID", "NAME", "TARGET", "DIR", "STATUS", "DONE", "CREATED"]
    assert row.split() == ["f-9", "a.conf", "/etc", "Running", "1/2", "2026-11-22T05:30:00Z"]
    assert "1 of 3 shown" in outcome.err


@pytest_asyncio.fixture
async def server(database_url: str) -> AsyncIterator[str]:
    """A real server on port 0 with one connected instance, i-1; yields its address."""
    url = sqlalchemy_url(database_url)
    config = ServerConfig(listen="127.0.0.1:0", database_url=url, grace=1.0)
    async with running_server(config, url, open_access()) as (port, _):
        address = f"127.0.0.1:{port}"
        peer = Peer(address, "i-1")
        await peer.hello()
        yield address
        await peer.close()


async def test_against_a_real_server_a_refusal_names_the_field(server: str, tmp_path: Path) -> None:
    local = tmp_path / "app.conf"
    local.write_text("x\n")
    refused = await kairos(
        "send-file", "--server", server, "-i", "i-1", "--target-dir", "etc/app", str(local)
    )
    assert refused.code == 1
    assert refused.err.startswith("error: INVALID_ARGUMENT: InvalidParam.TargetDir: target_dir")
    sent = await kairos(
        "send-file", "--server", server, "-i", "i-1", "--target-dir", "/etc/app", str(local)
    )
    assert sent.code == 0, sent.err
    invoke_id = sent.out.split()[1]
    assert invoke_id.startswith("f-")
    shown = await kairos("file-results", invoke_id, "--server", server)
    assert shown.code == 0, shown.err
    assert "file       /etc/app/app.conf" in shown.out
    assert shown.out.splitlines()[-1].split()[:2] == ["i-1", "Pending"]
