# Over 400 lines on purpose: every command against one scripted API, sharing its fixtures.
"""`kairos` against a scripted API on a real socket: requests sent and what is printed."""

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import command_pb2, common_pb2, fleet_pb2, invocation_pb2
from scheduler.local import free_port

from .cli_harness import ScriptedServer, kairos

CREATED = Timestamp(seconds=1795325400)  # 2026-11-22T05:30:00Z
STARTED = Timestamp(seconds=1795325401)
FINISHED = Timestamp(seconds=1795325403)


def _result(
    instance_id: str, status: int, *, exit_code: int = 0, output: bytes = b"", **more: Any
) -> invocation_pb2.InvocationResult:
    return invocation_pb2.InvocationResult(
        invoke_id="t-1",
        instance_id=instance_id,
        execution_id=f"e-{instance_id}",
        invocation_status=status,  # type: ignore[arg-type]
        exit_code=exit_code,
        output=output,
        start_time=STARTED,
        finish_time=FINISHED,
        **more,
    )


# --- commands ---------------------------------------------------------------------


async def test_command_create_sends_every_field(api: ScriptedServer) -> None:
    api.reply("CommandService/CreateCommand", command_pb2.CreateCommandResponse(command_id="c-1"))
    outcome = await kairos(
        "command", "create", "--server", api.address, "--name", "uptime",
        "--description", "how long", "--content", "uptime {{x}}", "--working-dir", "/tmp",
        "--timeout", "60", "--enable-parameter", "--client-token", "tok-1",
    )  # fmt: skip
    assert (outcome.code, outcome.out, outcome.err) == (0, "command_id  c-1\n", "")
    [request] = api.requests("CommandService/CreateCommand")
    assert request == command_pb2.CreateCommandRequest(
        name="uptime",
        description="how long",
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="uptime {{x}}",
        content_encoding=common_pb2.CONTENT_ENCODING_PLAIN_TEXT,
        working_dir="/tmp",
        timeout=60,
        enable_parameter=True,
        client_token="tok-1",
    )


async def test_command_list_pages_through_everything_with_all(api: ScriptedServer) -> None:
    def command(number: int) -> command_pb2.Command:
        return command_pb2.Command(
            command_id=f"c-{number}",
            name=f"name-{number}",
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            timeout=3600,
            parameter_names=["a", "b"] if number == 1 else [],
            creation_time=CREATED,
            invoke_times=number,
        )

    api.reply(
        "CommandService/DescribeCommands",
        command_pb2.DescribeCommandsResponse(
            commands=[command(1)], total_count=2, next_token="page-2"
        ),
        command_pb2.DescribeCommandsResponse(commands=[command(2)], total_count=2),
    )
    outcome = await kairos(
        "command", "list", "--server", api.address, "--type", "shell", "--max-results", "1", "--all"
    )
    assert outcome.code == 0
    assert outcome.out.splitlines() == [
        "COMMAND ID  NAME    TYPE            TIMEOUT  PARAMETERS  CREATED               INVOKED  TAGS",  # noqa: E501
        "c-1         name-1  RunShellScript  3600     a,b         2026-11-22T05:30:00Z  1        -",
        "c-2         name-2  RunShellScript  3600     -           2026-11-22T05:30:00Z  2        -",
    ]
    first, second = api.requests("CommandService/DescribeCommands")
    assert (first.type, first.max_results, first.next_token) == (1, 1, "")
    assert second.next_token == "page-2"


async def test_command_list_one_page_hints_at_the_next(api: ScriptedServer) -> None:
    api.reply(
        "CommandService/DescribeCommands",
        command_pb2.DescribeCommandsResponse(
            commands=[command_pb2.Command(command_id="c-1")], total_count=7, next_token="p2"
        ),
    )
    outcome = await kairos("command", "list", "--server", api.address, "--json")
    assert json.loads(outcome.out)["next_token"] == "p2"
    assert json.loads(outcome.out)["commands"][0]["command_id"] == "c-1"
    assert outcome.err == ""
    outcome = await kairos("command", "list", "--server", api.address)
    assert outcome.err == "(1 of 7 shown; more with --next-token p2 or --all)\n"


async def test_command_list_by_id_shows_the_script(api: ScriptedServer) -> None:
    content = "IyEvYmluL3NoCmVjaG8gaGkK"  # "#!/bin/sh\necho hi\n"
    api.reply(
        "CommandService/DescribeCommands",
        command_pb2.DescribeCommandsResponse(
            commands=[command_pb2.Command(command_id="c-1", name="hi", command_content=content)],
            total_count=1,
        ),
    )
    outcome = await kairos("command", "list", "--server", api.address, "--id", "c-1")
    assert outcome.out.startswith("command_id        c-1\nname              hi\n")
    assert outcome.out.endswith("\n\n#!/bin/sh\necho hi\n")
    assert api.requests("CommandService/DescribeCommands")[0].command_id == "c-1"


async def test_command_modify_sends_only_the_fields_given(api: ScriptedServer) -> None:
    api.reply("CommandService/ModifyCommand", command_pb2.ModifyCommandResponse())
    outcome = await kairos(
        "command", "modify", "c-1", "--server", api.address, "--description", "", "--timeout", "99"
    )
    assert (outcome.code, outcome.out) == (0, "modified c-1\n")
    [request] = api.requests("CommandService/ModifyCommand")
    assert request.HasField("description") and request.description == ""
    assert request.HasField("timeout") and request.timeout == 99
    assert not request.HasField("name") and not request.HasField("working_dir")


async def test_command_delete(api: ScriptedServer) -> None:
    api.reply("CommandService/DeleteCommand", command_pb2.DeleteCommandResponse())
    outcome = await kairos("command", "delete", "c-9", "--server", api.address)
    assert (outcome.code, outcome.out) == (0, "deleted c-9\n")
    assert api.requests("CommandService/DeleteCommand")[0].command_id == "c-9"


# --- run, invoke, stop ------------------------------------------------------------


async def test_run_sends_script_invocation_fields_and_token(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-7", invoke_id="t-7"),
    )
    outcome = await kairos(
        "run", "--server", api.address, "--token", "secret", "-i", "i-1,i-2", "-i", "i-3",
        "-p", "name=a=b", "--parameter", "empty=", "--enable-parameter",
        "--repeat-mode", "period", "--frequency", "rate(5m)", "--username", "nobody",
        "--working-dir", "/srv", "--timeout", "30", "--keep-command", "--name", "n",
        "--client-token", "ct", "--container-name", "web", "--", "uname", "-a",
    )  # fmt: skip
    assert outcome.code == 0
    assert outcome.out == "invoke_id   t-7\ncommand_id  c-7\n"
    assert "kairos watch t-7" in outcome.err
    [call] = [call for call in api.calls if call.method == "InvocationService/RunCommand"]
    assert call.metadata["authorization"] == "Bearer secret"
    assert call.request == invocation_pb2.RunCommandRequest(
        name="n",
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        command_content="uname -a",
        content_encoding=common_pb2.CONTENT_ENCODING_PLAIN_TEXT,
        enable_parameter=True,
        instance_ids=["i-1", "i-2", "i-3"],
        repeat_mode=common_pb2.REPEAT_MODE_PERIOD,
        frequency="rate(5m)",
        parameters={"name": "a=b", "empty": ""},
        username="nobody",
        working_dir="/srv",
        timeout=30,
        container_name="web",
        client_token="ct",
        keep_command=True,
    )


async def test_no_token_sends_no_authorization(api: ScriptedServer) -> None:
    api.reply(
        "FleetService/DescribeAccountAttributes", fleet_pb2.DescribeAccountAttributesResponse()
    )
    await kairos("quota", "--server", api.address)
    assert "authorization" not in api.calls[0].metadata


async def test_token_and_server_come_from_the_environment(api: ScriptedServer) -> None:
    api.reply(
        "FleetService/DescribeAccountAttributes", fleet_pb2.DescribeAccountAttributesResponse()
    )
    environment = {"KAIROS_SERVER": api.address, "KAIROS_TOKEN": "from-env"}
    assert (await kairos("quota", env=environment)).code == 0
    assert api.calls[0].metadata["authorization"] == "Bearer from-env"


async def test_run_file_and_json(api: ScriptedServer, tmp_path: Any) -> None:
    script = tmp_path / "s.sh"
    script.write_text("echo from file\n")
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-1", invoke_id="t-1"),
    )
    outcome = await kairos(
        "run", "--server", api.address, "-i", "i-1", "--file", str(script), "--json"
    )
    assert json.loads(outcome.out) == {"command_id": "c-1", "invoke_id": "t-1"}
    request = api.requests("InvocationService/RunCommand")[0]
    assert request.command_content == "echo from file\n"
    assert request.repeat_mode == common_pb2.REPEAT_MODE_UNSPECIFIED


async def test_invoke_sends_the_shared_invocation_fields(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/InvokeCommand", invocation_pb2.InvokeCommandResponse(invoke_id="t-2")
    )
    outcome = await kairos(
        "invoke", "c-1", "--server", api.address, "-i", "i-1", "--repeat-mode", "dry-run",
        "-p", "x=1",
    )  # fmt: skip
    assert outcome.out == "invoke_id  t-2\n"
    assert api.requests("InvocationService/InvokeCommand")[
        0
    ] == invocation_pb2.InvokeCommandRequest(
        command_id="c-1",
        instance_ids=["i-1"],
        repeat_mode=common_pb2.REPEAT_MODE_DRY_RUN,
        parameters={"x": "1"},
    )


async def test_stop_some_instances(api: ScriptedServer) -> None:
    api.reply("InvocationService/StopInvocation", invocation_pb2.StopInvocationResponse())
    outcome = await kairos("stop", "t-1", "--server", api.address, "-i", "i-1,i-2")
    assert outcome.out == "stop requested for t-1 (i-1, i-2)\n"
    request = api.requests("InvocationService/StopInvocation")[0]
    assert (request.invoke_id, list(request.instance_ids)) == ("t-1", ["i-1", "i-2"])


# --- watch ------------------------------------------------------------------------


def _script_watch(api: ScriptedServer, final: int, *, second_status: int) -> None:
    pending = common_pb2.INVOCATION_STATUS_PENDING
    api.reply(
        "InvocationService/DescribeInvocations",
        invocation_pb2.DescribeInvocationsResponse(
            invocations=[
                invocation_pb2.Invocation(
                    invoke_id="t-1",
                    instances=[
                        invocation_pb2.InvocationInstance(instance_id=i, invocation_status=pending)
                        for i in ("i-1", "i-2")
                    ],
                )
            ],
            total_count=1,
        ),
    )

    async def events(request: Any, context: Any) -> AsyncIterator[Any]:
        event = invocation_pb2.WatchInvocationEvent
        running = common_pb2.INVOCATION_STATUS_RUNNING
        started = _result("i-1", running)
        started.ClearField("finish_time")
        yield event(result=started)
        yield event(output=invocation_pb2.OutputChunk(instance_id="i-1", data=b"one\ntw"))
        yield event(output=invocation_pb2.OutputChunk(instance_id="i-1", offset=6, data=b"o\n"))
        yield event(result=_result("i-1", common_pb2.INVOCATION_STATUS_SUCCESS))
        yield event(result=_result("i-2", second_status, exit_code=2))
        yield event(finished=final)  # type: ignore[arg-type]

    api.on("InvocationService/WatchInvocation", events)


async def test_watch_prints_output_status_and_progress(api: ScriptedServer) -> None:
    _script_watch(
        api,
        common_pb2.INVOCATION_STATUS_SUCCESS,
        second_status=common_pb2.INVOCATION_STATUS_SUCCESS,
    )
    outcome = await kairos("watch", "t-1", "--server", api.address)
    assert outcome.code == 0
    assert outcome.out.splitlines() == [
        "[i-1] => Running",
        "[i-1] one",
        "[i-1] two",
        "[i-1] => Success (exit 0)",
        "[i-2] => Success (exit 2)",
        "finished: Success (2/2 instances done)",
    ]
    assert outcome.err.splitlines() == [
        "progress: 0/2 instances done",
        "progress: 1/2 instances done",
        "progress: 2/2 instances done",
    ]
    assert api.requests("InvocationService/WatchInvocation")[0].invoke_id == "t-1"


async def test_invoke_watch_exits_1_unless_success(api: ScriptedServer) -> None:
    _script_watch(
        api,
        common_pb2.INVOCATION_STATUS_PARTIAL_FAILED,
        second_status=common_pb2.INVOCATION_STATUS_FAILED,
    )
    api.reply(
        "InvocationService/InvokeCommand", invocation_pb2.InvokeCommandResponse(invoke_id="t-1")
    )
    outcome = await kairos("invoke", "c-1", "-i", "i-1,i-2", "--watch", "--server", api.address)
    assert outcome.code == 1
    assert outcome.out.splitlines()[0] == "invoke_id  t-1"
    assert outcome.out.splitlines()[-2:] == [
        "[i-2] => Failed (exit 2)",
        "finished: PartialFailed (2/2 instances done)",
    ]


async def test_run_watch_json_prints_one_document_with_results(api: ScriptedServer) -> None:
    _script_watch(
        api,
        common_pb2.INVOCATION_STATUS_SUCCESS,
        second_status=common_pb2.INVOCATION_STATUS_SUCCESS,
    )
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-1", invoke_id="t-1"),
    )
    api.reply(
        "InvocationService/DescribeInvocationResults",
        invocation_pb2.DescribeInvocationResultsResponse(
            results=[_result("i-1", common_pb2.INVOCATION_STATUS_SUCCESS, output=b"one\ntwo\n")],
            total_count=1,
        ),
    )
    outcome = await kairos(
        "run", "-i", "i-1,i-2", "--watch", "--json", "--server", api.address, "--", "x"
    )
    assert outcome.code == 0
    document = json.loads(outcome.out)
    assert document["invoke_id"] == "t-1" and document["command_id"] == "c-1"
    assert document["invocation_status"] == "INVOCATION_STATUS_SUCCESS"
    assert document["results"][0]["output"] == "b25lCnR3bwo="
    assert document["results"][0]["exit_code"] == 0


async def test_watch_stream_that_ends_early_is_an_error(api: ScriptedServer) -> None:
    _script_watch(
        api,
        common_pb2.INVOCATION_STATUS_SUCCESS,
        second_status=common_pb2.INVOCATION_STATUS_SUCCESS,
    )

    async def nothing(request: Any, context: Any) -> AsyncIterator[Any]:
        return
        yield

    api.on("InvocationService/WatchInvocation", nothing)
    outcome = await kairos("watch", "t-1", "--server", api.address)
    assert outcome.code == 1
    assert outcome.err.endswith("error: the watch of t-1 ended before the invocation finished\n")


# --- invocations, results, fleet --------------------------------------------------


async def test_invocations_with_instances(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/DescribeInvocations",
        invocation_pb2.DescribeInvocationsResponse(
            invocations=[
                invocation_pb2.Invocation(
                    invoke_id="t-1",
                    command_id="c-1",
                    command_name="backup",
                    invocation_status=common_pb2.INVOCATION_STATUS_SCHEDULED,
                    repeat_mode=common_pb2.REPEAT_MODE_PERIOD,
                    frequency="0 30 2 * * ?",
                    creation_time=CREATED,
                    instances=[
                        invocation_pb2.InvocationInstance(
                            instance_id="i-1",
                            invocation_status=common_pb2.INVOCATION_STATUS_SCHEDULED,
                            next_fire_time=Timestamp(seconds=1795397400),
                            repeats=4,
                            overlap_skips=1,
                        ),
                        invocation_pb2.InvocationInstance(
                            instance_id="i-2",
                            invocation_status=common_pb2.INVOCATION_STATUS_CANCELLED,
                        ),
                    ],
                )
            ],
            total_count=1,
        ),
    )
    outcome = await kairos(
        "invocations", "--server", api.address, "--invoke-id", "t-1", "--status", "scheduled"
    )
    assert outcome.out.splitlines() == [
        "INVOKE ID  COMMAND ID  NAME    STATUS     REPEAT  FREQUENCY     CREATED               DONE  SELECTOR  TAGS  RATE",  # noqa: E501
        "t-1        c-1         backup  Scheduled  Period  0 30 2 * * ?  2026-11-22T05:30:00Z  1/2   -         -     -",  # noqa: E501
        "",
        "t-1 instances:",
        "INSTANCE  STATUS     NEXT FIRE             REPEATS  OVERLAP SKIPS  MISFIRE SKIPS  PAUSED SKIPS  UPDATED",  # noqa: E501
        "i-1       Scheduled  2026-11-23T01:30:00Z  4        1              0              0             -",  # noqa: E501
        "i-2       Cancelled  -                     0        0              0              0             -",  # noqa: E501
    ]
    request = api.requests("InvocationService/DescribeInvocations")[0]
    assert (request.invoke_id, request.invocation_status) == (
        "t-1",
        common_pb2.INVOCATION_STATUS_SCHEDULED,
    )


async def test_results_table_and_output(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/DescribeInvocationResults",
        invocation_pb2.DescribeInvocationResultsResponse(
            results=[
                _result("i-1", common_pb2.INVOCATION_STATUS_SUCCESS, output=b"Linux \xff\n"),
                _result(
                    "i-2",
                    common_pb2.INVOCATION_STATUS_FAILED,
                    exit_code=1,
                    error_code="ExitCodeNonzero",
                    error_info="exit code 1",
                    output=b"head...tail",
                    dropped=100,
                ),
                invocation_pb2.InvocationResult(
                    instance_id="i-3", invocation_status=common_pb2.INVOCATION_STATUS_PENDING
                ),
            ],
            total_count=3,
        ),
    )
    outcome = await kairos("results", "t-1", "--server", api.address, "--instance-id", "i-1")
    assert outcome.out == (
        "INSTANCE  STATUS   EXIT  ERROR            START                 FINISH\n"
        "i-1       Success  0     -                2026-11-22T05:30:01Z  2026-11-22T05:30:03Z\n"
        "i-2       Failed   1     ExitCodeNonzero  2026-11-22T05:30:01Z  2026-11-22T05:30:03Z\n"
        "i-3       Pending  -     -                -                     -\n"
        "\n"
        "==> i-1: Success (exit 0) <==\n"
        "Linux \ufffd\n"
        "\n"
        "==> i-2: Failed (exit 1, ExitCodeNonzero: exit code 1) <==\n"
        "head...tail\n"
        "[… 100 bytes dropped between head and tail …]\n"
    )
    request = api.requests("InvocationService/DescribeInvocationResults")[0]
    assert (request.invoke_id, request.instance_id, request.include_history) == (
        "t-1",
        "i-1",
        False,
    )


async def test_results_history_shows_runs(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/DescribeInvocationResults",
        invocation_pb2.DescribeInvocationResultsResponse(
            results=[
                _result(
                    "i-1", common_pb2.INVOCATION_STATUS_SUCCESS, repeats=2, scheduled_time=CREATED
                )
            ],
        ),
    )
    outcome = await kairos("results", "t-1", "--server", api.address, "--history")
    assert outcome.out.splitlines()[:2] == [
        "INSTANCE  RUN  SCHEDULED             STATUS   EXIT  ERROR  START                 FINISH",
        "i-1       2    2026-11-22T05:30:00Z  Success  0     -      2026-11-22T05:30:01Z  2026-11-22T05:30:03Z",  # noqa: E501
    ]
    assert api.requests("InvocationService/DescribeInvocationResults")[0].include_history


async def test_instances_and_quota(api: ScriptedServer) -> None:
    api.reply(
        "FleetService/DescribeAgentStatus",
        fleet_pb2.DescribeAgentStatusResponse(
            instances=[
                fleet_pb2.AgentStatus(
                    instance_id="i-1",
                    instance_name="web-1",
                    online=True,
                    agent_version="0.1.0",
                    os_type=common_pb2.OS_TYPE_LINUX,
                    time_zone="Asia/Shanghai",
                    last_heartbeat_time=CREATED,
                ),
                fleet_pb2.AgentStatus(instance_id="i-2", online=False),
            ],
            total_count=2,
        ),
    )
    api.reply(
        "FleetService/DescribeAccountAttributes",
        fleet_pb2.DescribeAccountAttributesResponse(
            attributes=[
                fleet_pb2.AccountAttribute(name="MaxCommandCount", used=3, limit=100),
                fleet_pb2.AccountAttribute(name="MaxDailyExecutionCount", used=42, limit=5000),
            ]
        ),
    )
    instances = await kairos("instances", "--server", api.address, "-i", "i-1,i-2")
    assert instances.out.splitlines() == [
        "INSTANCE  NAME   ONLINE  VERSION  OS     TIME ZONE      LAST HEARTBEAT        TAGS",
        "i-1       web-1  yes     0.1.0    linux  Asia/Shanghai  2026-11-22T05:30:00Z  -",
        "i-2       -      no      -        -      -              -                     -",
    ]
    assert list(api.requests("FleetService/DescribeAgentStatus")[0].instance_ids) == ["i-1", "i-2"]
    quota = await kairos("quota", "--server", api.address)
    assert quota.out.splitlines() == [
        "NAME                    USED  LIMIT",
        "MaxCommandCount         3     100",
        "MaxDailyExecutionCount  42    5000",
    ]
    quota_json = json.loads((await kairos("quota", "--server", api.address, "--json")).out)
    assert quota_json["attributes"][1] == {
        "name": "MaxDailyExecutionCount",
        "limit": "5000",
        "used": "42",
    }


# --- errors -----------------------------------------------------------------------


async def test_server_error_is_one_line_and_exit_1(api: ScriptedServer) -> None:
    async def not_found(request: Any, context: Any) -> Any:
        await context.abort(grpc.StatusCode.NOT_FOUND, "command c-123 not found")

    api.on("CommandService/DeleteCommand", not_found)
    outcome = await kairos("command", "delete", "c-123", "--server", api.address)
    assert (outcome.code, outcome.out, outcome.err) == (
        1,
        "",
        "error: NOT_FOUND: command c-123 not found\n",
    )


async def test_unreachable_server_names_the_address() -> None:
    address = f"127.0.0.1:{free_port()}"  # a port that nothing listens on
    outcome = await kairos("quota", "--server", address)
    assert outcome.code == 1
    assert outcome.err.startswith(
        f"error: UNAVAILABLE: cannot reach the Kairos server at {address} ("
    )
    assert outcome.err.count("\n") == 1
