"""CPU time and resident memory of the measured processes, read from /proc (Linux only)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Postmaster:
    """A running PostgreSQL: its postmaster's pid and where a client reaches it."""

    pid: int
    url: str

    @classmethod
    def of(cls, data_dir: Path) -> Postmaster:
        """Read ``postmaster.pid`` of the PostgreSQL running in ``data_dir``.

        Its lines are the pid, the data directory, the start time, the port and the
        socket directory (PostgreSQL's own layout).
        """
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
        pid, port, sockets = int(lines[0]), lines[3].strip(), lines[4].strip()
        return cls(pid, f"postgresql+psycopg://postgres@/postgres?host={sockets}&port={port}")


def _stat(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (all its threads), in seconds."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid``, of the children it has reaped and of its live children.

    For a postmaster this is all of PostgreSQL: backends that ended are in its
    cutime/cstime, the live ones are read one by one; a backend that ends between
    two readings moves from one sum to the other, so differences stay right.
    """
    fields = _stat(pid)
    total = sum(int(value) for value in fields[11:15]) / _TICKS  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = _stat(int(entry.name))
        except (OSError, ValueError):
            continue  # ended meanwhile
        if int(child[1]) == pid:  # ppid (field 4)
            total += (int(child[11]) + int(child[12])) / _TICKS
    return total


def rss_kb(pid: int) -> int:
    """Resident memory of process ``pid`` (``VmRSS``), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")
