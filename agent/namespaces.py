"""Running a script in other Linux namespaces: a container's, or the node's from a DaemonSet.

One seam serves both. A :class:`Namespaces` names a directory of namespace files
(``/proc/PID/ns`` of a container's first process, or ``<host-root>/proc/1/ns`` for
the node) and turns a command line into one that runs inside them through
util-linux's ``nsenter``. ``nsenter`` joins the mount, UTS, IPC, network and PID
namespaces, then forks so that the script is a member of the PID namespace too.
It stays in the script's process group, so a timeout or a stop still kills the
whole tree with one ``killpg``.

Joining a mount namespace moves the process to that namespace's root directory,
so the working directory is set from inside (the wrapper ``cd``s), and the
script is read through an inherited descriptor (``/dev/fd/N``), which crosses
namespaces where no path of the agent's would.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from pathlib import Path

from agent.switch_user import as_user

# The namespaces a script joins, as /proc/PID/ns names them, with nsenter's flag
# for each. Not the user namespace: the agent runs as root of the node, and a
# container's user namespace (if any) is entered by its own runtime's rules.
KINDS: tuple[tuple[str, str], ...] = (
    ("mnt", "--mount"),
    ("uts", "--uts"),
    ("ipc", "--ipc"),
    ("net", "--net"),
    ("pid", "--pid"),
)

# Inside the target, bash when it has one (as on the host), else the POSIX shell;
# ``$1`` is the working directory, the rest the interpreter's arguments.
_WRAPPER = (
    'cd -- "$1" || exit 126; shift; '
    'if [ -x /bin/bash ]; then exec /bin/bash "$@"; fi; exec /bin/sh "$@"'
)


@dataclasses.dataclass(frozen=True)
class Namespaces:
    """The namespaces a script runs in, named by a directory of namespace files."""

    directory: Path

    @classmethod
    def of_process(cls, pid: int, proc: Path = Path("/proc")) -> Namespaces:
        """The namespaces of process ``pid`` as the procfs mounted at ``proc`` shows it."""
        return cls(proc / str(pid) / "ns")

    def missing(self) -> list[str]:
        """The namespace files that do not exist (the process is gone, or no procfs)."""
        return [kind for kind, _ in KINDS if not (self.directory / kind).exists()]

    def command(
        self,
        script_path: str,
        *,
        working_dir: str = "/",
        uid: int | None = None,
        gid: int | None = None,
        groups: Sequence[int] = (),
    ) -> list[str]:
        """The command line that runs the script at ``script_path`` inside these namespaces.

        ``uid``, ``gid`` and the supplementary ``groups`` (with ``gid`` only) are numbers
        of the target's own user database. Joining needs root, so the uid changes last:
        util-linux ``setpriv`` sets the gid and groups first, still as root, and
        ``nsenter`` keeps them and switches the uid once inside (its own ``--setgid``
        would clear the groups). The agent itself changes no id of the process it
        starts, so Python can spawn it without a plain ``fork`` of the threaded agent.
        """
        nsenter = shutil.which("nsenter") or "/usr/bin/nsenter"
        argv = [nsenter, *(f"{flag}={self.directory / kind}" for kind, flag in KINDS)]
        if uid is not None:
            argv.append(f"--setuid={uid}")
        argv += ["--", "/bin/sh", "-c", _WRAPPER, "kairos", working_dir, script_path]
        if gid is None:
            return argv
        return as_user(argv, gid=gid, groups=groups, uid=None)
