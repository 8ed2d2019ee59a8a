"""The agent writes file tasks (SendFile) for real: atomically, with owner, group and mode,
never through a symbolic link another user made; each failure with its code."""

from __future__ import annotations

import grp
import itertools
import os
import pwd
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.files import _Commit, check, write_file
from dispatcher.messages import FILE_GUARD
from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.codes import ExecutionErrorCode
from tests.agent.agent_harness import Harness

_ids = itertools.count(1)
ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="setting another owner needs root")


def file_task(target_dir: Path | str, name: str = "app.conf", **fields: Any) -> agent_pb2.Task:
    """A file task for ``target_dir``/``name``, owned by the agent's own user by default."""
    file = {
        "name": name,
        "target_dir": str(target_dir),
        "content": b"key=value\n",
        "mode": 0o640,
        "owner": pwd.getpwuid(os.geteuid()).pw_name,
        "group": grp.getgrgid(os.getegid()).gr_name,
        **fields.pop("file", {}),
    }
    return agent_pb2.Task(
        execution_id=f"e-file-{next(_ids)}",
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        script=b"exit 1\n",  # the server's guard: never run for a file task
        timeout=60,
        file=agent_pb2.FileTask(**file),
        **fields,
    )


@pytest.fixture
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path / "state")


async def test_the_file_is_written_with_its_mode_and_the_task_reports_like_a_script(
    harness: Harness, tmp_path: Path
) -> None:
    task = file_task(tmp_path / "etc" / "app", file={"mode": 0o640})
    harness.executions.on_task(task)
    await harness.expect("ack", task.execution_id)
    await harness.expect("started", task.execution_id)
    result = (await harness.expect("result", task.execution_id)).result
    path = tmp_path / "etc" / "app" / "app.conf"
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    assert path.read_bytes() == b"key=value\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert result.output.decode() == (
        f"wrote {path}: 10 bytes, mode 0640, owner {task.file.owner}, group {task.file.group}\n"
    )
    # Missing directories were created 0755, whatever the umask.
    assert stat.S_IMODE((tmp_path / "etc").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "etc" / "app").stat().st_mode) == 0o755
    # No temporary file is left behind.
    assert os.listdir(tmp_path / "etc" / "app") == ["app.conf"]


@needs_root
async def test_owner_and_group_are_set(harness: Harness, tmp_path: Path) -> None:
    task = file_task(tmp_path, file={"owner": "nobody", "group": "nogroup", "mode": 0o4750})
    result = await harness.run(task)
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    status = (tmp_path / "app.conf").stat()
    assert (status.st_uid, status.st_gid) == (
        pwd.getpwnam("nobody").pw_uid,
        grp.getgrnam("nogroup").gr_gid,
    )
    # The mode is set after the owner, so chown does not clear set-user-id.
    assert stat.S_IMODE(status.st_mode) == 0o4750


async def test_an_existing_file_is_left_alone_without_overwrite(
    harness: Harness, tmp_path: Path
) -> None:
    (tmp_path / "app.conf").write_text("old\n")
    result = await harness.run(file_task(tmp_path))
    assert (result.status, result.error_code) == (
        common_pb2.INVOCATION_STATUS_FAILED,
        ExecutionErrorCode.FILE_EXIST,
    )
    assert "overwrite is false" in result.error_info
    assert (tmp_path / "app.conf").read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["app.conf", "state"]


async def test_overwrite_replaces_the_file(harness: Harness, tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("old\n")
    result = await harness.run(file_task(tmp_path, file={"overwrite": True}))
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    assert (tmp_path / "app.conf").read_bytes() == b"key=value\n"


async def test_a_link_at_the_name_is_replaced_never_written_through(
    harness: Harness, tmp_path: Path
) -> None:
    outside = tmp_path / "shadow"
    outside.write_text("secret\n")
    target = tmp_path / "target"
    target.mkdir()
    (target / "app.conf").symlink_to(outside)
    result = await harness.run(file_task(target, file={"overwrite": True}))
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    assert outside.read_text() == "secret\n"
    assert not (target / "app.conf").is_symlink()
    assert (target / "app.conf").read_bytes() == b"key=value\n"


@needs_root
async def test_a_directory_link_of_another_user_is_not_followed_out(
    harness: Harness, tmp_path: Path
) -> None:
    outside = tmp_path / "etc"
    outside.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    (home / "config").symlink_to(outside)
    os.lchown(home / "config", pwd.getpwnam("nobody").pw_uid, -1)
    result = await harness.run(file_task(home / "config" / "app"))
    assert (result.status, result.error_code) == (
        common_pb2.INVOCATION_STATUS_FAILED,
        ExecutionErrorCode.DIRECTORY_CREATE_FAIL,
    )
    assert "symbolic link" in result.error_info
    assert os.listdir(outside) == []


async def test_a_directory_link_of_the_agents_own_user_is_followed(
    harness: Harness, tmp_path: Path
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    result = await harness.run(file_task(tmp_path / "alias"))
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    assert (real / "app.conf").read_bytes() == b"key=value\n"


async def test_a_directory_at_the_name_is_invalid_content(harness: Harness, tmp_path: Path) -> None:
    (tmp_path / "app.conf").mkdir()
    result = await harness.run(file_task(tmp_path, file={"overwrite": True}))
    assert (result.status, result.error_code) == (
        common_pb2.INVOCATION_STATUS_FAILED,
        ExecutionErrorCode.INVALID_FILE_CONTENT,
    )


async def test_a_file_where_a_directory_must_be_fails_to_create_it(
    harness: Harness, tmp_path: Path
) -> None:
    (tmp_path / "plain").write_text("")
    result = await harness.run(file_task(tmp_path / "plain" / "sub"))
    assert (result.status, result.error_code) == (
        common_pb2.INVOCATION_STATUS_FAILED,
        ExecutionErrorCode.DIRECTORY_CREATE_FAIL,
    )
    assert f"{tmp_path}/plain" in result.error_info


@pytest.mark.parametrize(
    ("file", "code"),
    [
        ({"owner": "no-such-user-kairos"}, ExecutionErrorCode.FILE_OWNER_NOT_EXIST),
        ({"group": "no-such-group-kairos"}, ExecutionErrorCode.FILE_GROUP_NOT_EXIST),
        ({"content": b""}, ExecutionErrorCode.EMPTY_FILE),
        ({"name": "../escape"}, ExecutionErrorCode.FILE_NAME_INVALID),
        ({"mode": 0o17777}, ExecutionErrorCode.INVALID_FILE_MODE),
    ],
)
async def test_what_cannot_be_written_here_is_invalid(
    harness: Harness, tmp_path: Path, file: dict[str, Any], code: ExecutionErrorCode
) -> None:
    result = await harness.run(file_task(tmp_path / "target", file=file))
    assert (result.status, result.error_code) == (common_pb2.INVOCATION_STATUS_INVALID, code)
    assert not (tmp_path / "target").exists()


async def test_a_relative_target_dir_is_invalid(harness: Harness) -> None:
    result = await harness.run(file_task("relative/dir"))
    assert (result.status, result.error_code) == (
        common_pb2.INVOCATION_STATUS_INVALID,
        ExecutionErrorCode.FILE_NAME_INVALID,
    )


async def test_the_file_is_written_under_the_root_it_is_given(tmp_path: Path) -> None:
    task = file_task("/etc/app")
    result = await write_file(
        task.execution_id, check(task), clock=lambda: datetime.now(UTC), root=tmp_path
    )
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    assert (tmp_path / "etc" / "app" / "app.conf").read_bytes() == b"key=value\n"
    assert result.output.startswith(b"wrote /etc/app/app.conf: 10 bytes")


async def test_a_dry_run_checks_and_writes_nothing(harness: Harness, tmp_path: Path) -> None:
    result = await harness.run(file_task(tmp_path / "target", dry_run=True))
    assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    assert not (tmp_path / "target").exists()


async def test_a_reader_never_sees_a_partial_file(harness: Harness, tmp_path: Path) -> None:
    versions = [bytes([ord("a") + n]) * 24_000 for n in range(8)]
    path = tmp_path / "app.conf"
    path.write_bytes(versions[0])
    seen: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                seen.add(path.read_bytes())
            except FileNotFoundError:
                seen.add(b"<missing>")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for version in versions[1:] * 10:
            task = file_task(tmp_path, file={"content": version, "overwrite": True})
            result = await harness.run(task)
            assert result.status == common_pb2.INVOCATION_STATUS_SUCCESS, result
    finally:
        done.set()
        reader.join()
    assert seen <= set(versions), sorted(len(s) for s in seen - set(versions))
    assert len(seen) > 1  # the reader did read while the file changed


# Everything imported first: the interpreter's own files may be out of nobody's reach.
_AS_NOBODY = """
import asyncio, concurrent.futures.thread, os, pwd, sys
from datetime import UTC, datetime
from agent.files import check, write_file
from dispatcher.messages import FILE_GUARD
from kairos.v1 import agent_pb2
task = agent_pb2.Task.FromString(sys.stdin.buffer.read())
plan = check(task)
os.setgid(pwd.getpwnam("nobody").pw_gid)
os.setuid(pwd.getpwnam("nobody").pw_uid)
result = asyncio.run(write_file("e-1", plan, clock=lambda: datetime.now(UTC)))
print(result.error_code)
"""


def _write_as_nobody(task: agent_pb2.Task) -> str:
    """The error code of writing ``task`` by an agent running as ``nobody`` (not root)."""
    done = subprocess.run(
        [sys.executable, "-c", _AS_NOBODY],
        input=task.SerializeToString(),
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


@pytest.fixture
def reachable() -> Iterator[Path]:
    """A directory ``nobody`` can reach (pytest's own are root's alone)."""
    with tempfile.TemporaryDirectory(prefix="kairos-files-") as name:
        yield Path(name)


@needs_root
def test_an_agent_that_is_not_root_cannot_give_the_file_away(reachable: Path) -> None:
    reachable.chmod(0o777)
    task = file_task(reachable, file={"owner": "root", "group": "root"})
    assert _write_as_nobody(task) == ExecutionErrorCode.FILE_CHOWN_FAIL
    assert os.listdir(reachable) == []  # the temporary file is gone too


@needs_root
def test_a_directory_it_may_not_write_fails_to_create_the_file(reachable: Path) -> None:
    reachable.chmod(0o755)
    task = file_task(reachable, file={"owner": "nobody", "group": "nogroup"})
    assert _write_as_nobody(task) == ExecutionErrorCode.FILE_CREATE_FAIL


async def test_an_agent_without_sendfile_runs_the_guard_and_fails(harness: Harness) -> None:
    # What an agent from before SendFile sees of a file task: Task.file is unknown to it.
    task = agent_pb2.Task(
        execution_id="e-old-agent",
        type=common_pb2.COMMAND_TYPE_RUN_SHELL_SCRIPT,
        script=FILE_GUARD,
        timeout=60,
    )
    result = await harness.run(task)
    assert (result.status, result.error_code) == (
        common_pb2.INVOCATION_STATUS_FAILED,
        ExecutionErrorCode.EXIT_CODE_NONZERO,
    )
    assert b"cannot write files (SendFile): upgrade it" in result.output


def test_a_write_past_its_timeout_is_never_moved_into_place_nor_called_unwritten() -> None:
    # The writing thread and the timeout race for the rename; a hung filesystem cannot be
    # made here, so the protocol is tested on its own. Whichever comes first wins.
    timed_out = _Commit()
    assert timed_out.abandon()  # the task ends Timeout "not written"...
    assert not timed_out.begin()  # ...and the thread, still going, does not rename
    renaming = _Commit()
    assert renaming.begin()  # the rename is under way...
    assert not renaming.abandon()  # ...so the Timeout result says the file may be in place
