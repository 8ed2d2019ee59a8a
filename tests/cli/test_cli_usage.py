"""Usage errors exit 2 before any call is made; help exits 0."""

import os
from pathlib import Path

import pytest

from kairos.v1 import invocation_pb2
from scheduler.cli.main import main

from .cli_harness import ScriptedServer, kairos

# No server listens here: a usage error must be reported before any connection.
NOWHERE = ["--server", "127.0.0.1:1"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--", "true"], "one of the arguments -i/--instance-ids -l/--selector is required"),
        (["run", "-i", "i-1"], "error: give the script either inline (after `--`) or with --file"),
        (["run", "-i", "i-1", "--file", "x.sh", "--", "true"], "either inline"),
        (["run", "-i", "i-1,", "--", "true"], "empty instance id in 'i-1,'"),
        (["run", "-i", "i-1", "-p", "novalue", "--", "true"], "expected NAME=VALUE"),
        (["run", "-i", "i-1", "-p", "a=1", "-p", "a=2", "--", "x"], "parameter 'a' given twice"),
        (["run", "-i", "i-1", "--keep-command", "--", "true"], "--keep-command needs --name"),
        (["run", "-i", "i-1", "--type", "perl", "--", "x"], "unknown command type 'perl'"),
        (["run", "-i", "i-1", "--repeat-mode", "weekly", "--", "x"], "unknown repeat mode"),
        (["run", "-i", "i-1", "--timeout", "0", "--", "x"], "0 is out of range (1-"),
        # Past what the API's int64 carries: a usage error, not a traceback.
        (["run", "-i", "i-1", "--timeout", "9" * 20, "--", "x"], "is out of range (1-"),
        (
            ["run", "-i", "i-1", "--frequency", "rate(5m)", "--jitter", "9" * 20 + "h", "--", "x"],
            "argument --jitter: '" + "9" * 20 + "h' is out of range",
        ),
        (["command", "create", "--content", "x"], "required: --name"),
        (["command", "create", "--name", "n"], "one of the arguments --content --file"),
        (["command", "create", "--name", "n", "--content", "x", "--file", "y"], "not allowed"),
        (["command", "modify", "c-1"], "nothing to modify"),
        (["command", "list", "--max-results", "51"], "51 is out of range (1-50)"),
        (["invocations", "--status", "done"], "unknown invocation status 'done'"),
        (["dev", "--agents", "0"], "0 is out of range (1-50)"),
        # Before, a ValueError traceback: the port was read with int() as it stood.
        (["dev", "--listen", "localhost"], "argument --listen: 'localhost' is not HOST:PORT"),
        (["dev", "--listen", "[::1]"], "argument --listen: '[::1]' is not HOST:PORT"),
        (["dev", "--listen", "localhost:http"], "(a host, a colon and a port from 1 to 65535)"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        # Before, a traceback: the pair was parsed outside argparse.
        (["tag", "instance", "i-1", "=prod"], "expected KEY=VALUE, got '=prod'"),
        # Before, gRPC refused the header as INTERNAL "Invalid metadata", naming nothing.
        (["instances", "--token", "ab\ncd"], "the token (--token, KAIROS_TOKEN or the token"),
        (["instances", "--token", "caf\u00e9"], "only printable ASCII"),
        (["agent", "--server", "a:1,,b:2"], "argument --server: entry '' is not HOST:PORT"),
        (["agent", "--server", "a:1,a:1"], "an address is listed twice in 'a:1,a:1'"),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = NOWHERE if argv[0] in ("run", "command", "invocations", "tag", "instances") else []
    assert main([*argv, *extra]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.out == ""


def test_no_subcommand_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: kairos" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv", [["--help"], ["run", "--help"], ["command", "create", "--help"], ["dev", "--help"]]
)
def test_help_exits_0(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 0
    assert "usage: kairos" in capsys.readouterr().out


def test_status_filter_accepts_cloud_assistant_words(capsys: pytest.CaptureFixture[str]) -> None:
    # Parsing succeeds (the failure is the unreachable server, exit 1, not usage).
    assert main(["invocations", "--status", "PartialFailed", *NOWHERE]) == 1
    assert "cannot reach the Kairos server at 127.0.0.1:1" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["run", "-i", "i-1", "--bogus", "--", "true"], "usage: kairos run "),
        (
            ["command", "create", "--name", "n", "--content", "x", "--frob"],
            "usage: kairos command create ",
        ),
        (["schedule", "explain", "rate(5m)", "--count", "3"], "usage: kairos schedule explain "),
        (["config", "get-contexts", "--all"], "usage: kairos config get-contexts "),
    ],
)
def test_an_unknown_flag_prints_the_subcommands_usage(
    argv: list[str], usage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(usage)
    assert "unrecognized arguments: " in err


NOT_UTF8 = os.fsdecode(b"\xff")
"""A byte that is not UTF-8, as Python hands it over in argv (a surrogate escape); the
harness passes it on to the process as the byte itself."""


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (
            ["run", "-i", "i-1", "--", f"echo {NOT_UTF8}"],
            "kairos run: error: argument -- SCRIPT: not valid UTF-8",
        ),
        (
            ["run", "-i", "i-1", "--description", NOT_UTF8, "--", "true"],
            "kairos run: error: argument --description: not valid UTF-8",
        ),
        (
            ["run", "-i", f"i-{NOT_UTF8}", "--", "true"],
            "kairos run: error: argument -i/--instance-ids: not valid UTF-8",
        ),
        (
            ["tags", "-l", f"env={NOT_UTF8}"],
            "kairos tags: error: argument -l/--selector: not valid UTF-8",
        ),
        (
            ["--server", f"{NOT_UTF8}:1", "instances"],
            "kairos: error: argument --server: not valid UTF-8",
        ),
        # The value is not shown: it may be a token.
        (["instances", "--token", f"s3cret{NOT_UTF8}"], "argument --token: not valid UTF-8"),
    ],
)
async def test_a_value_that_is_not_utf8_is_a_usage_error(argv: list[str], error: str) -> None:
    # Before, a traceback: UnicodeEncodeError building the request or printing.
    outcome = await kairos(*argv, *NOWHERE)
    assert (outcome.code, outcome.out) == (2, "")
    assert outcome.err.splitlines()[-1].endswith(error)
    assert "s3cret" not in outcome.err


async def test_a_script_file_whose_name_is_not_utf8_is_read(
    api: ScriptedServer, tmp_path: Path
) -> None:
    # A file name may be any bytes: it is opened, never sent, so it is not refused.
    script = tmp_path / f"{NOT_UTF8}.sh"
    script.write_text("echo hi\n")
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-1", invoke_id="t-1"),
    )
    outcome = await kairos("run", "-i", "i-1", "--file", str(script), "--server", api.address)
    assert outcome.code == 0, outcome.err
    [request] = api.requests("InvocationService/RunCommand")
    assert request.command_content == "echo hi\n"
