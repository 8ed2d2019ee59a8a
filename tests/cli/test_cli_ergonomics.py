"""What a new operator trips over: connection flags anywhere, contexts in a config file,
the hints and warnings the CLI gives. `kairos` runs as a real process against a
scripted API on a real socket."""

import os
import stat
import subprocess
import tomllib
from pathlib import Path

import pytest

from kairos.v1 import command_pb2, common_pb2, fleet_pb2, invocation_pb2
from scheduler.cli.main import build_parser

from .cli_harness import ScriptedServer, kairos

QUOTA = "FleetService/DescribeAccountAttributes"
REPO = Path(__file__).resolve().parents[2]


def _quota(api: ScriptedServer) -> None:
    api.reply(QUOTA, fleet_pb2.DescribeAccountAttributesResponse())


# --- connection flags before or after the subcommand ------------------------------


@pytest.mark.parametrize(
    "placement",
    ["before", "after", "split"],
)
async def test_connection_flags_go_before_or_after_the_subcommand(
    api: ScriptedServer, placement: str
) -> None:
    _quota(api)
    flags = ["--server", api.address, "--token", "t-1", "--json"]
    argv = {
        "before": [*flags, "quota"],
        "after": ["quota", *flags],
        "split": ["--server", api.address, "quota", "--token", "t-1", "--json"],
    }[placement]
    outcome = await kairos(*argv)
    assert outcome.code == 0, outcome.err
    assert outcome.out.lstrip().startswith("{")  # --json, wherever it was
    assert api.calls[0].metadata["authorization"] == "Bearer t-1"


async def test_a_flag_after_the_subcommand_wins_over_one_before(api: ScriptedServer) -> None:
    _quota(api)
    outcome = await kairos("--server", "127.0.0.1:1", "quota", "--server", api.address)
    assert outcome.code == 0, outcome.err
    assert len(api.calls) == 1


# --- contexts -----------------------------------------------------------------------


async def test_contexts_are_set_listed_and_used(api: ScriptedServer, tmp_path: Path) -> None:
    _quota(api)
    config_home = tmp_path / "config"
    token_file = tmp_path / "prod.token"
    token_file.write_text("context-secret\n")
    env = {"XDG_CONFIG_HOME": str(config_home)}

    created = await kairos(
        "config", "set-context", "prod", "--server", api.address,
        "--token-file", str(token_file), env=env,
    )  # fmt: skip
    assert created.code == 0, created.err
    await kairos("config", "set-context", "other", "--server", "127.0.0.1:1", env=env)
    path = config_home / "kairos" / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = tomllib.loads(path.read_text())
    # The first context became the current one; the file names the token's file only.
    assert document["current-context"] == "prod"
    assert document["contexts"]["prod"] == {"server": api.address, "token-file": str(token_file)}
    assert "context-secret" not in path.read_text()

    listed = await kairos("config", "get-contexts", env=env)
    assert listed.code == 0
    assert [line.split()[:3] for line in listed.out.splitlines()[1:]] == [
        ["-", "other", "127.0.0.1:1"],
        ["*", "prod", api.address],
    ]
    assert "context-secret" not in listed.out + listed.err

    assert (await kairos("quota", env=env)).code == 0
    assert api.calls[-1].metadata["authorization"] == "Bearer context-secret"

    # Precedence: the environment over the context, a flag over the environment.
    await kairos("quota", env={**env, "KAIROS_TOKEN": "from-env"})
    assert api.calls[-1].metadata["authorization"] == "Bearer from-env"
    await kairos("quota", "--token", "from-flag", env={**env, "KAIROS_TOKEN": "from-env"})
    assert api.calls[-1].metadata["authorization"] == "Bearer from-flag"

    switched = await kairos("config", "use-context", "other", env=env)
    assert (switched.code, switched.out) == (0, "switched to context 'other'\n")
    unreachable = await kairos("quota", env=env)
    assert unreachable.code == 1
    assert "127.0.0.1:1" in unreachable.err
    chosen = await kairos("quota", "--context", "prod", env=env)
    assert chosen.code == 0, chosen.err


async def test_a_relative_file_of_set_context_is_stored_absolute(
    api: ScriptedServer, tmp_path: Path
) -> None:
    _quota(api)
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    (here / "prod.token").write_text("context-secret\n")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    created = await kairos(
        "config", "set-context", "prod", "--server", api.address,
        "--token-file", "prod.token", "--ca-file", "../ca.pem", env=env, cwd=here,
    )  # fmt: skip
    assert created.code == 0, created.err
    path = tmp_path / "config" / "kairos" / "config.toml"
    assert tomllib.loads(path.read_text())["contexts"]["prod"] == {
        "server": api.address,
        "token-file": str(here / "prod.token"),
        "ca-file": str(here / ".." / "ca.pem"),
    }
    # Before, the token file was looked for in the directory the command ran in.
    await kairos("config", "set-context", "prod", "--ca-file", "", env=env)
    used = await kairos("quota", env=env, cwd=elsewhere)
    assert used.code == 0, used.err
    assert api.calls[-1].metadata["authorization"] == "Bearer context-secret"


async def test_a_relative_file_stored_in_a_context_is_the_config_files_neighbour(
    api: ScriptedServer, tmp_path: Path
) -> None:
    # A config file written by hand, or by an older kairos, with relative paths.
    _quota(api)
    directory = tmp_path / "kairos"
    directory.mkdir()
    (directory / "prod.token").write_text("context-secret\n")
    (directory / "config.toml").write_text(
        f'[contexts."prod"]\nserver = "{api.address}"\ntoken-file = "prod.token"\n'
        f'[contexts."tls"]\nserver = "{api.address}"\nca-file = "ca.pem"\n'
    )
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    used = await kairos("quota", "--context", "prod", env=env, cwd=tmp_path)
    assert used.code == 0, used.err
    assert api.calls[-1].metadata["authorization"] == "Bearer context-secret"
    missing = await kairos("quota", "--context", "tls", env=env, cwd=tmp_path)
    assert missing.code == 2
    assert f"--ca-file {directory / 'ca.pem'}: cannot read it" in missing.err


async def test_an_unknown_context_is_a_usage_error(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    used = await kairos("config", "use-context", "nope", env=env)
    assert used.code == 2
    assert "no context 'nope'" in used.err
    called = await kairos("quota", "--context", "nope", env=env)
    assert called.code == 2
    assert "context 'nope' is not in" in called.err


async def test_a_broken_config_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "kairos" / "config.toml"
    path.parent.mkdir()
    path.write_text("current-context = \n")
    outcome = await kairos("quota", env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert outcome.code == 2
    assert f"config file {path}: not valid TOML" in outcome.err


async def test_a_config_directory_that_cannot_be_made_is_one_error_line(tmp_path: Path) -> None:
    # The directory is a dangling symlink (a dotfiles link to a drive not mounted, say):
    # reading finds no file, so the contexts are empty, but it cannot be made. A read-only
    # home fails the same way for users other than root. Before, a FileExistsError traceback.
    (tmp_path / "kairos").symlink_to(tmp_path / "unmounted")
    outcome = await kairos(
        "config", "set-context", "prod", "--server", "a:1", env={"XDG_CONFIG_HOME": str(tmp_path)}
    )
    path = tmp_path / "kairos" / "config.toml"
    assert (outcome.code, outcome.out, outcome.err) == (
        1,
        "",
        f"error: cannot write {path}: File exists\n",
    )


# --- kairos dev ---------------------------------------------------------------------


def test_dev_listens_where_kairos_listen_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIROS_LISTEN", "127.0.0.1:50151")
    assert build_parser().parse_args(["dev"]).listen == "127.0.0.1:50151"
    flag = build_parser().parse_args(["dev", "--listen", "127.0.0.1:50152"])
    assert flag.listen == "127.0.0.1:50152"


def test_make_dev_passes_args_to_kairos_dev() -> None:
    done = subprocess.run(
        ["make", "-n", "-C", str(REPO), "dev", "ARGS=--listen 127.0.0.1:50151"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MAKEFLAGS": ""},
    )
    assert done.returncode == 0, done.stderr
    assert "kairos dev --listen 127.0.0.1:50151" in done.stdout


# --- the hint after run -------------------------------------------------------------


async def test_the_hint_after_run_repeats_the_connection_flags_but_never_the_token(
    api: ScriptedServer, tmp_path: Path
) -> None:
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-1", invoke_id="t-1"),
    )
    outcome = await kairos(
        "run", "--server", api.address, "--token", "hush", "-i", "i-1", "--", "true"
    )
    assert outcome.code == 0
    assert f"kairos watch t-1 --server {api.address};" in outcome.err
    assert f"kairos results t-1 --server {api.address})" in outcome.err
    assert "hush" not in outcome.err + outcome.out

    # Given by the environment, the hint works as printed without it.
    plain = await kairos("run", "-i", "i-1", "--", "true", env={"KAIROS_SERVER": api.address})
    assert "(follow with: kairos watch t-1; results: kairos results t-1)" in plain.err


# --- stop -----------------------------------------------------------------------------


def _invocation(status: int, *instances: tuple[str, int]) -> invocation_pb2.Invocation:
    return invocation_pb2.Invocation(
        invoke_id="t-1",
        invocation_status=status,  # type: ignore[arg-type]
        instances=[
            invocation_pb2.InvocationInstance(instance_id=i, invocation_status=s)  # type: ignore[arg-type]
            for i, s in instances
        ],
    )


async def test_stop_on_a_finished_invocation_says_so(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/DescribeInvocations",
        invocation_pb2.DescribeInvocationsResponse(
            invocations=[_invocation(common_pb2.INVOCATION_STATUS_SUCCESS)], total_count=1
        ),
    )
    outcome = await kairos("stop", "t-1", "--server", api.address)
    assert (outcome.code, outcome.out) == (0, "")
    assert outcome.err == "invocation t-1 is already finished (Success): nothing to stop\n"
    assert api.requests("InvocationService/StopInvocation") == []


async def test_stop_of_finished_instances_of_a_running_invocation_says_so(
    api: ScriptedServer,
) -> None:
    running = _invocation(
        common_pb2.INVOCATION_STATUS_RUNNING,
        ("i-1", common_pb2.INVOCATION_STATUS_FAILED),
        ("i-2", common_pb2.INVOCATION_STATUS_RUNNING),
    )
    api.reply(
        "InvocationService/DescribeInvocations",
        invocation_pb2.DescribeInvocationsResponse(invocations=[running], total_count=1),
    )
    api.reply("InvocationService/StopInvocation", invocation_pb2.StopInvocationResponse())
    done = await kairos("stop", "t-1", "-i", "i-1", "--server", api.address)
    assert done.err == "invocation t-1 has already finished on i-1: nothing to stop\n"
    assert api.requests("InvocationService/StopInvocation") == []

    stopped = await kairos("stop", "t-1", "--server", api.address)
    assert (stopped.code, stopped.out) == (0, "stop requested for t-1 (all instances)\n")
    assert len(api.requests("InvocationService/StopInvocation")) == 1


# --- parameters not given -----------------------------------------------------------


async def test_run_warns_of_declared_parameters_not_given(api: ScriptedServer) -> None:
    api.reply(
        "InvocationService/RunCommand",
        invocation_pb2.RunCommandResponse(command_id="c-1", invoke_id="t-1"),
    )
    script = "echo {{who}} {{ where }} {{ACS::InstanceId}}"
    outcome = await kairos(
        "run", "--server", api.address, "-i", "i-1", "--enable-parameter", "-p", "who=me",
        "--", script,
    )  # fmt: skip
    assert outcome.code == 0
    assert (
        "warning: parameter not given: where (substituted as empty; give values with "
        "-p NAME=VALUE)\n"
    ) in outcome.err
    # The server still decides: the request went as given.
    [request] = api.requests("InvocationService/RunCommand")
    assert dict(request.parameters) == {"who": "me"}

    everything = await kairos(
        "run", "--server", api.address, "-i", "i-1", "--enable-parameter", "-p", "who=me",
        "-p", "where=here", "--", script,
    )  # fmt: skip
    assert "warning" not in everything.err


async def test_invoke_warns_of_the_saved_commands_parameters_not_given(
    api: ScriptedServer,
) -> None:
    api.reply(
        "CommandService/DescribeCommands",
        command_pb2.DescribeCommandsResponse(
            commands=[
                command_pb2.Command(
                    command_id="c-1", enable_parameter=True, parameter_names=["a", "b", "c"]
                )
            ],
            total_count=1,
        ),
    )
    api.reply("InvocationService/InvokeCommand", invocation_pb2.InvokeCommandResponse())
    outcome = await kairos("invoke", "c-1", "-i", "i-1", "-p", "b=2", "--server", api.address)
    assert outcome.code == 0
    assert "warning: parameters not given: a, c (substituted as empty" in outcome.err
    assert len(api.requests("InvocationService/InvokeCommand")) == 1
