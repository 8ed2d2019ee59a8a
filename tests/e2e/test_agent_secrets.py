"""A root script finds the agent token in nothing it can see of the agent (issue 11).

Real server and agent processes. The script walks up from itself to pid 1 (each
process's ``PPid`` in ``/proc/PID/status``) and looks for the token in every
``/proc/PID/environ`` and ``/proc/PID/cmdline`` on the way, its own included. The
token is given to the agent each way there is: the environment, ``--token`` and
``--token-file``; the agent comes online with it each time, so it was used.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from kairos.v1 import common_pb2, invocation_pb2
from scheduler.local import connect, until_online
from tests.e2e.cluster import Cluster, finished, results, running_cluster

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="reading every ancestor's environ needs root"),
]

CLIENT_TOKEN = "client-secrets"
AUTH = """
[[tokens]]
token = "{client}"
account = "111"
region = "cn-hangzhou"
role = "client"

[[tokens]]
token = "{agent}"
account = "111"
region = "cn-hangzhou"
role = "agent"
"""

# The token in two halves, so that the script's own text holds it nowhere. Pure bash
# matching: no child process (grep) gets the token in its arguments.
ANCESTORS = r"""
needle='FIRST''SECOND'
look() {
    if ! content=$(tr '\0' '\n' 2>/dev/null < "/proc/$1/$2"); then
        echo "$1 $2 unreadable"
    elif [[ $content == *"$needle"* ]]; then
        echo "$1 $2 FOUND"
    else
        echo "$1 $2 clean"
    fi
}
pid=$$
while [ "$pid" -gt 0 ]; do
    look "$pid" environ
    look "$pid" cmdline
    pid=$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")
done
"""


def searched(token: str) -> str:
    """The script that looks for ``token`` in its ancestors and itself."""
    half = len(token) // 2
    return ANCESTORS.replace("FIRST", token[:half]).replace("SECOND", token[half:])


@pytest.mark.parametrize("way", ["env", "flag", "file"])
async def test_a_root_script_finds_no_token_in_its_ancestors(
    database_url: str, tmp_path: Path, way: str
) -> None:
    token = f"agent-{secrets.token_hex(16)}"
    auth_file = tmp_path / "auth.toml"
    auth_file.write_text(AUTH.format(client=CLIENT_TOKEN, agent=token))
    flags = ["--auth-file", str(auth_file)]
    async with running_cluster(tmp_path, database_url, server_flags=flags, agents={}) as cluster:
        agent_pid = await start_agent(cluster, tmp_path, token, way)
        kairos = connect(cluster.address, CLIENT_TOKEN)
        response = await kairos.invocations.RunCommand(
            invocation_pb2.RunCommandRequest(
                type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
                command_content=searched(token),
                instance_ids=["i-secrets"],
            ),
            metadata=kairos.metadata,
        )
        await finished(kairos, response.invoke_id)
        result = (await results(kairos, response.invoke_id))["i-secrets"]

    assert result.invocation_status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    output = result.output.decode().splitlines()
    looks = {(int(pid), what): verdict for pid, what, verdict in map(str.split, output)}
    assert [where for where, verdict in looks.items() if verdict == "FOUND"] == [], looks
    # A process the script cannot read (pid 1 in some sandboxes) hides nothing from it;
    # the script itself and the agent must have been read, and the walk reached pid 1.
    (script_pid, _) = next(iter(looks))
    for pid in (script_pid, agent_pid):
        assert looks[pid, "environ"] == looks[pid, "cmdline"] == "clean", looks
    assert (1, "cmdline") in looks


async def start_agent(cluster: Cluster, tmp_path: Path, token: str, way: str) -> int:
    """Start agent i-secrets with ``token`` given ``way``; wait until it is online; its pid."""
    flags: list[str] = []
    env: dict[str, str] = {}
    if way == "env":
        env["KAIROS_AGENT_TOKEN"] = token
    elif way == "flag":
        flags += ["--token", token]
    else:
        token_file = tmp_path / "agent-token"
        token_file.write_text(f"{token}\n")
        token_file.chmod(0o600)
        flags += ["--token-file", str(token_file)]
    agent = cluster.supervisor.start_agent(
        "i-secrets", cluster.address, tmp_path / "agents" / "i-secrets", flags=flags, env=env
    )
    # Online only if the server took the token: the agent connected with it.
    await cluster.supervisor.supervise(
        until_online(cluster.address, ["i-secrets"], 30, token=CLIENT_TOKEN)
    )
    assert agent.popen is not None
    return agent.popen.pid
