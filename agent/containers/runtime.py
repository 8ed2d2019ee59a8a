"""The one interface between the agent and a container runtime."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Protocol

LOOKUP_TIMEOUT = 10.0  # seconds one question to a runtime may take
# Where the runtimes listen by default (``kairos agent --docker-socket``, ``--cri-socket``):
# Docker's, then containerd's and CRI-O's CRI sockets, tried in this order.
DEFAULT_DOCKER_SOCKET = Path("/var/run/docker.sock")
DEFAULT_CRI_SOCKETS = (Path("/run/containerd/containerd.sock"), Path("/var/run/crio/crio.sock"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Container:
    """A container as its runtime describes it."""

    id: str
    name: str
    running: bool
    """Running and not paused or restarting: a script can join it."""
    pid: int
    """Its first process as the node's /proc shows it; 0 when the answer did not say
    (a listing) or the container has no process."""


class RuntimeUnavailable(Exception):
    """The runtime's socket could not be reached, or its answer made no sense."""


class ContainerRuntime(Protocol):
    """A container runtime the agent can ask about its containers."""

    @property
    def where(self) -> str:
        """What it is and where, for messages (``Docker at /var/run/docker.sock``)."""

    async def by_id(self, container_id: str) -> Container | None:
        """The container of this id (with its pid), or None when there is none.

        Raises :class:`RuntimeUnavailable`.
        """

    async def by_name(self, name: str) -> list[Container]:
        """The containers of exactly this name (their pid may be 0).

        Raises :class:`RuntimeUnavailable`.
        """
