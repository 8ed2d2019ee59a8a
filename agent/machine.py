"""Where a task runs: whose users and directories it is checked against, in which namespaces.

The runner asks a :class:`Machine`. The agent's own (:class:`LocalMachine`) answers
from the agent's name service and filesystem and runs scripts in the agent's
namespaces; the node seen from a DaemonSet (``agent.host_root.HostRoot``)
answers from the node's files under ``--host-root`` and runs scripts in the
namespaces of the node's first process.
"""

from __future__ import annotations

import grp
import os
import pwd
from pathlib import Path
from typing import Protocol

from agent.namespaces import Namespaces

MAX_LINKS = 40
"""Symbolic links followed in one path when a machine's path is walked under its root
(host mode, file tasks), as the kernel's ELOOP limit."""


class Machine(Protocol):
    """The users, groups and directories a task is checked against, and where it runs."""

    @property
    def namespaces(self) -> Namespaces | None:
        """The namespaces scripts run in; None for the agent's own."""

    @property
    def root(self) -> Path:
        """Where the machine's ``/`` is in the agent's filesystem: file tasks write under it."""

    def user_named(self, name: str) -> pwd.struct_passwd | None:
        """The user called ``name``, or None when there is none."""

    def user_with_id(self, uid: int) -> pwd.struct_passwd | None:
        """The user with ``uid``, or None when there is none."""

    def group_named(self, name: str) -> grp.struct_group | None:
        """The group called ``name``, or None when there is none."""

    def groups_of(self, user: pwd.struct_passwd) -> list[int]:
        """The supplementary groups of ``user``, as a login would set them."""

    def is_dir(self, path: str) -> bool:
        """Whether ``path`` (absolute, as a script there sees it) is a directory."""


class LocalMachine:
    """The agent's own machine: its name service, its filesystem, its namespaces."""

    @property
    def namespaces(self) -> Namespaces | None:
        return None

    @property
    def root(self) -> Path:
        return Path("/")

    def user_named(self, name: str) -> pwd.struct_passwd | None:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            return None

    def user_with_id(self, uid: int) -> pwd.struct_passwd | None:
        try:
            return pwd.getpwuid(uid)
        except KeyError:
            return None

    def group_named(self, name: str) -> grp.struct_group | None:
        try:
            return grp.getgrnam(name)
        except KeyError:
            return None

    def groups_of(self, user: pwd.struct_passwd) -> list[int]:
        return [g for g in os.getgrouplist(user.pw_name, user.pw_gid) if g != user.pw_gid]

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)
