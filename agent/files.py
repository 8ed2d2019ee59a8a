"""Writes the file of a file task (SendFile): atomically, with its owner, group and mode,
never through a symbolic link an untrusted user made.

The file is written to a temporary file in the target directory, synced, given its owner,
group and mode, then moved into place in one step: ``rename`` (overwrite) or ``link``
(which fails if the name exists, so a file that appears meanwhile is never replaced).
Readers see the old file or the whole new one, never a part. Every step goes through
directory descriptors (``dir_fd``): the name itself is never followed when it is a link
(``rename`` replaces the link, not what it points to), and a directory of the path that is
a symbolic link is followed only when root or the agent's own user owns it (as the
kernel's ``protected_symlinks`` trusts links).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from agent import outcome
from agent.machine import MAX_LINKS, LocalMachine, Machine
from kairos.v1 import agent_pb2, common_pb2
from scheduler.domain.codes import ExecutionErrorCode
from scheduler.domain.files import (
    DEFAULT_TIMEOUT,
    MAX_MODE,
    format_mode,
    is_normal_directory,
    is_plain_name,
)

Status = common_pb2.InvocationStatus
_DIRECTORY_MODE = 0o755


@dataclass(frozen=True, kw_only=True)
class FilePlan:
    """A file task that passed its checks: the file, the ids of its owner and group, and
    the seconds its write may take."""

    file: agent_pb2.FileTask
    uid: int
    gid: int
    timeout: int


class FileFailure(Exception):
    """The file could not be written: the status and code of the result."""

    def __init__(self, status: Status, code: ExecutionErrorCode, info: str) -> None:
        super().__init__(info)
        self.status = status
        self.code = code
        self.info = info


def _invalid(code: ExecutionErrorCode, info: str) -> FileFailure:
    return FileFailure(common_pb2.INVOCATION_STATUS_INVALID, code, info)


def _failed(code: ExecutionErrorCode, info: str) -> FileFailure:
    return FileFailure(common_pb2.INVOCATION_STATUS_FAILED, code, info)


def check(task: agent_pb2.Task, machine: Machine | None = None) -> FilePlan:
    """The plan of a file task, or ``FileFailure`` (``Invalid``) for what cannot be written
    here. The server checked the same already; a task from elsewhere is checked again.
    Owner and group are the ``machine``'s (the node's in host mode), the agent's own by
    default."""
    machine = machine or LocalMachine()
    file = task.file
    if not is_plain_name(file.name):
        raise _invalid(
            ExecutionErrorCode.FILE_NAME_INVALID, f"{file.name!r} is not a plain file name"
        )
    if not is_normal_directory(file.target_dir):
        raise _invalid(
            ExecutionErrorCode.FILE_NAME_INVALID,
            f"{file.target_dir!r} is not an absolute, normalised directory",
        )
    if not file.content:
        raise _invalid(ExecutionErrorCode.EMPTY_FILE, "the file task has no content")
    if file.mode > MAX_MODE:
        raise _invalid(ExecutionErrorCode.INVALID_FILE_MODE, f"mode {file.mode:o} is over 7777")
    owner = machine.user_named(file.owner)
    if owner is None:
        raise _invalid(
            ExecutionErrorCode.FILE_OWNER_NOT_EXIST, f"user {file.owner!r} does not exist"
        )
    group = machine.group_named(file.group)
    if group is None:
        raise _invalid(
            ExecutionErrorCode.FILE_GROUP_NOT_EXIST, f"group {file.group!r} does not exist"
        )
    return FilePlan(
        file=file, uid=owner.pw_uid, gid=group.gr_gid, timeout=task.timeout or DEFAULT_TIMEOUT
    )


async def write_file(
    execution_id: str,
    plan: FilePlan,
    *,
    clock: Callable[[], datetime],
    root: Path = Path("/"),
) -> agent_pb2.ExecutionResult:
    """Write the file of ``plan`` under ``root`` (``/``; a node's filesystem seen from a
    container in host mode); the result says what was written, or why not. A link the
    walk trusts is followed inside ``root``: an absolute one from ``root``.

    Past the plan's timeout the task ends ``Timeout``; the thread writing (a hung
    filesystem) cannot be killed and is left to finish or fail on its own, its temporary
    file never renamed into place by a later step of this task.
    """
    start = clock()
    timeout = plan.timeout
    commit = _Commit()
    try:
        info = await asyncio.wait_for(asyncio.to_thread(_write, plan, root, commit), timeout)
    except TimeoutError:
        if commit.abandon():
            written = f"the file was not written within the timeout of {timeout} s"
        else:  # the rename had begun: one system call, which the timeout cannot undo
            written = (
                f"the file was being moved into place at the timeout of {timeout} s: "
                "it may be in place"
            )
        return outcome.not_run(
            execution_id,
            common_pb2.INVOCATION_STATUS_TIMEOUT,
            ExecutionErrorCode.EXECUTION_TIMEOUT,
            written,
            clock(),
            start=start,
        )
    except FileFailure as failure:
        return outcome.not_run(
            execution_id, failure.status, failure.code, failure.info, clock(), start=start
        )
    return agent_pb2.ExecutionResult(
        execution_id=execution_id,
        status=common_pb2.INVOCATION_STATUS_SUCCESS,
        output=info.encode(),
        start_time=start,
        finish_time=clock(),
    )


class _Commit:
    """Either the writing thread moves its file into place or the task times out: never
    a ``Timeout`` result for a file that appears afterwards."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._begun = False

    def begin(self) -> bool:
        """In the thread, just before the rename: False if the task has timed out."""
        with self._lock:
            self._begun = not self._abandoned
            return self._begun

    def abandon(self) -> bool:
        """At the timeout: False if the rename has begun already."""
        with self._lock:
            self._abandoned = not self._begun
            return self._abandoned


def _write(plan: FilePlan, root: Path, commit: _Commit) -> str:
    file = plan.file
    directory = _open_directory(root, file.target_dir)
    try:
        _check_existing(directory, file)
        temporary = f".kairos-{secrets.token_hex(8)}.tmp"
        try:
            _write_temporary(directory, temporary, plan)
            if not commit.begin():  # nobody waits for this result any more
                raise _failed(ExecutionErrorCode.EXECUTION_TIMEOUT, "timed out")
            _move_into_place(directory, temporary, file)
        finally:
            _unlink_quietly(directory, temporary)
        os.fsync(directory)
    finally:
        os.close(directory)
    path = os.path.join(file.target_dir, file.name)
    return (
        f"wrote {path}: {len(file.content)} bytes, mode {format_mode(file.mode)}, "
        f"owner {file.owner}, group {file.group}\n"
    )


def _open_directory(root: Path, target_dir: str) -> int:
    """A descriptor of ``target_dir`` under ``root``, each missing directory created (0755).

    A trusted link is followed inside ``root``, as the machine whose ``/`` it is would
    follow it: an absolute target starts again at ``root`` (in host mode the node's
    ``/var/run -> /run`` is the node's ``/run``, not the agent's), and ``..`` never
    climbs above it.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        top = os.open(root, flags)
    except OSError as error:
        raise _failed(
            ExecutionErrorCode.DIRECTORY_CREATE_FAIL, f"{root}: {error.strerror}"
        ) from None
    fd = os.dup(top)
    try:
        pending = _parts(target_dir)
        walked, links = "", 0
        while pending:
            part = pending.pop()
            try:
                if part == "..":
                    fd, walked = _parent(fd, top, walked)
                elif _trusted_link(fd, part, walked + "/" + part):
                    links += 1
                    target = os.readlink(part, dir_fd=fd)
                    if links > MAX_LINKS:
                        raise _failed(
                            ExecutionErrorCode.DIRECTORY_CREATE_FAIL,
                            f"{walked}/{part}: too many symbolic links",
                        )
                    if target.startswith("/"):
                        fd, walked = _replaced(fd, os.dup(top)), ""
                    pending += _parts(target)
                else:
                    walked += "/" + part
                    fd = _replaced(fd, _child(fd, part, flags))
            except OSError as error:
                raise _failed(
                    ExecutionErrorCode.DIRECTORY_CREATE_FAIL,
                    f"cannot open or create directory {walked}: {error.strerror}",
                ) from None
    except BaseException:
        os.close(fd)
        raise
    finally:
        os.close(top)
    return fd


def _parts(path: str) -> list[str]:
    """The components of ``path`` to walk, the first last (``pop`` takes the next)."""
    return [part for part in reversed(path.split("/")) if part not in ("", ".")]


def _child(fd: int, part: str, flags: int) -> int:
    """The directory ``part`` of ``fd`` (created 0755 when missing), never through a link."""
    try:
        return os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
    except FileNotFoundError:
        os.mkdir(part, _DIRECTORY_MODE, dir_fd=fd)
    child = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
    try:
        os.fchmod(child, _DIRECTORY_MODE)  # whatever the agent's umask
    except OSError:
        os.close(child)
        raise
    return child


def _replaced(old: int, new: int) -> int:
    """``new``, once ``old`` is closed: the walk holds one descriptor at a time."""
    os.close(old)
    return new


def _parent(fd: int, top: int, walked: str) -> tuple[int, str]:
    """The parent of directory ``fd`` and its path, but ``top`` stays where it is (a link's
    ``..`` never leaves the root); ``fd`` is closed when replaced."""
    here, root = os.fstat(fd), os.fstat(top)
    if (here.st_dev, here.st_ino) == (root.st_dev, root.st_ino):
        return fd, ""
    parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
    return _replaced(fd, parent), walked.rpartition("/")[0]


def _trusted_link(fd: int, part: str, walked: str) -> bool:
    """Whether ``part`` in ``fd`` is a symbolic link to follow: one root or the agent owns.
    Any other user's link is refused: it could lead the write anywhere."""
    try:
        status = os.stat(part, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if not stat.S_ISLNK(status.st_mode):
        return False
    if status.st_uid not in (0, os.geteuid()):
        raise _failed(
            ExecutionErrorCode.DIRECTORY_CREATE_FAIL,
            f"{walked} is a symbolic link of user {status.st_uid}: not followed",
        )
    return True


def _check_existing(directory: int, file: agent_pb2.FileTask) -> None:
    try:
        status = os.stat(file.name, dir_fd=directory, follow_symlinks=False)
    except FileNotFoundError:
        return
    path = os.path.join(file.target_dir, file.name)
    if stat.S_ISDIR(status.st_mode) or not (
        stat.S_ISREG(status.st_mode) or stat.S_ISLNK(status.st_mode)
    ):
        raise _failed(
            ExecutionErrorCode.INVALID_FILE_CONTENT, f"{path} exists and is not a regular file"
        )
    if not file.overwrite:
        raise _failed(
            ExecutionErrorCode.FILE_EXIST, f"{path} exists and overwrite is false: left as it is"
        )


def _write_temporary(directory: int, temporary: str, plan: FilePlan) -> None:
    """The complete file under a temporary name: written, synced, owned, its mode set."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temporary, flags, 0o600, dir_fd=directory)
    except OSError as error:
        raise _failed(ExecutionErrorCode.FILE_CREATE_FAIL, _why("create", plan, error)) from None
    try:
        try:
            view = memoryview(plan.file.content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError as error:
            raise _failed(ExecutionErrorCode.FILE_CREATE_FAIL, _why("write", plan, error)) from None
        try:
            os.fchown(fd, plan.uid, plan.gid)
        except OSError as error:
            raise _failed(ExecutionErrorCode.FILE_CHOWN_FAIL, _why("chown", plan, error)) from None
        try:
            # After the chown, which clears the set-user-id and set-group-id bits.
            os.fchmod(fd, plan.file.mode)
        except OSError as error:
            raise _failed(ExecutionErrorCode.FILE_CHMOD_FAIL, _why("chmod", plan, error)) from None
    finally:
        os.close(fd)


def _move_into_place(directory: int, temporary: str, file: agent_pb2.FileTask) -> None:
    try:
        if file.overwrite:
            os.replace(temporary, file.name, src_dir_fd=directory, dst_dir_fd=directory)
        else:
            os.link(temporary, file.name, src_dir_fd=directory, dst_dir_fd=directory)
    except FileExistsError:
        raise _failed(
            ExecutionErrorCode.FILE_EXIST,
            f"{os.path.join(file.target_dir, file.name)} appeared meanwhile and overwrite is "
            "false: left as it is",
        ) from None
    except OSError as error:
        raise _failed(
            ExecutionErrorCode.FILE_CREATE_FAIL,
            f"cannot move {os.path.join(file.target_dir, file.name)} into place: {error.strerror}",
        ) from None


def _unlink_quietly(directory: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=directory)


def _why(step: str, plan: FilePlan, error: OSError) -> str:
    path = os.path.join(plan.file.target_dir, plan.file.name)
    return f"cannot {step} {path}: {error.strerror}"
