"""Which container a task names, by Cloud Assistant's rules, and the namespaces to run in.

The runtime: an id without prefix or with ``docker://`` is Docker's, ``containerd://``
and ``cri-o://`` the CRI's (each CRI socket asked in turn); any other prefix is
``UnsupportedContainerRuntime``. A name alone is looked up in Docker first, then in
the CRI: the first runtime that knows the name is used. Of several containers of one
name, the running one is chosen (Kubernetes keeps a restarted container's last
exited attempt); several running is ``ContainerNameDuplicated``. A runtime whose
socket does not answer is skipped; when none answered, ``ContainerConnectFailed``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from agent.containers.cri import CriRuntime
from agent.containers.docker import DockerRuntime
from agent.containers.runtime import (
    DEFAULT_CRI_SOCKETS,
    DEFAULT_DOCKER_SOCKET,
    Container,
    ContainerRuntime,
    RuntimeUnavailable,
)
from agent.namespaces import Namespaces
from scheduler.domain.codes import ExecutionErrorCode
from scheduler.domain.containers import DOCKER, RUNTIMES_BY_PREFIX, split_container_id

_Found = TypeVar("_Found")


@dataclasses.dataclass(frozen=True)
class Entered:
    """Where a script runs in a container, and the environment it starts with."""

    namespaces: Namespaces
    environ: Mapping[str, str]
    """The container's first process's environment, as ``docker exec`` starts from the
    container's: its PATH, not the agent's (nor the agent's secrets)."""


class ContainerError(Exception):
    """The container cannot be entered: an ``Invalid`` result with this code and info."""

    def __init__(self, code: ExecutionErrorCode, info: str) -> None:
        super().__init__(info)
        self.code = code
        self.info = info


@dataclasses.dataclass(frozen=True)
class Locator:
    """Finds containers through the runtimes this agent was given."""

    docker: Sequence[ContainerRuntime]
    cri: Sequence[ContainerRuntime]
    proc: Path = Path("/proc")

    @classmethod
    def of_sockets(
        cls,
        docker_socket: Path = DEFAULT_DOCKER_SOCKET,
        cri_sockets: Sequence[Path] = DEFAULT_CRI_SOCKETS,
    ) -> Locator:
        """Docker at ``docker_socket`` and a CRI runtime at each of ``cri_sockets``."""
        return cls(
            docker=(DockerRuntime(docker_socket),),
            cri=tuple(CriRuntime(path) for path in cri_sockets),
        )

    async def enter(self, container_id: str, container_name: str) -> Entered:
        """The namespaces and environment of the running container named by id, name or both.

        Raises :class:`ContainerError`.
        """
        if container_id:
            container = await self._by_id(container_id, container_name)
            what = container_id
        else:
            container = await self._by_name(container_name)
            what = container_name
        if not container.running or container.pid <= 0:
            raise ContainerError(
                ExecutionErrorCode.CONTAINER_STATE_ABNORMAL, f"container {what} is not running"
            )
        namespaces = Namespaces.of_process(container.pid, self.proc)
        try:
            missing = namespaces.missing()
        except OSError as error:
            # Not even root may look at another process's namespaces without ptrace
            # rights over it (a confined or user-namespaced agent).
            raise ContainerError(
                ExecutionErrorCode.CONTAINER_STATE_ABNORMAL,
                f"container {what}: the agent may not look at its process {container.pid}'s "
                f"namespaces ({error.strerror}); the agent must run as root on the node, "
                "in its PID namespace",
            ) from error
        if missing:
            raise ContainerError(
                ExecutionErrorCode.CONTAINER_STATE_ABNORMAL,
                f"container {what}: its process {container.pid} is not in {self.proc} "
                "(it ended, or the agent does not share the node's PID namespace)",
            )
        return Entered(namespaces=namespaces, environ=_environ(self.proc, container.pid))

    async def _by_id(self, container_id: str, container_name: str) -> Container:
        prefix, bare = split_container_id(container_id)
        family = RUNTIMES_BY_PREFIX.get(prefix)
        if family is None:
            raise ContainerError(
                ExecutionErrorCode.UNSUPPORTED_CONTAINER_RUNTIME,
                f"container {container_id}: the runtime {prefix}:// is not one Kairos speaks "
                "(docker://, containerd://, cri-o://)",
            )
        runtimes = self.docker if family == DOCKER else self.cri
        _, container = await _first(runtimes, lambda runtime: runtime.by_id(bare), container_id)
        if container_name and container.name != container_name:
            raise ContainerError(
                ExecutionErrorCode.CONTAINER_NAME_AND_ID_NOT_MATCH,
                f"container {container_id} is named {container.name!r}, not {container_name!r}",
            )
        return container

    async def _by_name(self, name: str) -> Container:
        runtimes = [*self.docker, *self.cri]
        runtime, matches = await _first(runtimes, lambda runtime: runtime.by_name(name), name)
        running = [c for c in matches if c.running]
        if len(running) > 1:
            ids = ", ".join(c.id for c in running)
            raise ContainerError(
                ExecutionErrorCode.CONTAINER_NAME_DUPLICATED,
                f"container name {name} is used by {len(running)} running containers in "
                f"{runtime.where}: {ids}",
            )
        if not running:
            return matches[0]
        # A listing does not carry the pid; the container's own status does.
        _, container = await _first([runtime], lambda _: runtime.by_id(running[0].id), name)
        return container


async def _first(
    runtimes: Sequence[ContainerRuntime],
    question: Callable[[ContainerRuntime], Awaitable[_Found | None]],
    what: str,
) -> tuple[ContainerRuntime, _Found]:
    """The first runtime with an answer (a container, a non-empty list) and the answer.

    Raises :class:`ContainerError`: ``ContainerNotFound`` when the runtimes that answered
    know nothing of ``what``, ``ContainerConnectFailed`` when none answered.
    """
    failures = []
    answered = []
    for runtime in runtimes:
        try:
            answer = await question(runtime)
        except RuntimeUnavailable as error:
            failures.append(str(error))
            continue
        if answer:
            return runtime, answer
        answered.append(runtime.where)
    if not answered:
        raise ContainerError(
            ExecutionErrorCode.CONTAINER_CONNECT_FAILED,
            f"container {what}: no container runtime answered"
            + (f" ({'; '.join(failures)})" if failures else " (none configured)"),
        )
    raise ContainerError(
        ExecutionErrorCode.CONTAINER_NOT_FOUND,
        f"container {what} not found in {', '.join(answered)}",
    )


def _environ(proc: Path, pid: int) -> dict[str, str]:
    """The environment of process ``pid``; empty when it cannot be read (it just ended)."""
    try:
        raw = (proc / str(pid) / "environ").read_bytes()
    except OSError:
        return {}
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0"))
    return {name: value for name, separator, value in pairs if name and separator}
