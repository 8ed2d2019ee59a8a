"""Starting a process as another user: util-linux ``setpriv`` changes the ids, not Python.

Python's ``subprocess`` with ``user``, ``group`` or ``extra_groups`` cannot use
``vfork``: it makes a plain ``fork`` of the agent, whose gRPC threads leave the
child in a state where changing ids crashed it (SIGSEGV, exit 139) for about
one run in four under load. The agent therefore spawns ``setpriv`` as itself,
and ``setpriv`` changes the ids in its own single-threaded process before it
executes the script's interpreter.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence


def as_user(argv: Sequence[str], *, gid: int, groups: Sequence[int], uid: int | None) -> list[str]:
    """``argv`` run with group ``gid``, supplementary ``groups`` and, if given, user ``uid``.

    Without ``uid`` the user stays root, for a command (``nsenter``) that needs
    root first and changes the user itself.
    """
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    chosen = f"--groups={','.join(map(str, groups))}" if groups else "--clear-groups"
    user = [] if uid is None else [f"--reuid={uid}"]
    return [setpriv, *user, f"--regid={gid}", chosen, "--", *argv]
