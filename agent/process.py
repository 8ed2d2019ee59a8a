"""Process groups on Linux: find the one a script ran in, and kill it with all its children."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from agent.spool import RunMark

_PROC = Path("/proc")


def process_start_time(pid: int) -> int | None:
    """Return the start time of ``pid`` in clock ticks since boot, or None if it is gone.

    Together with the pid it names one process for the whole boot, so a pid
    reused by an unrelated process is not mistaken for ours.
    """
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 22, starttime


def is_alive(pid: int) -> bool:
    """True when ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2 :].split()[0] != "Z"


def kill_group(pgid: int) -> None:
    """SIGKILL every process of group ``pgid``; a group that is already gone is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def kill_leftover(run: RunMark, boot_id: str) -> bool:
    """Kill the process group a previous agent process left running; True if one was killed.

    The group is ours only on the same boot, and only if its leader is either
    gone (Linux never reuses a pid while a group of that id has members) or
    is still the very process we started.
    """
    if not boot_id or run.boot_id != boot_id:
        return False
    start = process_start_time(run.pgid)
    if start is not None and start != run.process_start:
        return False
    try:
        os.killpg(run.pgid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True
