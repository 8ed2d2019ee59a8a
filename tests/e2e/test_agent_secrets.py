"""A root script finds the agent token and the activation code in nothing it can see
of the agent (issue 11).

Real server and agent processes. The script walks up from itself to pid 1 (each
process's ``PPid`` in ``/proc/PID/status``) and looks for the secret in every
``/proc/PID/environ`` and ``/proc/PID/cmdline`` on the way, its own included. The
secret is given to the agent each way there is: the environment, the flag and the
file; the agent comes online with it each time, so it was used.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from kairos.v1 import activation_pb2, common_pb2, invocation_pb2
from scheduler.local import Kairos, connect, until_online
from tests.e2e.cluster import Cluster, credential_in, finished, results, running_cluster

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

# The secret in two halves, so that the script's own text holds it nowhere. Pure bash
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


def searched(secret: str) -> str:
    """The script that looks for ``secret`` in its ancestors and itself."""
    half = len(secret) // 2
    return ANCESTORS.replace("FIRST", secret[:half]).replace("SECOND", secret[half:])


@pytest.mark.parametrize("way", ["env", "flag", "file"])
async def test_a_root_script_finds_no_token_in_its_ancestors(
    database_url: str, tmp_path: Path, way: str
) -> None:
    token = f"agent-{secrets.token_hex(16)}"
    async with running_cluster(
        tmp_path, database_url, server_flags=auth_flags(tmp_path, token), agents={}
    ) as cluster:
        agent_pid = await start_agent(cluster, tmp_path, token, way)
        looks = await ancestors_searched(cluster, "i-secrets", token)
    assert_found_nowhere(looks, agent_pid)


@pytest.mark.parametrize("way", ["env", "flag", "file", "env and token flag"])
async def test_a_root_script_finds_no_activation_code_in_its_ancestors(
    database_url: str, tmp_path: Path, way: str
) -> None:
    token = f"agent-{secrets.token_hex(16)}"
    async with running_cluster(
        tmp_path, database_url, server_flags=auth_flags(tmp_path, token), agents={}
    ) as cluster:
        kairos = connect(cluster.address, CLIENT_TOKEN)
        created = await kairos.activations.CreateActivation(
            activation_pb2.CreateActivationRequest(instance_count=1), metadata=kairos.metadata
        )
        code = created.activation_code
        flags = ["--activation-id", created.activation_id]
        env: dict[str, str] = {}
        secrets_given = [code]
        if way.startswith("env"):
            env["KAIROS_ACTIVATION_CODE"] = code
        if way == "env and token flag":  # both handed over by one re-execution
            flags += ["--token", token]
            secrets_given.append(token)
        elif way == "flag":
            flags += ["--activation-code", code]
        elif way == "file":
            flags += ["--activation-code-file", str(secret_file(tmp_path, code))]
        state_dir = tmp_path / "managed"
        agent = cluster.start_managed_agent(state_dir, *flags, env=env)
        # Registered with the code, so the agent had it.
        instance_id = (await credential_in(state_dir))["instance_id"]
        await cluster.supervisor.supervise(
            until_online(cluster.address, [instance_id], 30, token=CLIENT_TOKEN)
        )
        searches = [await ancestors_searched(cluster, instance_id, s) for s in secrets_given]
    assert agent.popen is not None
    for looks in searches:
        assert_found_nowhere(looks, agent.popen.pid)


def auth_flags(tmp_path: Path, agent_token: str) -> list[str]:
    """Server flags for an auth file with the test's client token and ``agent_token``."""
    auth_file = tmp_path / "auth.toml"
    auth_file.write_text(AUTH.format(client=CLIENT_TOKEN, agent=agent_token))
    return ["--auth-file", str(auth_file)]


def secret_file(tmp_path: Path, secret: str) -> Path:
    """A file of mode 0600 holding ``secret``."""
    path = tmp_path / "secret"
    path.write_text(f"{secret}\n")
    path.chmod(0o600)
    return path


async def ancestors_searched(
    cluster: Cluster, instance_id: str, secret: str
) -> dict[tuple[int, str], str]:
    """Run the search for ``secret`` on ``instance_id``: (pid, file) → its verdict."""
    kairos: Kairos = connect(cluster.address, CLIENT_TOKEN)
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content=searched(secret),
            instance_ids=[instance_id],
        ),
        metadata=kairos.metadata,
    )
    await finished(kairos, response.invoke_id)
    result = (await results(kairos, response.invoke_id))[instance_id]
    assert result.invocation_status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    output = result.output.decode().splitlines()
    return {(int(pid), what): verdict for pid, what, verdict in map(str.split, output)}


def assert_found_nowhere(looks: dict[tuple[int, str], str], agent_pid: int) -> None:
    """No process held the secret, and the script did read itself, the agent and pid 1."""
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
        flags += ["--token-file", str(secret_file(tmp_path, token))]
    agent = cluster.supervisor.start_agent(
        "i-secrets", cluster.address, tmp_path / "agents" / "i-secrets", flags=flags, env=env
    )
    # Online only if the server took the token: the agent connected with it.
    await cluster.supervisor.supervise(
        until_online(cluster.address, ["i-secrets"], 30, token=CLIENT_TOKEN)
    )
    assert agent.popen is not None
    return agent.popen.pid
