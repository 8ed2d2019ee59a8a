"""End to end: RunCommand in a container, found by a real agent process through small real
Docker and CRI runtimes on unix sockets, runs inside the namespaces the test made."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kairos.v1 import common_pb2, invocation_pb2
from tests.agent.container_runtimes import Box, box_id, cri_runtime, docker_runtime, socket_dir
from tests.agent.target_namespaces import HOSTNAME, MARKER, TargetNamespaces, skip_reason
from tests.e2e.cluster import Cluster, finished, results, running_cluster

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or ""),
]

S = common_pb2
PROBE = f"hostname; cat {MARKER}"


@pytest.fixture
async def target() -> AsyncIterator[TargetNamespaces]:
    namespaces = await TargetNamespaces.start()
    yield namespaces
    await namespaces.close()


async def _run(cluster: Cluster, **fields: object) -> invocation_pb2.InvocationResult:
    kairos = cluster.client()
    response = await kairos.invocations.RunCommand(
        invocation_pb2.RunCommandRequest(
            type=S.COMMAND_TYPE_RUN_SHELL_SCRIPT,
            command_content=PROBE,
            instance_ids=["i-1"],
            **fields,  # type: ignore[arg-type]
        )
    )
    await finished(kairos, response.invoke_id)
    return (await results(kairos, response.invoke_id))["i-1"]


async def test_run_command_in_a_docker_and_a_cri_container(
    database_url: str, tmp_path: Path, target: TargetNamespaces
) -> None:
    with socket_dir() as sockets:
        docker_socket, cri_socket = sockets / "docker.sock", sockets / "cri.sock"
        async with (
            docker_runtime(docker_socket, [Box(box_id(1), "web", target.pid)]) as requests,
            cri_runtime(cri_socket, [Box(box_id(2), "api", target.pid)]),
            running_cluster(
                tmp_path,
                database_url,
                server_flags=[],
                agents={
                    "i-1": ["--docker-socket", str(docker_socket), "--cri-socket", str(cri_socket)]
                },
            ) as cluster,
        ):
            inside = f"{HOSTNAME}\ninside\n".encode()
            by_docker_id = await _run(cluster, container_id=box_id(1))
            assert by_docker_id.invocation_status == S.INVOCATION_STATUS_SUCCESS, by_docker_id
            assert by_docker_id.output == inside
            assert requests == [f"/containers/{box_id(1)}/json"]

            by_cri_name = await _run(cluster, container_name="api")
            assert by_cri_name.invocation_status == S.INVOCATION_STATUS_SUCCESS, by_cri_name
            assert by_cri_name.output == inside

            missing = await _run(cluster, container_id="cri-o://" + box_id(9))
            assert (missing.invocation_status, missing.error_code) == (
                S.INVOCATION_STATUS_INVALID,
                "ContainerNotFound",
            )
            assert box_id(9) in missing.error_info
