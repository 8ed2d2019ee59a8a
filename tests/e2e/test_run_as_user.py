"""Scripts run as another user by a real agent process, many times over."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.local import kairos_command, until_online
from tests.e2e.cluster import START_TIMEOUT, finished, results, running_cluster

pytestmark = pytest.mark.e2e

S = common_pb2
RUNS = 30


async def test_every_run_as_another_user_succeeds_in_a_threaded_agent(
    database_url: str, tmp_path: Path
) -> None:
    # The agent is a real process with gRPC's threads; a user switch done by Python's
    # subprocess forked it and crashed the child (exit 139) in about one run in four.
    nobody = pwd.getpwnam("nobody")
    async with running_cluster(
        tmp_path, database_url, server_flags=[], agents={"i-1": []}
    ) as cluster:
        kairos = cluster.client()
        outcomes = []
        for _ in range(RUNS):
            response = await kairos.invocations.RunCommand(
                invocation_pb2.RunCommandRequest(
                    type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                    command_content="id -u; id -g",
                    instance_ids=["i-1"],
                    username="nobody",
                )
            )
            await finished(kairos, response.invoke_id)
            result = (await results(kairos, response.invoke_id))["i-1"]
            outcomes.append((result.invocation_status, result.exit_code, result.output))
    expected = (S.INVOCATION_STATUS_SUCCESS, 0, f"{nobody.pw_uid}\n{nobody.pw_gid}\n".encode())
    assert outcomes == [expected] * RUNS


NAMELESS_UID = 54321
"""A uid the name service has no entry for: a container run with an arbitrary uid."""


def nameless_command(command: list[str]) -> list[str]:
    """``command`` run as ``NAMELESS_UID`` (setpriv, util-linux), without supplementary groups."""
    ids = [f"--reuid={NAMELESS_UID}", f"--regid={NAMELESS_UID}", "--clear-groups"]
    return ["setpriv", *ids, *command]


def nameless_can_run_kairos() -> str | None:
    """Why this machine cannot run the agent as ``NAMELESS_UID``, or None if it can."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return "needs root and setpriv"
    with contextlib.suppress(KeyError):
        pwd.getpwuid(NAMELESS_UID)
        return f"uid {NAMELESS_UID} has an entry here"
    probe = subprocess.run(
        nameless_command([sys.executable, "-c", "import scheduler.cli"]),
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        return "this checkout is not readable by an unprivileged uid"
    return None


async def test_an_agent_whose_uid_has_no_account_runs_scripts_as_itself(
    database_url: str, tmp_path: Path
) -> None:
    if (why := nameless_can_run_kairos()) is not None:
        pytest.skip(why)
    home = Path(tempfile.mkdtemp(prefix="kairos-nameless-"))
    try:
        os.chown(home, NAMELESS_UID, NAMELESS_UID)
        async with running_cluster(tmp_path, database_url, server_flags=[], agents={}) as cluster:
            command = ["agent", "--server", cluster.address, "--instance-id", "i-1"]
            cluster.supervisor.spawn(
                "agent i-1",
                nameless_command(kairos_command([*command, "--state-dir", str(home / "state")])),
                tmp_path / "agent.log",
                env={"HOME": str(home)},
            )
            await until_online(cluster.address, ["i-1"], START_TIMEOUT)
            kairos = cluster.client()

            async def run(script: str, username: str = "") -> invocation_pb2.InvocationResult:
                response = await kairos.invocations.RunCommand(
                    invocation_pb2.RunCommandRequest(
                        type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                        command_content=script,
                        instance_ids=["i-1"],
                        username=username,
                    )
                )
                await finished(kairos, response.invoke_id)
                return (await results(kairos, response.invoke_id))["i-1"]

            own = await run('id -u; echo "$USER $HOME"; pwd')
            other = await run("id -u", username="nobody")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    assert (own.invocation_status, own.exit_code) == (S.INVOCATION_STATUS_SUCCESS, 0)
    uid = NAMELESS_UID
    assert own.output.decode() == f"{uid}\n{uid} {home}\n{home}\n"
    assert other.invocation_status == S.INVOCATION_STATUS_INVALID
    assert other.error_code == "UserNotPermitted"
    assert f"the agent runs as '{uid}', not root" in other.error_info
