"""Namespaces made by a test with ``unshare``: the stand-in for a container or a node.

``TargetNamespaces.start()`` runs ``unshare`` with new mount, UTS, IPC, network and
PID namespaces and a procfs of their own; inside, the first process sets a
hostname, writes a marker file under ``/run`` on a tmpfs only it sees, says it is
ready and sleeps. A script that prints that hostname and finds the marker ran
inside them. ``close()`` kills the namespaces' processes.

Where the machine forbids making namespaces (no root, a seccomp profile, a
kernel without user namespaces), ``skip_reason()`` says why, for
``pytest.skip``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import subprocess
from pathlib import Path

from agent.namespaces import KINDS

from .agent_harness import eventually

HOSTNAME = "kairos-target"
MARKER = "/run/kairos-target/marker"  # exists on the target's tmpfs only

_INSIDE = (
    f"mount -t tmpfs none /run && mkdir -p {os.path.dirname(MARKER)} && "
    f"echo inside > {MARKER} && hostname {HOSTNAME} && echo ready && exec sleep 3600"
)
_UNSHARE = ["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "--mount-proc"]


def skip_reason() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return "util-linux unshare and nsenter are needed to make and enter namespaces"
    if os.geteuid() != 0:
        return "making mount, PID and network namespaces and entering them needs root"
    probe = subprocess.run([*_UNSHARE, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"this machine refuses new namespaces: {probe.stderr.strip()}"
    return None


@dataclasses.dataclass
class TargetNamespaces:
    """A running set of namespaces; ``pid`` is its first process, as the agent sees it."""

    process: asyncio.subprocess.Process
    pid: int
    _bound: list[Path] = dataclasses.field(default_factory=list, init=False)

    @classmethod
    async def start(cls) -> TargetNamespaces:
        """Make the namespaces and wait until their first process is ready."""
        process = await asyncio.create_subprocess_exec(
            *_UNSHARE,
            "/bin/sh",
            "-c",
            _INSIDE,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert process.stdout is not None
        async with asyncio.timeout(10):
            line = await process.stdout.readline()
        assert line == b"ready\n", f"the namespaces did not start: {line!r}"
        return cls(process=process, pid=_only_child(process.pid))

    def namespace(self, kind: str) -> str:
        """The identity of one of the namespaces (``uts:[4026532175]``)."""
        return os.readlink(f"/proc/{self.pid}/ns/{kind}")

    def expose(self, root: Path) -> Path:
        """Bind the namespaces at ``root/proc/1/ns`` as a node's PID 1 shows them; return root.

        This is how a DaemonSet with the node's root at ``--host-root`` sees the
        node's first process. Undone by ``close()``.
        """
        directory = root / "proc" / "1" / "ns"
        directory.mkdir(parents=True, exist_ok=True)
        for kind, _ in KINDS:
            (directory / kind).touch()
            subprocess.run(
                ["mount", "--bind", f"/proc/{self.pid}/ns/{kind}", str(directory / kind)],
                check=True,
            )
            self._bound.append(directory / kind)
        return root

    async def close(self) -> None:
        """Undo the binds and kill the namespaces' processes."""
        self._unbind()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()
        # The namespaces' first process dies with its group, but may outlive unshare.
        await eventually(lambda: not _exists(f"/proc/{self.pid}/ns"), "the namespaces to end")

    def _unbind(self) -> None:
        for path in self._bound:
            subprocess.run(["umount", str(path)], check=False)
        self._bound.clear()


def _only_child(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def _exists(path: str) -> bool:
    return os.path.exists(path)
