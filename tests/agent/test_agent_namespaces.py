"""Scripts run inside namespaces made by the test: the seam shared by containers and host mode."""

from __future__ import annotations

import asyncio
import os
import pwd
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agent.namespaces import KINDS, Namespaces
from agent.process import is_alive
from agent.runner import Plan, Runner
from kairos.v1 import agent_pb2, common_pb2

from .agent_harness import eventually, shell_task
from .target_namespaces import HOSTNAME, MARKER, TargetNamespaces, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

# Prints what tells one set of namespaces from another, as the script sees them.
_PROBE = (
    "hostname; cat "
    + MARKER
    + "; echo pid=$$; "
    + "; ".join(f"readlink /proc/self/ns/{kind}" for kind, _ in KINDS)
)


@pytest.fixture
async def target() -> AsyncIterator[TargetNamespaces]:
    namespaces = await TargetNamespaces.start()
    yield namespaces
    await namespaces.close()


class _Events:
    def __init__(self) -> None:
        self.pgid = 0

    def started(self, pgid: int, process_start: int, start_time: object) -> None:
        self.pgid = pgid

    def output(self, offset: int, data: bytes) -> None:
        pass


async def _run(
    tmp_path: Path, namespaces: Namespaces, task: agent_pb2.Task, stop: asyncio.Event | None = None
) -> tuple[agent_pb2.ExecutionResult, _Events]:
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    runner = Runner(scripts)
    plan = runner.prepare(task)
    assert isinstance(plan, Plan)
    plan = Plan(
        task=plan.task,
        user=plan.user,
        switch_user=plan.switch_user,
        working_dir="/",
        env=plan.env,
        namespaces=namespaces,
    )
    events = _Events()
    result = await runner.run(plan, tmp_path / "output", events, stop or asyncio.Event())
    return result, events


def _expected(target: TargetNamespaces) -> bytes:
    lines = [HOSTNAME, "inside", "pid=PID", *(target.namespace(kind) for kind, _ in KINDS)]
    return "\n".join(lines).encode() + b"\n"


def _without_pid(output: bytes) -> bytes:
    lines = output.decode().splitlines()
    pid = next(line for line in lines if line.startswith("pid="))
    # In a fresh PID namespace the script's shell has a small pid: 1 is the
    # namespace's sleeping first process, then nsenter's child.
    assert 1 < int(pid.removeprefix("pid=")) < 100, pid
    return "\n".join("pid=PID" if line == pid else line for line in lines).encode() + b"\n"


async def test_a_script_runs_in_the_namespaces_of_a_process(
    tmp_path: Path, target: TargetNamespaces
) -> None:
    result, _ = await _run(tmp_path, Namespaces.of_process(target.pid), shell_task(_PROBE))
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result.output
    assert _without_pid(result.output) == _expected(target)
    assert target.namespace("uts") != os.readlink("/proc/self/ns/uts")


async def test_a_node_root_exposes_the_namespaces_of_its_first_process(
    tmp_path: Path, target: TargetNamespaces
) -> None:
    root = target.expose(tmp_path / "host")
    result, _ = await _run(tmp_path, Namespaces(root / "proc" / "1" / "ns"), shell_task(_PROBE))
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result.output
    assert _without_pid(result.output) == _expected(target)


async def test_a_timeout_kills_the_script_tree_inside_the_namespaces(
    tmp_path: Path, target: TargetNamespaces
) -> None:
    task = shell_task("sleep 300 & echo started; wait", timeout=1)
    result, events = await _run(tmp_path, Namespaces.of_process(target.pid), task)
    assert result.status == common_pb2.INVOCATION_STATUS_TIMEOUT
    assert result.output == b"started\n"
    # Inside a PID namespace the script cannot name its grandchild as the node
    # does; the node finds the tree by its process group.
    await eventually(lambda: not _group_members(events.pgid), "the script's tree to die")


def _group_members(pgid: int) -> list[int]:
    """The live processes of group ``pgid``, zombies excepted."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid and is_alive(int(entry.name)):
                members.append(int(entry.name))
    return members


async def test_the_working_directory_and_user_are_the_targets(
    tmp_path: Path, target: TargetNamespaces
) -> None:
    nobody = pwd.getpwnam("nobody")
    task = shell_task("pwd; id -u", username="nobody")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    runner = Runner(scripts)
    plan = runner.prepare(task)
    assert isinstance(plan, Plan) and plan.switch_user
    plan = Plan(
        task=task,
        user=nobody,
        switch_user=True,
        working_dir="/run/kairos-target",
        env=plan.env,
        namespaces=Namespaces.of_process(target.pid),
    )
    result = await runner.run(plan, tmp_path / "output", _Events(), asyncio.Event())
    assert result.output == f"/run/kairos-target\n{nobody.pw_uid}\n".encode()


async def test_namespaces_of_a_gone_process_are_missing(target: TargetNamespaces) -> None:
    namespaces = Namespaces.of_process(target.pid)
    assert namespaces.missing() == []
    await target.close()
    assert namespaces.missing() == [kind for kind, _ in KINDS]
