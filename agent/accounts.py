"""The users and groups of a machine's ``/etc/passwd`` and ``/etc/group``, read as text.

In host mode the agent looks the task's user up in the node's files (under
``--host-root``), not through its own container's name service: the uid, gid,
home and supplementary groups are the node's. These functions only parse text;
reading the files is the caller's business.

The files are read as glibc's ``files`` service reads them: one entry a line
(lines end at ``\n`` only),
fields separated by ``:``, the first entry of a name wins; blank lines,
comments and lines that are not a well-formed entry (NIS ``+``/``-`` lines
among them) are skipped, never fatal: one broken line must not make every
user unknown.
"""

from __future__ import annotations

import grp
import pwd
from collections.abc import Iterator

_PASSWD_FIELDS = 7  # name:password:uid:gid:gecos:home:shell
_GROUP_FIELDS = 4  # name:password:gid:member,member...
_MAX_ID = 2**32 - 2  # (uid_t) -1 is "no change" to the kernel, never an id


def passwd_entries(text: str) -> Iterator[pwd.struct_passwd]:
    """The well-formed entries of an ``/etc/passwd`` text, in file order."""
    for line in text.split("\n"):
        fields = line.split(":")
        if len(fields) != _PASSWD_FIELDS or not _is_name(fields[0]):
            continue
        uid, gid = _number(fields[2]), _number(fields[3])
        if uid is None or gid is None:
            continue
        yield pwd.struct_passwd((fields[0], fields[1], uid, gid, *fields[4:]))


def group_entries(text: str) -> Iterator[grp.struct_group]:
    """The well-formed entries of an ``/etc/group`` text, in file order."""
    for line in text.split("\n"):
        fields = line.split(":")
        if len(fields) != _GROUP_FIELDS or not _is_name(fields[0]):
            continue
        gid = _number(fields[2])
        if gid is None:
            continue
        members = [m for m in fields[3].split(",") if m]
        yield grp.struct_group((fields[0], fields[1], gid, members))


def user_named(passwd: str, name: str) -> pwd.struct_passwd | None:
    """The first entry called ``name``, as ``getpwnam`` would find it; None if there is none."""
    return next((entry for entry in passwd_entries(passwd) if entry.pw_name == name), None)


def user_with_id(passwd: str, uid: int) -> pwd.struct_passwd | None:
    """The first entry with ``uid``, as ``getpwuid`` would find it; None if there is none."""
    return next((entry for entry in passwd_entries(passwd) if entry.pw_uid == uid), None)


def group_named(group: str, name: str) -> grp.struct_group | None:
    """The first group called ``name``, as ``getgrnam`` would find it; None if there is none."""
    return next((entry for entry in group_entries(group) if entry.gr_name == name), None)


def supplementary_groups(group: str, user: pwd.struct_passwd) -> list[int]:
    """The groups that list ``user`` as a member, as ``initgroups`` sets them: each gid
    once, in file order, the user's primary group left out (it is the process's gid)."""
    gids: list[int] = []
    for entry in group_entries(group):
        if user.pw_name in entry.gr_mem and entry.gr_gid not in (user.pw_gid, *gids):
            gids.append(entry.gr_gid)
    return gids


def _is_name(text: str) -> bool:
    # NIS compat lines (+name, -name, +@netgroup) are references, not entries.
    return bool(text) and not text.startswith(("+", "-", "#")) and text.strip() == text


def _number(text: str) -> int | None:
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= _MAX_ID else None
