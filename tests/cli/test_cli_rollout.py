"""`kairos run|invoke --max-concurrency --max-errors`; the RATE column of `kairos invocations`."""

from kairos.v1 import common_pb2, invocation_pb2

from .cli_harness import ScriptedServer, kairos


async def test_run_and_invoke_send_the_limits_as_written(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-1", invoke_id="t-1"),
    )
    api.reply(
        "InvocationService/InvokeCommand", invocation_pb2.InvokeCommandResponse(invoke_id="t-2")
    )
    ran = await kairos(
        "run", "--server", api.address, "-i", "i-1,i-2", "--max-concurrency", "25%",
        "--max-errors", "1", "--", "apt-get", "-y", "upgrade",
    )  # fmt: skip
    invoked = await kairos(
        "invoke", "c-1", "--server", api.address, "-i", "i-1", "--max-errors", "0%"
    )
    assert (ran.code, invoked.code) == (0, 0)
    run = api.requests("InvocationService/RunCommand")[0]
    assert (run.max_concurrency, run.max_errors) == ("25%", "1")
    invoke = api.requests("InvocationService/InvokeCommand")[0]
    assert (invoke.max_concurrency, invoke.max_errors) == ("", "0%")


async def test_without_the_flags_no_limit_is_sent(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-1", invoke_id="t-1"),
    )
    await kairos("run", "--server", api.address, "-i", "i-1", "--", "true")
    run = api.requests("InvocationService/RunCommand")[0]
    assert run.max_concurrency == ""
    assert run.max_errors == ""


async def test_invocations_show_the_limits(api: ScriptedServer) -> None:
    def listed(**limits: str) -> invocation_pb2.Invocation:
        return invocation_pb2.Invocation(
            invoke_id="t-1",
            command_id="c-1",
            command_name="patch",
            invocation_status=common_pb2.INVOCATION_STATUS_RUNNING,
            repeat_mode=common_pb2.REPEAT_MODE_ONCE,
            **limits,  # type: ignore[arg-type]
        )

    api.reply(
        "InvocationService/DescribeInvocations",
        invocation_pb2.DescribeInvocationsResponse(
            invocations=[
                listed(max_concurrency="25%", max_errors="1"),
                listed(max_errors="0"),
                listed(),
            ],
            total_count=3,
        ),
    )
    outcome = await kairos("invocations", "--server", api.address)
    rates = [line.split("  ")[-1].strip() for line in outcome.out.splitlines()[1:4]]
    assert rates == ["max 25%, errors 1", "errors 0", "-"]
