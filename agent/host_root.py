"""Host mode: the node's root filesystem at ``--host-root``, and scripts run in the node.

A DaemonSet pod that mounts the node's ``/`` at ``/host`` (``k8s/components/
host-access``) sees the node's procfs at ``/host/proc``, so ``/host/proc/1/ns``
holds the namespaces of the node's first process: that is the one rule for
finding them. ``/proc/1/ns`` is not a fallback: without ``hostPID`` it names the
pod's own first process, and scripts would silently run in the container.

Users, groups and working directories are the node's: ``/etc/passwd`` and
``/etc/group`` are read under the host root at each task (a user added on the
node counts at once), and a path is resolved under the host root as the node
resolves it, an absolute symbolic link staying inside it.

The agent's own state (spool, credential) stays where ``--state-dir`` says, in
the agent's container.
"""

from __future__ import annotations

import dataclasses
import errno
import grp
import os
import pwd
import subprocess
from pathlib import Path, PurePosixPath

from agent import accounts
from agent.machine import MAX_LINKS
from agent.namespaces import KINDS, Namespaces

PROBE_TIMEOUT = 10.0  # seconds for nsenter to enter the node and run an empty script


class HostRootError(Exception):
    """``--host-root`` does not hold a node this agent can enter; the message says why."""


@dataclasses.dataclass(frozen=True)
class HostRoot:
    """The node whose root filesystem is mounted at ``root`` (a :class:`Machine`)."""

    root: Path

    @property
    def namespaces(self) -> Namespaces:
        """The namespaces of the node's first process, through the node's procfs."""
        return Namespaces(self.root / "proc" / "1" / "ns")

    @property
    def localtime(self) -> Path:
        """The node's ``/etc/localtime`` link, whose target names the node's time zone: the
        zone the agent reports, so that schedules without a zone follow the node's."""
        return self.root / "etc" / "localtime"

    def user_named(self, name: str) -> pwd.struct_passwd | None:
        return accounts.user_named(self._read("/etc/passwd"), name)

    def user_with_id(self, uid: int) -> pwd.struct_passwd | None:
        return accounts.user_with_id(self._read("/etc/passwd"), uid)

    def group_named(self, name: str) -> grp.struct_group | None:
        return accounts.group_named(self._read("/etc/group"), name)

    def groups_of(self, user: pwd.struct_passwd) -> list[int]:
        return accounts.supplementary_groups(self._read("/etc/group"), user)

    def is_dir(self, path: str) -> bool:
        try:
            return self.path(path).is_dir()
        except OSError:
            return False

    def path(self, node_path: str) -> Path:
        """Where the node's absolute ``node_path`` is under the host root.

        Symbolic links are followed as the node follows them: an absolute target
        starts again at the host root, and ``..`` never climbs above it. Raises
        ``OSError`` (``ELOOP``) on a loop.
        """
        pending = list(reversed(_parts(node_path)))
        resolved: list[str] = []
        links = 0
        while pending:
            part = pending.pop()
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = self.root.joinpath(*resolved, part)
            if not candidate.is_symlink():
                resolved.append(part)
                continue
            links += 1
            if links > MAX_LINKS:
                raise OSError(errno.ELOOP, "too many symbolic links", node_path)
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            pending.extend(reversed(_parts(target)))
        return self.root.joinpath(*resolved)

    def check(self) -> str:
        """Check at agent start that scripts can run in the node; return what was chosen,
        for the log. Raises :class:`HostRootError` otherwise."""
        where = f"--host-root {self.root}"
        if not self.root.is_dir():
            raise HostRootError(f"{where}: not a directory")
        namespaces = self.namespaces
        missing = namespaces.missing()
        if missing:
            raise HostRootError(
                f"{where}: the node's PID 1 namespaces are not at {namespaces.directory} "
                f"(missing: {', '.join(missing)}); mount the node's / with its /proc at the "
                "host root (hostPath / and hostPID: true, k8s/components/host-access)"
            )
        passwd = self.path("/etc/passwd")
        if not passwd.is_file():
            raise HostRootError(f"{where}: no {passwd}: the node's users cannot be looked up")
        self._probe()
        identities = " ".join(
            f"{kind}:[{(namespaces.directory / kind).stat().st_ino}]" for kind, _ in KINDS
        )
        return (
            f"scripts run in the namespaces of the node's PID 1 at {namespaces.directory} "
            f"({identities}), as users of {passwd} and {self.path('/etc/group')}"
        )

    def _probe(self) -> None:
        """Enter the node as every script will, with an empty script."""
        argv = self.namespaces.command("/dev/null", working_dir="/")
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                env={"PATH": os.environ.get("PATH", os.defpath)},  # nothing of the agent's
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            failure = str(error)
        else:
            if done.returncode == 0:
                return
            failure = done.stderr.strip() or f"exit status {done.returncode}"
        raise HostRootError(
            f"--host-root {self.root}: cannot enter the node's namespaces at "
            f"{self.namespaces.directory}: {failure} (the agent needs root with SYS_ADMIN, "
            "SYS_CHROOT and SYS_PTRACE in the node's PID namespace: hostPID: true, "
            "k8s/components/host-access)"
        )

    def _read(self, node_path: str) -> str:
        # Read at each task: a user added on the node counts at once. An unreadable
        # file has no users, so the task ends AccountNotExists rather than the agent.
        try:
            return self.path(node_path).read_text(errors="replace")
        except OSError:
            return ""


def _parts(path: str) -> list[str]:
    return [part for part in PurePosixPath(path).parts if part not in ("/", ".")]
