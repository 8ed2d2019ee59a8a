"""Host mode end to end: a real `kairos agent --host-root ROOT` process, connected to a real
server, runs scripts in the namespaces ROOT/proc/1/ns names, as users of ROOT/etc/passwd.

The namespaces are made by the test with ``unshare`` (hostname ``kairos-target``, a
marker file on a tmpfs only they see) and bound at ``ROOT/proc/1/ns`` as a node's
PID 1 shows them to a DaemonSet pod that mounts the node's root at ROOT.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.namespaces import KINDS
from kairos.v1 import common_pb2, file_pb2, fleet_pb2, invocation_pb2
from tests.e2e.cluster import Cluster, finished, results

from .target_namespaces import HOSTNAME, MARKER, TargetNamespaces, skip_reason

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]

# A user of the node only: the agent's machine has no such name. Its uid is one
# that exists everywhere (nobody's), its groups are the node's.
NODE_USER = "kairos-node-user"
PRIMARY_GID = 4242
SUPPLEMENTARY_GID = 4343
HOME = "/run/kairos-target"  # exists in the target's mount namespace (and under ROOT)
NODE_ZONE = "Pacific/Chatham"

# What tells the target's namespaces and the node's user from the agent's own.
_PROBE = "\n".join(
    [
        "hostname",
        f"cat {MARKER}",
        "pwd",
        "id -u",
        "id -g",
        "id -G",
        *(f"readlink /proc/self/ns/{kind}" for kind, _ in KINDS),
    ]
)


@pytest.fixture
async def target() -> AsyncIterator[TargetNamespaces]:
    namespaces = await TargetNamespaces.start()
    yield namespaces
    await namespaces.close()


def _node_root(root: Path, target: TargetNamespaces) -> Path:
    """ROOT as a DaemonSet pod sees the node's /: its PID 1's namespaces, users, a home."""
    target.expose(root)
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        f"{NODE_USER}:x:65534:{PRIMARY_GID}:Node user:{HOME}:/bin/sh\n"
    )
    (root / "etc" / "group").write_text(
        f"node-users:x:{PRIMARY_GID}:\nnode-ops:x:{SUPPLEMENTARY_GID}:other,{NODE_USER}\n"
    )
    (root / HOME.lstrip("/")).mkdir(parents=True)
    (root / "var").mkdir()
    (root / "var" / "run").symlink_to("/run")  # absolute, as on Debian
    # The node's zone, which the agent's container (UTC or another) does not share.
    (root / "etc" / "localtime").symlink_to(f"/usr/share/zoneinfo/{NODE_ZONE}")
    return root


@pytest.fixture
async def cluster(database_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    cluster = Cluster(root=tmp_path / "cluster", database_url=database_url)
    try:
        await cluster.start_server()
        yield cluster
    finally:
        cluster.stop()
        # pytest shows captured output only for failing tests: the logs explain them.
        print(cluster.logs())


async def _run(cluster: Cluster, **fields: object) -> invocation_pb2.InvocationResult:
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            instance_ids=["i-node"],
            **fields,  # type: ignore[arg-type]
        )
    )
    await finished(kairos, response.invoke_id)
    return (await results(kairos, response.invoke_id))["i-node"]


async def test_a_host_mode_agent_runs_scripts_in_the_nodes_namespaces_as_its_users(
    cluster: Cluster, target: TargetNamespaces, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _node_root(tmp_path / "host", target)
    monkeypatch.delenv("TZ", raising=False)  # TZ would win over the node's /etc/localtime
    agent = await cluster.start_agent("i-node", "--host-root", str(root))
    # It says what it entered: the target's namespaces, by their identities.
    chosen = " ".join(target.namespace(kind) for kind, _ in KINDS)
    logged = f"host mode: scripts run in the namespaces of the node's PID 1 at {root}/proc/1/ns"
    assert any(f"{logged} ({chosen})" in line for line in agent.log.read_text().splitlines())
    status = await cluster.client().fleet.DescribeAgentStatus(
        fleet_pb2.DescribeAgentStatusRequest(instance_ids=["i-node"])
    )
    assert [i.time_zone for i in status.instances] == [NODE_ZONE]

    result = await _run(cluster, command_content=_PROBE, username=NODE_USER)
    assert result.invocation_status == common_pb2.INVOCATION_STATUS_SUCCESS, str(result)
    assert result.output.decode().splitlines() == [
        HOSTNAME,
        "inside",
        HOME,
        "65534",
        str(PRIMARY_GID),
        f"{PRIMARY_GID} {SUPPLEMENTARY_GID}",
        *(target.namespace(kind) for kind, _ in KINDS),
    ]

    # A user of the agent's machine that the node does not have is refused.
    refused = await _run(cluster, command_content="id", username="nobody")
    assert (refused.invocation_status, refused.error_code) == (
        common_pb2.INVOCATION_STATUS_INVALID,
        "AccountNotExists",
    )


async def test_a_host_mode_agent_writes_sent_files_into_the_nodes_filesystem(
    cluster: Cluster, target: TargetNamespaces, tmp_path: Path
) -> None:
    root = _node_root(tmp_path / "host", target)
    await cluster.start_agent("i-node", "--host-root", str(root))
    kairos = cluster.client()
    response = await kairos.files.SendFile(
        file_pb2.SendFileRequest(
            instance_ids=["i-node"],
            name="motd",
            target_dir="/var/run/kairos-sent",  # the node's /run, through its link
            content="maintained by kairos\n",
            file_mode="0640",
            file_owner=NODE_USER,  # the node's user and group, unknown to the agent
            file_group="node-ops",
        )
    )
    await finished(kairos, response.invoke_id)
    result = (await results(kairos, response.invoke_id))["i-node"]
    assert result.invocation_status == common_pb2.INVOCATION_STATUS_SUCCESS, str(result)
    written = root / "run" / "kairos-sent" / "motd"
    assert written.read_text() == "maintained by kairos\n"
    status = written.stat()
    assert (status.st_uid, status.st_gid, status.st_mode & 0o7777) == (
        65534,
        SUPPLEMENTARY_GID,
        0o640,
    )
