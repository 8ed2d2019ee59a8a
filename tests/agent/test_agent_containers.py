"""Scripts run in containers found through real (small) Docker and CRI runtimes on unix
sockets; each Cloud Assistant container error code (issue 13 item 2).

The containers' first processes are namespaces made with ``unshare``
(``target_namespaces.py``): a script that prints the hostname ``kairos-target`` and
finds the marker file ran inside them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent.containers.locate import Locator
from agent.host_root import HostRoot
from kairos.v1 import common_pb2

from .agent_harness import Harness, eventually, shell_task
from .container_runtimes import Box, box_id, cri_runtime, docker_runtime, socket_dir
from .target_namespaces import HOSTNAME, MARKER, TargetNamespaces, skip_reason

S = common_pb2
PROBE = f"hostname; cat {MARKER}; pwd; id -u"
INSIDE = f"{HOSTNAME}\ninside\n/\n0\n".encode()
needs_namespaces = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")
# A pid no process has (above the kernel's pid_max): a container whose process is gone.
GONE_PID = 2**23


@pytest.fixture
def sockets() -> Iterator[Path]:
    with socket_dir() as directory:
        yield directory


@pytest.fixture
async def target() -> AsyncIterator[TargetNamespaces]:
    if skip_reason() is not None:
        pytest.skip(skip_reason() or "")
    namespaces = await TargetNamespaces.start()
    yield namespaces
    await namespaces.close()


@pytest.fixture
async def harness(sockets: Path, tmp_path: Path) -> AsyncIterator[Harness]:
    made = Harness(
        tmp_path / "state",
        containers=Locator.of_sockets(sockets / "docker.sock", [sockets / "cri.sock"]),
    )
    yield made
    await made.executions.close()


async def _invalid(harness: Harness, code: str, *mentions: str, **fields: object) -> None:
    marker = harness.spool.scripts.parent / "ran"
    result = await harness.run(shell_task(f"touch {marker}", **fields))
    assert (result.status, result.error_code) == (S.INVOCATION_STATUS_INVALID, code), result
    for text in mentions:
        assert text in result.error_info, result.error_info
    assert not marker.exists()


# Running inside --------------------------------------------------------------------------


@needs_namespaces
@pytest.mark.parametrize("prefix", ["", "docker://"])
async def test_a_docker_container_by_id(
    harness: Harness, sockets: Path, target: TargetNamespaces, prefix: str
) -> None:
    boxes = [Box(box_id(1), "web", target.pid)]
    async with docker_runtime(sockets / "docker.sock", boxes) as requests:
        result = await harness.run(shell_task(PROBE, container_id=prefix + box_id(1)))
    assert result.status == S.INVOCATION_STATUS_SUCCESS, result
    assert result.output == INSIDE
    assert requests == [f"/containers/{box_id(1)}/json"]


@needs_namespaces
async def test_a_docker_container_by_name(
    harness: Harness, sockets: Path, target: TargetNamespaces
) -> None:
    # Docker's filter also matches "web-old": only the exact name counts.
    boxes = [Box(box_id(1), "web-old", os.getpid()), Box(box_id(2), "web", target.pid)]
    async with docker_runtime(sockets / "docker.sock", boxes):
        result = await harness.run(shell_task(PROBE, container_name="web"))
    assert (result.status, result.output) == (S.INVOCATION_STATUS_SUCCESS, INSIDE), result


@needs_namespaces
@pytest.mark.parametrize("prefix", ["containerd://", "cri-o://"])
async def test_a_cri_container_by_id(
    harness: Harness, sockets: Path, target: TargetNamespaces, prefix: str
) -> None:
    async with cri_runtime(sockets / "cri.sock", [Box(box_id(1), "web", target.pid)]):
        result = await harness.run(shell_task(PROBE, container_id=prefix + box_id(1)))
    assert (result.status, result.output) == (S.INVOCATION_STATUS_SUCCESS, INSIDE), result


@needs_namespaces
async def test_a_name_docker_does_not_know_is_found_in_the_cri(
    harness: Harness, sockets: Path, target: TargetNamespaces
) -> None:
    # Kubernetes keeps a restarted container's exited attempt: the running one is meant.
    boxes = [Box(box_id(1), "web", 0, running=False), Box(box_id(2), "web", target.pid)]
    async with (
        docker_runtime(sockets / "docker.sock", [Box(box_id(3), "db", os.getpid())]),
        cri_runtime(sockets / "cri.sock", boxes),
    ):
        result = await harness.run(shell_task(PROBE, container_name="web"))
    assert (result.status, result.output) == (S.INVOCATION_STATUS_SUCCESS, INSIDE), result


@needs_namespaces
async def test_an_id_and_its_name_together(
    harness: Harness, sockets: Path, target: TargetNamespaces
) -> None:
    async with cri_runtime(sockets / "cri.sock", [Box(box_id(1), "web", target.pid)]):
        task = shell_task(PROBE, container_id="containerd://" + box_id(1), container_name="web")
        result = await harness.run(task)
    assert (result.status, result.output) == (S.INVOCATION_STATUS_SUCCESS, INSIDE), result


@needs_namespaces
async def test_username_and_working_dir_do_not_apply_in_a_container(
    harness: Harness, sockets: Path, target: TargetNamespaces
) -> None:
    # Neither exists in the container (nor on this host): Cloud Assistant ignores both.
    async with docker_runtime(sockets / "docker.sock", [Box(box_id(1), "web", target.pid)]):
        task = shell_task(
            PROBE, container_id=box_id(1), username="no-such-user-kairos", working_dir="/nope"
        )
        result = await harness.run(task)
    assert (result.status, result.output) == (S.INVOCATION_STATUS_SUCCESS, INSIDE), result


@needs_namespaces
async def test_the_script_has_the_containers_environment_not_the_agents(
    sockets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IN_CONTAINER", "yes")  # the container's first process inherits it
    target = await TargetNamespaces.start()
    monkeypatch.delenv("IN_CONTAINER")
    monkeypatch.setenv("AGENT_ONLY", "yes")  # the agent's, read when its runner is made
    harness = Harness(
        tmp_path / "agent", containers=Locator.of_sockets(sockets / "docker.sock", [])
    )
    try:
        async with docker_runtime(sockets / "docker.sock", [Box(box_id(1), "web", target.pid)]):
            task = shell_task(
                'echo "${IN_CONTAINER:-unset} ${AGENT_ONLY:-unset}"', container_id=box_id(1)
            )
            result = await harness.run(task)
    finally:
        await harness.executions.close()
        await target.close()
    assert (result.status, result.output) == (S.INVOCATION_STATUS_SUCCESS, b"yes unset\n")


@needs_namespaces
async def test_in_host_mode_a_container_run_enters_the_container_not_the_node(
    sockets: Path, tmp_path: Path, target: TargetNamespaces
) -> None:
    node = await TargetNamespaces.start()  # the node's PID 1, as host mode sees it
    node_uts = node.namespace("uts")
    root = node.expose(tmp_path / "host")
    (root / "etc").mkdir()
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    harness = Harness(
        tmp_path / "agent",
        machine=HostRoot(root),
        containers=Locator.of_sockets(sockets / "docker.sock", []),
    )
    try:
        async with docker_runtime(sockets / "docker.sock", [Box(box_id(1), "web", target.pid)]):
            in_container = await harness.run(
                shell_task("readlink /proc/self/ns/uts", container_id=box_id(1))
            )
        on_node = await harness.run(shell_task("readlink /proc/self/ns/uts"))
    finally:
        await harness.executions.close()
        await node.close()
    assert in_container.output.decode().strip() == target.namespace("uts"), in_container
    assert on_node.output.decode().strip() == node_uts != target.namespace("uts"), on_node


@needs_namespaces
async def test_a_timeout_in_a_container_ends_timeout(
    harness: Harness, sockets: Path, target: TargetNamespaces
) -> None:
    async with docker_runtime(sockets / "docker.sock", [Box(box_id(1), "web", target.pid)]):
        task = shell_task("echo started; sleep 300", container_id=box_id(1), timeout=1)
        result = await harness.run(task)
    assert (result.status, result.output) == (S.INVOCATION_STATUS_TIMEOUT, b"started\n")


@needs_namespaces
async def test_a_dry_run_finds_the_container_and_runs_nothing(
    harness: Harness, sockets: Path, target: TargetNamespaces
) -> None:
    async with docker_runtime(sockets / "docker.sock", [Box(box_id(1), "web", target.pid)]):
        marker = harness.spool.scripts.parent / "ran"
        task = shell_task(f"touch {marker}", container_name="web", dry_run=True)
        assert (await harness.run(task)).status == S.INVOCATION_STATUS_SUCCESS
        await _invalid(harness, "ContainerNotFound", "db", container_name="db", dry_run=True)
    assert not marker.exists()


async def test_a_stop_while_the_runtime_is_asked_cancels_the_task(
    harness: Harness, sockets: Path
) -> None:
    gate = threading.Event()
    boxes = [Box(box_id(1), "web", os.getpid())]
    async with docker_runtime(sockets / "docker.sock", boxes, gate) as requests:
        task = shell_task("true", container_id=box_id(1))
        harness.executions.on_task(task)
        await eventually(lambda: bool(requests), "the agent to ask Docker")
        harness.executions.on_stop(task.execution_id)
        result = (await harness.expect("result", task.execution_id)).result
    assert (result.status, result.error_code) == (
        S.INVOCATION_STATUS_CANCELLED,
        "ExecutionCancelled",
    )
    assert not any(m.WhichOneof("kind") == "started" for m in harness.messages)


# Cloud Assistant's codes ----------------------------------------------------------------


async def test_container_not_found(harness: Harness, sockets: Path) -> None:
    async with (
        docker_runtime(sockets / "docker.sock", [Box(box_id(1), "web", os.getpid())]),
        cri_runtime(sockets / "cri.sock", [Box(box_id(2), "api", os.getpid())]),
    ):
        await _invalid(harness, "ContainerNotFound", box_id(9), container_id=box_id(9))
        await _invalid(
            harness, "ContainerNotFound", "cri.sock", container_id="cri-o://" + box_id(1)
        )
        await _invalid(harness, "ContainerNotFound", "db", "docker.sock", container_name="db")


@pytest.mark.parametrize("runtime", ["docker", "cri"])
async def test_container_state_abnormal(harness: Harness, sockets: Path, runtime: str) -> None:
    boxes = [Box(box_id(1), "web", 0, running=False), Box(box_id(2), "gone", GONE_PID)]
    serve = (
        docker_runtime(sockets / "docker.sock", boxes)
        if runtime == "docker"
        else cri_runtime(sockets / "cri.sock", boxes)
    )
    prefix = "" if runtime == "docker" else "containerd://"
    async with serve:
        await _invalid(
            harness, "ContainerStateAbnormal", "not running", container_id=prefix + box_id(1)
        )
        await _invalid(harness, "ContainerStateAbnormal", "web", container_name="web")
        # Running, says the runtime, but its process is not to be seen.
        await _invalid(
            harness, "ContainerStateAbnormal", str(GONE_PID), container_id=prefix + box_id(2)
        )


def _hidden_from_root() -> bool:
    """Whether even root may not look at /proc/1's namespaces here (a confined sandbox)."""
    try:
        Path("/proc/1/ns/mnt").exists()
    except PermissionError:
        return True
    return False


@pytest.mark.skipif(not _hidden_from_root(), reason="this machine lets root see /proc/1/ns")
async def test_a_container_whose_namespaces_the_agent_may_not_see(
    harness: Harness, sockets: Path
) -> None:
    # Before, the PermissionError escaped the task: no result, and the execution stayed
    # Running on the server until the stream happened to reconnect.
    async with docker_runtime(sockets / "docker.sock", [Box(box_id(1), "init", 1)]):
        await _invalid(
            harness,
            "ContainerStateAbnormal",
            "may not look at its process 1",
            container_name="init",
        )


async def test_container_name_duplicated(harness: Harness, sockets: Path) -> None:
    # Two pods with a container of one name, both running.
    boxes = [Box(box_id(1), "web", os.getpid()), Box(box_id(2), "web", os.getpid())]
    async with cri_runtime(sockets / "cri.sock", boxes):
        await _invalid(
            harness, "ContainerNameDuplicated", box_id(1), box_id(2), container_name="web"
        )


async def test_container_name_and_id_not_match(harness: Harness, sockets: Path) -> None:
    async with docker_runtime(sockets / "docker.sock", [Box(box_id(1), "web", os.getpid())]):
        await _invalid(
            harness,
            "ContainerNameAndIdNotMatch",
            "'web'",
            "'db'",
            container_id=box_id(1),
            container_name="db",
        )


async def test_unsupported_container_runtime(harness: Harness, sockets: Path) -> None:
    async with docker_runtime(sockets / "docker.sock", [Box(box_id(1), "web", os.getpid())]):
        await _invalid(
            harness,
            "UnsupportedContainerRuntime",
            "podman://",
            container_id="podman://" + box_id(1),
        )


async def test_container_connect_failed(harness: Harness, sockets: Path) -> None:
    # No runtime listens on the agent's sockets; one is a file that is no socket.
    (sockets / "cri.sock").write_text("")
    await _invalid(
        harness, "ContainerConnectFailed", box_id(1), "docker.sock", container_id=box_id(1)
    )
    await _invalid(
        harness,
        "ContainerConnectFailed",
        "cri.sock",
        container_id="containerd://" + box_id(1),
    )
    await _invalid(
        harness, "ContainerConnectFailed", "docker.sock", "cri.sock", container_name="web"
    )


async def test_a_name_is_not_found_when_only_one_runtime_answers(
    harness: Harness, sockets: Path
) -> None:
    # Docker is down, the CRI answers and does not know it: not found, not a failure,
    # and only the runtime that answered is named.
    async with cri_runtime(sockets / "cri.sock", [Box(box_id(1), "api", os.getpid())]):
        result = await harness.run(shell_task("true", container_name="web"))
    assert (result.status, result.error_code) == (S.INVOCATION_STATUS_INVALID, "ContainerNotFound")
    assert result.error_info == f"container web not found in the CRI at {sockets / 'cri.sock'}"
