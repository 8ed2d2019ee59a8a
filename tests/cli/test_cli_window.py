"""`--jitter`, `--start` and `--end` on `run` and `invoke`, and how `kairos invocations`
shows them (issue 12 item 5)."""

from datetime import UTC, datetime

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.cli.main import main

from .cli_harness import ScriptedServer, kairos


def stamp(moment: datetime) -> Timestamp:
    value = Timestamp()
    value.FromDatetime(moment)
    return value


CHRISTMAS = datetime(2026, 12, 24, tzinfo=UTC)
NEW_YEAR = datetime(2027, 1, 1, tzinfo=UTC)


async def test_run_sends_jitter_start_and_end(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-7", invoke_id="t-7"),
    )
    outcome = await kairos(
        "run", "--server", api.address, "-i", "i-1", "--frequency", "rate(1h)",
        "--jitter", "5m", "--start", "2026-12-24T00:00:00Z",
        "--end", "2027-01-01T08:00:00+08:00", "--", "true",
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    [request] = api.requests("InvocationService/RunCommand")
    assert request.max_jitter == 300
    assert request.start_time == stamp(CHRISTMAS)
    assert request.end_time == stamp(NEW_YEAR)  # 08:00 at +08:00 is midnight UTC


async def test_the_first_and_last_instants_a_timestamp_holds_are_sent(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-7", invoke_id="t-7"),
    )
    outcome = await kairos(
        "run", "--server", api.address, "-i", "i-1", "--frequency", "rate(1h)",
        "--start", "0001-01-01T00:00:00Z", "--end", "9999-12-31T23:59:59+14:00", "--", "true",
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    [request] = api.requests("InvocationService/RunCommand")
    assert request.start_time == stamp(datetime(1, 1, 1, tzinfo=UTC))
    assert request.end_time == stamp(datetime(9999, 12, 31, 9, 59, 59, tzinfo=UTC))


async def test_invoke_sends_jitter_in_seconds_and_leaves_unset_bounds_unset(
    api: ScriptedServer,
) -> None:
    api.reply(
        "InvocationService/InvokeCommand", invocation_pb2.InvokeCommandResponse(invoke_id="t-2")
    )
    outcome = await kairos(
        "invoke", "c-1", "--server", api.address, "-i", "i-1", "--frequency", "rate(1h)",
        "--jitter", "90",
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    [request] = api.requests("InvocationService/InvokeCommand")
    assert request == invocation_pb2.InvokeCommandRequest(
        command_id="c-1", instance_ids=["i-1"], frequency="rate(1h)", max_jitter=90
    )


async def test_invocations_shows_the_window(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/DescribeInvocations",
        invocation_pb2.DescribeInvocationsResponse(
            invocations=[
                invocation_pb2.Invocation(
                    invoke_id="t-1",
                    invocation_status=common_pb2.INVOCATION_STATUS_SCHEDULED,
                    repeat_mode=common_pb2.REPEAT_MODE_PERIOD,
                    frequency="rate(1h)",
                    max_jitter=300,
                    start_time=stamp(CHRISTMAS),
                    end_time=stamp(NEW_YEAR),
                ),
                invocation_pb2.Invocation(invoke_id="t-2", frequency="rate(1h)"),
            ],
            total_count=2,
        ),
    )
    outcome = await kairos("invocations", "--server", api.address, "--instances")
    assert outcome.code == 0, outcome.err
    lines = outcome.out.splitlines()
    assert "t-1 jitter up to 300 s, from 2026-12-24T00:00:00Z, until 2027-01-01T00:00:00Z" in lines
    assert not [line for line in lines if line.startswith("t-2 ") and "jitter" in line]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--jitter", "5x"], "expected seconds or a duration like 30s, 5m, 1h: '5x'"),
        (["--jitter", "-5"], "expected seconds or a duration"),
        (["--jitter", "²"], "expected seconds or a duration"),
        (["--start", "2026-12-24T00:00:00"], "has no offset: add Z (UTC) or one like +08:00"),
        (["--end", "Christmas"], "not an RFC 3339 instant"),
        # Before, an OverflowError traceback: the offset carries them past years 1-9999.
        (
            ["--start", "0001-01-01T00:00:00+01:00"],
            "argument --start: '0001-01-01T00:00:00+01:00' is out of range (years 1-9999 in UTC)",
        ),
        (
            ["--end", "9999-12-31T23:59:59-14:00"],
            "argument --end: '9999-12-31T23:59:59-14:00' is out of range (years 1-9999 in UTC)",
        ),
    ],
)
def test_bad_window_flags_are_usage_errors(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "-i", "i-1", "--frequency", "rate(1h)", *flags, "--server", "127.0.0.1:1"]
    assert main([*argv, "--", "true"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""
