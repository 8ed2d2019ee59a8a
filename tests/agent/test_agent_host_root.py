"""Host mode's view of the node: paths, users and directories under --host-root, and the
checks at agent start."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.files import FileFailure, check, write_file
from agent.host_root import HostRoot, HostRootError
from agent.namespaces import KINDS, Namespaces
from agent.runner import Plan, Runner
from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.codes import ExecutionErrorCode

from .agent_harness import shell_task


def _node(root: Path) -> HostRoot:
    """A node's root with users of its own (none of them the agent's), a home and a group."""
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nnode-ops:x:65534:4321:Node Ops:/home/node-ops:/bin/sh\n"
    )
    (root / "etc" / "group").write_text(
        "root:x:0:\nops:x:4321:\nadm:x:4:node-ops\nwheel:x:10:node-ops\n"
    )
    (root / "home" / "node-ops" / "work").mkdir(parents=True)
    return HostRoot(root)


def _prepare(tmp_path: Path, host: HostRoot, task: agent_pb2.Task) -> Plan:
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    plan = Runner(scripts, machine=host).prepare(task)
    assert isinstance(plan, Plan), plan
    return plan


def _refusal(tmp_path: Path, host: HostRoot, task: agent_pb2.Task) -> tuple[int, str]:
    scripts = tmp_path / "scripts"
    scripts.mkdir(exist_ok=True)
    result = Runner(scripts, machine=host).prepare(task)
    assert isinstance(result, agent_pb2.ExecutionResult), result
    return result.status, result.error_code


def test_symbolic_links_resolve_inside_the_host_root(tmp_path: Path) -> None:
    root = tmp_path / "host"
    (root / "var" / "lib" / "data").mkdir(parents=True)
    (root / "srv").symlink_to("/var/lib")  # absolute: the node's /var/lib, not the agent's
    (root / "var" / "run").symlink_to("../var/lib")  # relative to its directory
    (root / "up").symlink_to("../../../..")  # never above the root
    (root / "loop").symlink_to("/loop")
    host = HostRoot(root)
    assert host.path("/srv/data") == root / "var" / "lib" / "data"
    assert host.path("/var/run/data") == root / "var" / "lib" / "data"
    assert host.path("/up/var/../srv/./data") == root / "var" / "lib" / "data"
    assert host.path("/") == root
    assert host.is_dir("/srv/data") and not host.is_dir("/srv/missing")
    with pytest.raises(OSError, match="too many symbolic links"):
        host.path("/loop/x")
    assert not host.is_dir("/loop")


def test_the_user_home_and_groups_are_the_nodes(tmp_path: Path) -> None:
    host = _node(tmp_path / "host")
    plan = _prepare(tmp_path, host, shell_task("id", username="node-ops", working_dir="work"))
    assert (plan.user.pw_name, plan.user.pw_uid, plan.user.pw_gid) == ("node-ops", 65534, 4321)
    assert plan.switch_user and plan.groups == (4, 10)
    assert plan.working_dir == "/home/node-ops/work"
    assert plan.env["HOME"] == "/home/node-ops"
    assert plan.namespaces == Namespaces(tmp_path / "host" / "proc" / "1" / "ns")


def test_without_a_username_the_agents_uid_is_looked_up_on_the_node(tmp_path: Path) -> None:
    host = _node(tmp_path / "host")
    plan = _prepare(tmp_path, host, shell_task("id"))
    assert plan.user.pw_uid == os.geteuid()
    if os.geteuid() == 0:
        # /root does not exist under this host root: the script starts at the node's /.
        assert (plan.user.pw_name, plan.working_dir, plan.groups) == ("root", "/", ())


def test_users_and_directories_of_the_agent_alone_do_not_count(tmp_path: Path) -> None:
    host = _node(tmp_path / "host")
    # Both exist on the agent's own machine, not on this node.
    assert _refusal(tmp_path, host, shell_task("id", username="nobody")) == (
        common_pb2.INVOCATION_STATUS_INVALID,
        "AccountNotExists",
    )
    assert _refusal(tmp_path, host, shell_task("pwd", working_dir="/usr")) == (
        common_pb2.INVOCATION_STATUS_INVALID,
        "DirectoryNotExists",
    )


def test_a_node_user_added_later_counts_at_once(tmp_path: Path) -> None:
    host = _node(tmp_path / "host")
    task = shell_task("id", username="late")
    assert _refusal(tmp_path, host, task)[1] == "AccountNotExists"
    with (tmp_path / "host" / "etc" / "passwd").open("a") as passwd:
        passwd.write("late:x:4000:4000::/:/bin/sh\n")
    assert _prepare(tmp_path, host, task).user.pw_uid == 4000


def test_check_names_the_missing_namespace_files(tmp_path: Path) -> None:
    host = _node(tmp_path / "host")
    (tmp_path / "host" / "proc" / "1" / "ns").mkdir(parents=True)
    (tmp_path / "host" / "proc" / "1" / "ns" / "mnt").touch()
    with pytest.raises(HostRootError) as raised:
        host.check()
    assert "namespaces are not at" in str(raised.value)
    assert "(missing: uts, ipc, net, pid)" in str(raised.value)


def test_check_refuses_a_root_without_users(tmp_path: Path) -> None:
    directory = tmp_path / "host" / "proc" / "1" / "ns"
    directory.mkdir(parents=True)
    for kind, _ in KINDS:
        (directory / kind).touch()
    with pytest.raises(HostRootError, match="etc/passwd: the node's users cannot be looked up"):
        HostRoot(tmp_path / "host").check()


def _agent(*flags: str, host_root: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``kairos agent`` as an operator starts it (``host_root`` by KAIROS_HOST_ROOT); it
    must stop before connecting anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAIROS_")}
    if host_root is not None:
        env["KAIROS_HOST_ROOT"] = str(host_root)
    return subprocess.run(
        [sys.executable, "-m", "scheduler.cli", "agent", "--server", "127.0.0.1:9", *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_agent_with_a_host_root_lacking_the_namespace_files_does_not_start(
    tmp_path: Path,
) -> None:
    _node(tmp_path / "host")
    done = _agent("--instance-id", "i-node", "--host-root", str(tmp_path / "host"))
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"kairos agent: --host-root {tmp_path / 'host'}: the node's PID 1 namespaces are not "
        f"at {tmp_path / 'host' / 'proc' / '1' / 'ns'} (missing: mnt, uts, ipc, net, pid); "
        "mount the node's / with its /proc at the host root (hostPath / and hostPID: true, "
        "k8s/components/host-access)\n"
    )


def test_an_agent_that_cannot_enter_the_namespaces_does_not_start(tmp_path: Path) -> None:
    # Files where namespace files should be: they exist, but nsenter cannot enter them.
    _node(tmp_path / "host")
    directory = tmp_path / "host" / "proc" / "1" / "ns"
    directory.mkdir(parents=True)
    for kind, _ in KINDS:
        (directory / kind).touch()
    done = _agent("--instance-id", "i-node", host_root=tmp_path / "host")
    assert done.returncode == 2, done.stderr
    assert f"--host-root {tmp_path / 'host'}: cannot enter the node's namespaces" in done.stderr
    assert "nsenter" in done.stderr


# ------------------------------------------------------------------ file tasks on the node


def _file_task(target_dir: str, owner: str = "root", group: str = "root") -> agent_pb2.Task:
    file = agent_pb2.FileTask(
        name="app.conf", target_dir=target_dir, content=b"k=v\n", mode=0o640, owner=owner
    )
    file.group = group
    return agent_pb2.Task(execution_id="e-file", timeout=60, file=file)


async def _write(host: HostRoot, task: agent_pb2.Task) -> agent_pb2.ExecutionResult:
    return await write_file(
        task.execution_id, check(task, host), clock=lambda: datetime.now(UTC), root=host.root
    )


def test_a_file_task_is_owned_by_users_and_groups_of_the_node(tmp_path: Path) -> None:
    host = _node(tmp_path / "host")
    plan = check(_file_task("/etc/app", owner="node-ops", group="adm"), host)
    assert (plan.uid, plan.gid) == (65534, 4)
    # The agent's machine has both; this node has neither.
    for owner, group, code in (
        ("nobody", "adm", ExecutionErrorCode.FILE_OWNER_NOT_EXIST),
        ("node-ops", "nogroup", ExecutionErrorCode.FILE_GROUP_NOT_EXIST),
    ):
        with pytest.raises(FileFailure) as failure:
            check(_file_task("/etc/app", owner=owner, group=group), host)
        assert failure.value.code == code


async def test_a_file_task_follows_the_nodes_links_inside_the_host_root(tmp_path: Path) -> None:
    host = _node(tmp_path / "host")
    root = tmp_path / "host"
    (root / "run").mkdir()
    (root / "var").mkdir()
    (root / "var" / "run").symlink_to("/run")  # absolute, as on Debian: the node's /run
    (root / "up").symlink_to("../../../var/run")  # .. stops at the node's /
    result = await _write(host, _file_task("/var/run/app", owner="node-ops", group="ops"))
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    written = root / "run" / "app" / "app.conf"
    assert written.read_bytes() == b"k=v\n"
    assert (written.stat().st_uid, written.stat().st_gid) == (65534, 4321)
    assert not _exists("/run/app/app.conf")  # nothing in the agent's own /run
    # The same file through the other link: there already.
    again = await _write(host, _file_task("/up/app"))
    assert (again.status, again.error_code) == (
        common_pb2.INVOCATION_STATUS_FAILED,
        ExecutionErrorCode.FILE_EXIST,
    )


def _exists(path: str) -> bool:
    return os.path.exists(path)


async def test_a_file_task_through_a_link_loop_fails_to_create_its_directory(
    tmp_path: Path,
) -> None:
    host = _node(tmp_path / "host")
    (tmp_path / "host" / "loop").symlink_to("/loop")
    result = await _write(host, _file_task("/loop/app"))
    assert (result.status, result.error_code) == (
        common_pb2.INVOCATION_STATUS_FAILED,
        ExecutionErrorCode.DIRECTORY_CREATE_FAIL,
    )
    assert "too many symbolic links" in result.error_info
