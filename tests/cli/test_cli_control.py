"""`kairos pause|resume|modify|trigger` against a scripted API: requests sent, what is printed."""

from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import common_pb2, invocation_pb2

from .cli_harness import ScriptedServer, kairos


async def test_pause_and_resume(api: ScriptedServer) -> None:
    api.reply("InvocationService/PauseInvocation", invocation_pb2.PauseInvocationResponse())
    api.reply("InvocationService/ResumeInvocation", invocation_pb2.ResumeInvocationResponse())
    paused = await kairos("pause", "t-1", "--server", api.address)
    resumed = await kairos("resume", "t-1", "--server", api.address)
    assert (paused.code, paused.out) == (0, "paused t-1\n")
    assert (resumed.code, resumed.out) == (0, "resumed t-1\n")
    assert api.requests("InvocationService/PauseInvocation")[0].invoke_id == "t-1"
    assert api.requests("InvocationService/ResumeInvocation")[0].invoke_id == "t-1"


async def test_modify_sends_only_the_flags_given(api: ScriptedServer) -> None:
    api.reply("InvocationService/ModifyInvocation", invocation_pb2.ModifyInvocationResponse())
    outcome = await kairos(
        "modify", "t-1", "--server", api.address, "--frequency", "rate(5m)", "-p", "who=me",
        "--content", "echo {{who}}", "--add-instance", "i-3,i-4", "--remove-instance", "i-1",
    )  # fmt: skip
    assert (outcome.code, outcome.out) == (0, "modified t-1\n")
    [request] = api.requests("InvocationService/ModifyInvocation")
    assert request == invocation_pb2.ModifyInvocationRequest(
        invoke_id="t-1",
        frequency="rate(5m)",
        parameters=invocation_pb2.ParameterValues(values={"who": "me"}),
        command_content="echo {{who}}",
        content_encoding=common_pb2.CONTENT_ENCODING_PLAIN_TEXT,
        add_instance_ids=["i-3", "i-4"],
        remove_instance_ids=["i-1"],
    )
    assert not request.HasField("timeout")

    await kairos("modify", "t-1", "--server", api.address, "--timeout", "60")
    request = api.requests("InvocationService/ModifyInvocation")[1]
    assert request.HasField("timeout") and request.timeout == 60
    assert not request.HasField("frequency") and not request.HasField("parameters")
    assert not request.HasField("resource_tags")


async def test_modify_sends_a_new_selector(api: ScriptedServer) -> None:
    api.reply("InvocationService/ModifyInvocation", invocation_pb2.ModifyInvocationResponse())
    outcome = await kairos(
        "modify", "t-1", "--server", api.address, "-l", "env=prod,tier", "-l", "rack=r1"
    )
    assert (outcome.code, outcome.out) == (0, "modified t-1\n")
    [request] = api.requests("InvocationService/ModifyInvocation")
    assert request == invocation_pb2.ModifyInvocationRequest(
        invoke_id="t-1",
        resource_tags=invocation_pb2.ResourceTags(
            tags=[
                common_pb2.Tag(key="env", value="prod"),
                common_pb2.Tag(key="tier", value=""),
                common_pb2.Tag(key="rack", value="r1"),
            ]
        ),
    )


async def test_trigger_reports_fired_and_busy_instances(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/TriggerInvocation",
        invocation_pb2.TriggerInvocationResponse(
            instance_ids=["i-1"],
            busy_instance_ids=["i-2"],
            scheduled_time=Timestamp(seconds=1795325400),
        ),
    )
    outcome = await kairos("trigger", "t-1", "--server", api.address, "-i", "i-1,i-2")
    assert outcome.out.splitlines() == [
        "triggered t-1 at 2026-11-22T05:30:00Z on i-1",
        "skipped (previous run still going): i-2",
    ]
    request = api.requests("InvocationService/TriggerInvocation")[0]
    assert (request.invoke_id, list(request.instance_ids)) == ("t-1", ["i-1", "i-2"])


async def test_invocations_show_paused(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/DescribeInvocations",
        invocation_pb2.DescribeInvocationsResponse(
            invocations=[
                invocation_pb2.Invocation(
                    invoke_id="t-1",
                    invocation_status=common_pb2.INVOCATION_STATUS_SCHEDULED,
                    repeat_mode=common_pb2.REPEAT_MODE_PERIOD,
                    paused=True,
                    instances=[
                        invocation_pb2.InvocationInstance(
                            instance_id="i-1",
                            invocation_status=common_pb2.INVOCATION_STATUS_SCHEDULED,
                            paused_skips=3,
                        )
                    ],
                )
            ],
            total_count=1,
        ),
    )
    outcome = await kairos("invocations", "--server", api.address, "--invoke-id", "t-1")
    lines = outcome.out.splitlines()
    assert "Scheduled (paused)" in lines[1]
    assert lines[5].split()[:7] == ["i-1", "Scheduled", "-", "0", "0", "0", "3"]
