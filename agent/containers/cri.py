"""The Kubernetes Container Runtime Interface (CRI v1) over gRPC: containerd, CRI-O.

``RuntimeService.ContainerStatus`` with ``verbose`` finds a container by id; its
``info["info"]`` is the runtime's JSON, whose ``"pid"`` is the container's first
process. ``ListContainers`` finds containers by name (``metadata.name``, the name
the pod spec gives). Only these two calls are declared (proto/kairos/cri/api.proto).
"""

from __future__ import annotations

import json
from pathlib import Path

import grpc

from agent.containers.runtime import LOOKUP_TIMEOUT, Container, RuntimeUnavailable
from kairos.cri import api_pb2, api_pb2_grpc


class CriRuntime:
    """A CRI runtime at a unix socket."""

    def __init__(self, socket_path: Path) -> None:
        self._socket_path = socket_path

    @property
    def where(self) -> str:
        """The CRI and its socket."""
        return f"the CRI at {self._socket_path}"

    async def by_id(self, container_id: str) -> Container | None:
        """The status of the container of this id, with the runtime's verbose info."""
        request = api_pb2.ContainerStatusRequest(container_id=container_id, verbose=True)
        try:
            async with self._channel() as channel:
                stub = api_pb2_grpc.RuntimeServiceStub(channel)
                response = await stub.ContainerStatus(request, timeout=LOOKUP_TIMEOUT)
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise self._unavailable(error) from error
        status = response.status
        return Container(
            id=status.id,
            name=status.metadata.name,
            running=status.state == api_pb2.CONTAINER_RUNNING,
            pid=_pid(response.info.get("info", "")),
        )

    async def by_name(self, name: str) -> list[Container]:
        """Every container of this name, exited ones too (Kubernetes keeps the last)."""
        try:
            async with self._channel() as channel:
                stub = api_pb2_grpc.RuntimeServiceStub(channel)
                response = await stub.ListContainers(
                    api_pb2.ListContainersRequest(), timeout=LOOKUP_TIMEOUT
                )
        except grpc.aio.AioRpcError as error:
            raise self._unavailable(error) from error
        return [
            Container(
                id=c.id,
                name=name,
                running=c.state == api_pb2.CONTAINER_RUNNING,
                pid=0,
            )
            for c in response.containers
            if c.metadata.name == name
        ]

    def _channel(self) -> grpc.aio.Channel:
        if not self._socket_path.exists():
            # gRPC would report a missing socket only after its connection back-off.
            raise RuntimeUnavailable(f"{self.where}: no such socket")
        return grpc.aio.insecure_channel(f"unix:{self._socket_path}")

    def _unavailable(self, error: grpc.aio.AioRpcError) -> RuntimeUnavailable:
        return RuntimeUnavailable(f"{self.where}: {error.code().name}: {error.details()}")


def _pid(info: str) -> int:
    """The ``pid`` of the runtime's verbose JSON (containerd's and CRI-O's), 0 if none."""
    try:
        found = json.loads(info).get("pid", 0) if info else 0
        return int(found)
    except (ValueError, TypeError, AttributeError):
        return 0
